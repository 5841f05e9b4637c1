// Repository rows: the configuration is the source of truth; the table gives each repository a stable numeric id.
// Every write of a row (its creation, each column's later state, its deletion) is a named function here and nowhere else.
import { eq, inArray, sql } from "./drizzle.js";
import type pg from "pg";
import type { RepositoryConfig } from "../config/schema.js";
import { orm, type Queryable } from "./orm.js";
import { repositories } from "./schema.js";

export interface RepositoryRow {
  id: number;
  repoId: string;
  type: "rpm" | "apt";
  upstreamUrl: string;
  indexChecksum: string | null;
}

const rowColumns = {
  id: repositories.id,
  repoId: repositories.repoId,
  type: repositories.type,
  upstreamUrl: repositories.upstreamUrl,
  indexChecksum: repositories.indexChecksum,
};

/** Insert or refresh the row for a configured repository; returns its numeric id (the lock key). */
export async function ensureRepository(q: Queryable, repo: RepositoryConfig): Promise<RepositoryRow> {
  const [row] = await orm(q, (db) =>
    db
      .insert(repositories)
      .values({ repoId: repo.id, type: repo.type, upstreamUrl: repo.upstream_url })
      .onConflictDoUpdate({
        target: repositories.repoId,
        set: {
          type: sql`excluded.type`,
          upstreamUrl: sql`excluded.upstream_url`,
          updatedAt: sql`CASE WHEN ${repositories.upstreamUrl} IS DISTINCT FROM excluded.upstream_url THEN now() ELSE ${repositories.updatedAt} END`,
        },
      })
      .returning(rowColumns),
  );
  return row!;
}

/** The row of a repository by its id, configured or not; null when the database does not know it. */
export async function findRepositoryRow(q: Queryable, repoId: string): Promise<RepositoryRow | null> {
  const [row] = await orm(q, (db) => db.select(rowColumns).from(repositories).where(eq(repositories.repoId, repoId)));
  return row ?? null;
}

/** What was last synced and what `latest` was published from (equal when latest is current); null without a row. */
export async function repositoryChecksums(
  q: Queryable,
  repositoryId: number,
): Promise<{ indexChecksum: string | null; publishedChecksum: string | null } | null> {
  const [row] = await orm(q, (db) =>
    db
      .select({ indexChecksum: repositories.indexChecksum, publishedChecksum: repositories.publishedChecksum })
      .from(repositories)
      .where(eq(repositories.id, repositoryId)),
  );
  return row ?? null;
}

/** A sync committed the repository's new set from the upstream index `indexChecksum` (inside the commit's transaction). */
export async function recordIndexChecksum(client: pg.ClientBase, repositoryId: number, indexChecksum: string): Promise<void> {
  await orm(client, (db) =>
    db.update(repositories).set({ indexChecksum, lastSyncedAt: sql`now()`, updatedAt: sql`now()` }).where(eq(repositories.id, repositoryId)),
  );
}

/** `latest` is now the tree of the index `indexChecksum`. */
export async function recordPublished(q: Queryable, repositoryId: number, indexChecksum: string): Promise<void> {
  await orm(q, (db) => db.update(repositories).set({ publishedChecksum: indexChecksum }).where(eq(repositories.id, repositoryId)));
}

/** The pool lacks blobs of these repositories: their next sync re-reads upstream instead of stopping at an unchanged index. */
export async function forgetIndexChecksums(q: Queryable, repositoryIds: readonly number[]): Promise<void> {
  if (repositoryIds.length === 0) return;
  await orm(q, (db) =>
    db
      .update(repositories)
      .set({ indexChecksum: null })
      .where(inArray(repositories.id, [...repositoryIds])),
  );
}

/** After a restore, for every row: neither the pool nor the published trees were restored, so each repository re-syncs and republishes. */
export async function forgetAllChecksums(client: pg.ClientBase): Promise<void> {
  await orm(client, (db) => db.update(repositories).set({ indexChecksum: null, publishedChecksum: null }));
}

/** Forget what was synced and published (the row stays for its snapshots): a sync after the repository returns to the YAML starts afresh. */
export async function forgetSyncedState(q: Queryable, repositoryId: number): Promise<void> {
  await orm(q, (db) =>
    db
      .update(repositories)
      .set({ indexChecksum: null, publishedChecksum: null, lastSyncedAt: null, updatedAt: sql`now()` })
      .where(eq(repositories.id, repositoryId)),
  );
}

