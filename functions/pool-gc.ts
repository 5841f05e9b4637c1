// The pool gc handler for the scheduler daemon (pool.gc.schedule) and the container entry (`entry pool-gc`): runPoolGc
// waiting for running syncs, its outcome as a status the daemon records and an exit code for the container.
import type { Config } from "../core/config/schema.js";
import type { Database } from "../core/db/client.js";
import { AbortedError, errorMessage, LockBusyError } from "../core/errors.js";
import { runPoolGc, type PoolGcReport } from "../core/lifecycle/gc.js";

/** A scheduled gc waits this long for running syncs, backups and removals to finish before it gives up for this fire. */
export const SCHEDULED_GC_WAIT_SECONDS = 3600;

export interface PoolGcOutcome {
  status: "success" | "skipped-locked" | "failed" | "interrupted";
  error?: string;
  report?: PoolGcReport;
}

export async function runScheduledPoolGc(config: Config, database: Database, signal: AbortSignal): Promise<PoolGcOutcome> {
  try {
    const report = await runPoolGc({ waitSeconds: SCHEDULED_GC_WAIT_SECONDS }, { config, database, signal });
    return { status: "success", report };
  } catch (err) {
    if (err instanceof LockBusyError) return { status: "skipped-locked", error: err.message };
    if (err instanceof AbortedError || signal.aborted) return { status: "interrupted", error: errorMessage(err) };
    return { status: "failed", error: errorMessage(err) };
  }
}

/** The container's exit code: 0 done, 75 busy (try at the next fire), 1 failed, 130/143 by signal. */
export function poolGcExitCode(o: PoolGcOutcome, signalName: NodeJS.Signals | undefined): number {
  if (o.status === "success") return 0;
  if (o.status === "skipped-locked") return 75;
  if (o.status === "interrupted") return signalName === "SIGTERM" ? 143 : 130;
  return 1;
}
