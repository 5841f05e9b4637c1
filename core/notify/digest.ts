// The daily digest: every repository's freshness state and what its runs of the last day changed (one mail).
import { hostname } from "node:os";
import type { Config } from "../config/schema.js";
import type { Queryable } from "../db/orm.js";
import { runSummariesBetween, type RunSummary } from "../db/sync-runs.js";
import { repositoriesFreshness } from "../freshness/report.js";
import type { FreshnessState } from "../freshness/state.js";
import type { BlobStore } from "../storage/blob-store.js";

export interface DigestRepository {
  repo_id: string;
  state: FreshnessState;
  reason: string;
  last_success_at: string | null;
  packages: number;
  runs: { total: number; success: number; noop: number; failed: number; interrupted: number };
  packages_added: number;
  packages_removed: number;
  snapshots: string[];
  last_error: string | null;
}

export interface DigestReport {
  host: string;
  since: string;
  until: string;
  repositories: DigestRepository[];
  /** One line on backups, when known. */
  backups?: string;
}

const NO_RUNS: Omit<RunSummary, "repoId"> = {
  total: 0,
  success: 0,
  noop: 0,
  failed: 0,
  interrupted: 0,
  packagesAdded: 0,
  packagesRemoved: 0,
  snapshots: [],
  lastError: null,
};

/** Pure: the digest from the freshness rows and the run summaries of the window; only configured repositories. */
export function digestReport(
  freshness: readonly { repoId: string; state: FreshnessState; reason: string; inConfig: boolean; row: { lastSuccessAt: Date | null; packageCount: number } }[],
  runs: ReadonlyMap<string, RunSummary>,
  configured: readonly string[],
  window: { since: Date; until: Date },
  host = hostname(),
): DigestReport {
  const byId = new Map(freshness.map((f) => [f.repoId, f]));
  const repositories = configured.map((repoId): DigestRepository => {
    const f = byId.get(repoId);
    const r = runs.get(repoId) ?? { repoId, ...NO_RUNS };
    return {
      repo_id: repoId,
      state: f?.state ?? "stale",
      reason: f?.reason ?? "never synced successfully",
      last_success_at: f?.row.lastSuccessAt?.toISOString() ?? null,
      packages: f?.row.packageCount ?? 0,
      runs: { total: r.total, success: r.success, noop: r.noop, failed: r.failed, interrupted: r.interrupted },
      packages_added: r.packagesAdded,
      packages_removed: r.packagesRemoved,
      snapshots: r.snapshots,
      last_error: r.lastError,
    };
  });
  return { host, since: window.since.toISOString(), until: window.until.toISOString(), repositories };
}

/** The digest of the 24 hours before `now`, read from the database and the pool. */
export async function buildDigest(
  q: Queryable,
  blobs: BlobStore,
  config: Pick<Config, "freshness" | "repositories">,
  now: Date,
  warn?: (message: string) => void,
): Promise<DigestReport> {
  const since = new Date(now.getTime() - 86_400_000);
  const freshness = await repositoriesFreshness(q, blobs, config, now, warn ? { warn } : {});
  const runs = await runSummariesBetween(q, since, now);
  return digestReport(
    freshness,
    runs,
    config.repositories.map((r) => r.id),
    { since, until: now },
  );
}
