// Every known repository's freshness: the status rows, upstream's timestamps from the pool and the policy of its configuration.
import type { Config } from "../config/schema.js";
import { type RepositoryStatusRow, repositoryStatusRows } from "../db/repositories.js";
import type { Queryable } from "../db/orm.js";
import type { BlobStore } from "../storage/blob-store.js";
import { type Freshness, freshnessPolicy, freshnessState } from "./state.js";
import { upstreamTimes, type UpstreamTimes } from "./upstream.js";

export interface RepositoryFreshness extends Freshness, UpstreamTimes {
  repoId: string;
  inConfig: boolean;
  row: RepositoryStatusRow;
}

/** The JSON shape `repo list --json` and `repo show --json` print under "freshness". */
export function freshnessJson(f: RepositoryFreshness | undefined) {
  if (!f)
    return {
      state: "stale",
      reason: "never synced successfully",
      last_success_at: null,
      upstream_timestamp: null,
      valid_until: null,
      packages_added_last_run: null,
    };
  return {
    state: f.state,
    reason: f.reason,
    last_success_at: f.row.lastSuccessAt,
    upstream_timestamp: f.upstreamTimestamp,
    revision: f.revision,
    valid_until: f.validUntil,
    packages_added_last_run: f.row.lastRun?.packagesAdded ?? null,
  };
}

export async function repositoriesFreshness(
  q: Queryable,
  blobs: BlobStore,
  config: Pick<Config, "freshness" | "repositories">,
  now: Date,
  opts: { repoId?: string; warn?: (message: string) => void } = {},
): Promise<RepositoryFreshness[]> {
  const rows = (await repositoryStatusRows(q)).filter((r) => opts.repoId === undefined || r.repoId === opts.repoId);
  const out: RepositoryFreshness[] = [];
  for (const row of rows) {
    const repo = config.repositories.find((r) => r.id === row.repoId);
    const times = await upstreamTimes(blobs, row.repoId, row.indexBlobs, opts.warn);
    const f = freshnessState(
      { lastRunStatus: row.lastRun?.status ?? null, lastSuccessAt: row.lastSuccessAt, validUntil: times.validUntil },
      freshnessPolicy(config, repo),
      now,
    );
    out.push({ ...f, ...times, repoId: row.repoId, inConfig: repo !== undefined, row });
  }
  return out;
}
