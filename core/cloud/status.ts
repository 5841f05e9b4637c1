// `cloud status`'s view of the fleet: the tasks' sync runs of a window, per repository (last run, last success, failures), from the database the tasks record into. Pure.
import type { SyncRunRow } from "../db/sync-runs.js";

export interface RepositoryTaskStatus {
  repoId: string;
  runs: number;
  failures: number;
  lastRun: SyncRunRow;
  lastSuccess?: Date;
  /** The newest failure's message, when the newest run failed. */
  lastError?: string;
  /** A run still "running" after `stuckAfterMs`: its task was most likely stopped without a chance to record it. */
  stuck: boolean;
}

export interface FleetStatus {
  total: number;
  byStatus: Record<string, number>;
  repositories: RepositoryTaskStatus[];
}

const SUCCEEDED = new Set(["success", "noop"]);
const FAILED = new Set(["failed", "interrupted"]);

/** Runs newest first (as recentRuns returns them); repositories with a failing or stuck newest run first, then by id. */
export function fleetStatus(runs: readonly SyncRunRow[], now: Date, stuckAfterMs: number): FleetStatus {
  const byStatus: Record<string, number> = {};
  const repos = new Map<string, RepositoryTaskStatus>();
  for (const r of runs) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    let s = repos.get(r.repoId);
    if (!s) {
      s = {
        repoId: r.repoId,
        runs: 0,
        failures: 0,
        lastRun: r,
        stuck: r.status === "running" && now.getTime() - r.startedAt.getTime() > stuckAfterMs,
        ...(FAILED.has(r.status) && r.error ? { lastError: r.error } : {}),
      };
      repos.set(r.repoId, s);
    }
    s.runs++;
    if (FAILED.has(r.status)) s.failures++;
    if (SUCCEEDED.has(r.status) && s.lastSuccess === undefined) s.lastSuccess = r.finishedAt ?? r.startedAt;
  }
  const bad = (s: RepositoryTaskStatus) => (FAILED.has(s.lastRun.status) || s.stuck ? 0 : 1);
  return {
    total: runs.length,
    byStatus,
    repositories: [...repos.values()].sort((a, b) => bad(a) - bad(b) || a.repoId.localeCompare(b.repoId)),
  };
}
