// Typed errors: core/ throws these; entry points map them to exit codes (DESIGN.md "Conventions").

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** A bundle (export) that is tampered, truncated, incomplete or of a newer format (EX_DATAERR). */
  dataError: 65,
  locked: 75,
  /** The same EX_TEMPFAIL as locked (try again later): `repo sync --respect-windows` outside the repository's maintenance window. */
  outsideWindow: 75,
  config: 78,
  sigint: 130,
  sigterm: 143,
} as const;

export class ChantalError extends Error {
  readonly exitCode: number = ExitCode.failed;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface ConfigIssue {
  /** File the problem is in, relative to the config directory where possible. */
  file: string;
  /** Key path such as `repositories[0].schedule.cron`; empty for the whole file. */
  path: string;
  message: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  return issue.path ? `${issue.file}: ${issue.path}: ${issue.message}` : `${issue.file}: ${issue.message}`;
}

export class ConfigError extends ChantalError {
  override readonly exitCode = ExitCode.config;
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join("\n"));
  }
}

export class UsageError extends ChantalError {
  override readonly exitCode = ExitCode.usage;
}

export class DatabaseError extends ChantalError {}

export class LockBusyError extends ChantalError {
  override readonly exitCode = ExitCode.locked;
}

export class LockLostError extends ChantalError {}

/** `repo sync --respect-windows` while scheduler.windows keeps the repository's syncs from starting. */
export class OutsideWindowError extends ChantalError {
  override readonly exitCode = ExitCode.outsideWindow;
}

export class AbortedError extends ChantalError {
  override readonly exitCode: number = ExitCode.sigterm;
  constructor(
    message = "interrupted",
    readonly signalName: "SIGINT" | "SIGTERM" | "abort" = "abort",
  ) {
    super(message);
    this.exitCode = signalName === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** When work was aborted, the abort's reason (SIGTERM, a lost lock) explains a failure better than the error it caused. */
export function failureCause(err: unknown, signal: AbortSignal): unknown {
  const isOwnFailure = err instanceof ChantalError && !(err instanceof AbortedError);
  return signal.aborted && !isOwnFailure ? (signal.reason ?? err) : err;
}
