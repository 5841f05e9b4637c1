// Exit codes of handler results (DESIGN.md "Conventions"), one mapping for every handler.
import { ExitCode } from "../core/errors.js";

export type HandlerStatus = "success" | "noop" | "dry-run" | "skipped-locked" | "failed" | "interrupted";

export function statusExitCode(status: HandlerStatus, signal?: NodeJS.Signals): number {
  switch (status) {
    case "success":
    case "noop":
    case "dry-run":
      return ExitCode.ok;
    case "skipped-locked":
      return ExitCode.locked;
    case "interrupted":
      return signal === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm;
    default:
      return ExitCode.failed;
  }
}
