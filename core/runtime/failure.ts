// A thrown error as what the user is told: its message lines (redacted) and the exit code (core/errors.ts ExitCode).
import { ChantalError, ConfigError, ExitCode, errorMessage, formatConfigIssue } from "../errors.js";
import { redactText } from "../redact.js";

export interface Failure {
  /** One line per configuration issue, else the one redacted message. */
  lines: string[];
  exitCode: number;
  /** Not one of our typed errors: worth its stack in a debug log. */
  unexpected: boolean;
}

export function describeFailure(err: unknown): Failure {
  if (err instanceof ConfigError) return { lines: err.issues.map(formatConfigIssue), exitCode: err.exitCode, unexpected: false };
  if (err instanceof ChantalError) return { lines: [redactText(err.message)], exitCode: err.exitCode, unexpected: false };
  return { lines: [redactText(errorMessage(err))], exitCode: ExitCode.failed, unexpected: true };
}
