// The sync handler: one shape for the CLI, the local scheduler, a Fargate task and CI (DESIGN.md "The handler contract").
import { syncRepository, type SyncEnv, type SyncRequest, type SyncResult } from "./sync-repository.js";
import { ExitCode } from "../core/errors.js";
import { statusExitCode } from "./exit-code.js";

export type { SyncRequest, SyncResult };

export function runSync(req: SyncRequest, ctx: SyncEnv): Promise<SyncResult> {
  return syncRepository(req, ctx);
}

/** Exit code of one result (DESIGN.md "Conventions"). */
export function syncExitCode(result: Pick<SyncResult, "status">, signal?: NodeJS.Signals): number {
  return statusExitCode(result.status, signal);
}

/** One exit code for several results: interrupted beats failed beats skipped beats ok. */
export function combinedExitCode(codes: number[]): number {
  if (codes.length === 0) return ExitCode.ok;
  return codes.find((c) => c >= 128) ?? codes.find((c) => c === ExitCode.failed) ?? codes.find((c) => c === ExitCode.locked) ?? ExitCode.ok;
}