/** Delete the row itself; its sets, runs and snapshots are deleted first by their own modules. */
export async function deleteRepositoryRow(q: Queryable, repositoryId: number): Promise<void> {
  await orm(q, (db) => db.delete(repositories).where(eq(repositories.id, repositoryId)));
}

export interface LastRun {
  repoId: string;
  type: string;
  upstreamUrl: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  status: string | null;
  trigger: string | null;
  lastSuccessAt: Date | null;
}

/** Every known repository with its most recent run and its most recent successful run (a report: SQL in plain sight). */
export async function repositoriesWithLastRun(q: Queryable): Promise<LastRun[]> {
  const r = await q.query(`
    SELECT r.repo_id, r.type, r.upstream_url, last.started_at, last.finished_at, last.status, last.trigger,
           (SELECT max(finished_at) FROM chantal.sync_runs s WHERE s.repository_id = r.id AND s.status IN ('success', 'noop')) AS last_success_at
    FROM chantal.repositories r
    LEFT JOIN LATERAL (
      SELECT started_at, finished_at, status, trigger FROM chantal.sync_runs s
      WHERE s.repository_id = r.id ORDER BY started_at DESC, id DESC LIMIT 1
    ) last ON true
    ORDER BY r.repo_id`);
  return r.rows.map((row) => ({
    repoId: row.repo_id,
    type: row.type,
    upstreamUrl: row.upstream_url,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    status: row.status,
    trigger: row.trigger,
    lastSuccessAt: row.last_success_at,
  }));
}

export interface RepositoryStatusRow {
  id: number;
  repoId: string;
  type: "rpm" | "apt";
  lastSyncedAt: Date | null;
  /** The most recent finished run (a running one is not an outcome yet). */
  lastRun: {
    status: string;
    startedAt: Date;
    finishedAt: Date;
    packagesDownloaded: number;
    packagesAdded: number;
    packagesRemoved: number;
    bytesDownloaded: number;
  } | null;
  lastSuccessAt: Date | null;
  packageCount: number;
  /** Where the current set keeps upstream's own index (repodata/repomd.xml, <dist>/InRelease or Release), for its timestamps. */
  indexBlobs: { path: string; sha256: string }[];
}

/** Per repository: the last finished run, the last success, the package count and the index blobs (freshness and metrics; one report query). */
export async function repositoryStatusRows(q: Queryable): Promise<RepositoryStatusRow[]> {
  const r = await q.query(`
    SELECT r.id, r.repo_id, r.type, r.last_synced_at,
           last.status, last.started_at, last.finished_at, last.packages_downloaded, last.packages_added, last.packages_removed, last.bytes_downloaded,
           (SELECT max(finished_at) FROM chantal.sync_runs s WHERE s.repository_id = r.id AND s.status IN ('success', 'noop')) AS last_success_at,
           (SELECT count(*) FROM chantal.repository_packages rp WHERE rp.repository_id = r.id)::bigint AS package_count,
           COALESCE((SELECT json_agg(json_build_object('path', rm.path, 'sha256', m.sha256) ORDER BY rm.path)
                     FROM chantal.repository_metadata rm JOIN chantal.metadata_files m ON m.id = rm.metadata_file_id
                     WHERE rm.repository_id = r.id
                       AND (rm.path = 'repodata/repomd.xml' OR rm.path LIKE '%/InRelease' OR rm.path LIKE '%/Release')), '[]') AS index_blobs
    FROM chantal.repositories r
    LEFT JOIN LATERAL (
      SELECT * FROM chantal.sync_runs s
      WHERE s.repository_id = r.id AND s.status <> 'running' AND s.finished_at IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT 1
    ) last ON true
    ORDER BY r.repo_id`);
  return r.rows.map((row) => ({
    id: row.id,
    repoId: row.repo_id,
    type: row.type,
    lastSyncedAt: row.last_synced_at,
    lastRun:
      row.status == null
        ? null
        : {
            status: row.status,
            startedAt: row.started_at,
            finishedAt: row.finished_at,
            packagesDownloaded: Number(row.packages_downloaded),
            packagesAdded: Number(row.packages_added),
            packagesRemoved: Number(row.packages_removed),
            bytesDownloaded: Number(row.bytes_downloaded),
          },
    lastSuccessAt: row.last_success_at,
    packageCount: Number(row.package_count),
    indexBlobs: row.index_blobs,
  }));
}
