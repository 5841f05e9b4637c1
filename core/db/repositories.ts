// Repository rows: the configuration is the source of truth; the table gives each repository a stable numeric id.
import type pg from "pg";
import type { RepositoryConfig } from "../config/schema.js";

export interface RepositoryRow {
  id: number;
  repoId: string;
  type: "rpm" | "apt";
  upstreamUrl: string;
  indexChecksum: string | null;
}

/** Insert or refresh the row for a configured repository; returns its numeric id (the lock key). */
export async function ensureRepository(q: pg.Pool | pg.ClientBase, repo: RepositoryConfig): Promise<RepositoryRow> {
  const r = await q.query(
    `INSERT INTO chantal.repositories (repo_id, type, upstream_url) VALUES ($1, $2, $3)
     ON CONFLICT (repo_id) DO UPDATE SET type = EXCLUDED.type, upstream_url = EXCLUDED.upstream_url,
       updated_at = CASE WHEN chantal.repositories.upstream_url IS DISTINCT FROM EXCLUDED.upstream_url THEN now() ELSE chantal.repositories.updated_at END
     RETURNING id, repo_id, type, upstream_url, index_checksum`,
    [repo.id, repo.type, repo.upstream_url],
  );
  const row = r.rows[0];
  return { id: row.id, repoId: row.repo_id, type: row.type, upstreamUrl: row.upstream_url, indexChecksum: row.index_checksum };
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

/** Every known repository with its most recent run and its most recent successful run. */
export async function repositoriesWithLastRun(q: pg.Pool | pg.ClientBase): Promise<LastRun[]> {
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

/** The row of a repository by its id, configured or not; null when the database does not know it. */
export async function findRepositoryRow(q: pg.Pool | pg.ClientBase, repoId: string): Promise<RepositoryRow | null> {
  const r = await q.query(`SELECT id, repo_id, type, upstream_url, index_checksum FROM chantal.repositories WHERE repo_id = $1`, [repoId]);
  const row = r.rows[0];
  return row ? { id: row.id, repoId: row.repo_id, type: row.type, upstreamUrl: row.upstream_url, indexChecksum: row.index_checksum } : null;
}

/** Forget what was synced and published (the row stays for its snapshots): a sync after the repository returns to the YAML starts afresh. */
export async function forgetSyncedState(q: pg.Pool | pg.ClientBase, repositoryId: number): Promise<void> {
  await q.query(`UPDATE chantal.repositories SET index_checksum = NULL, published_checksum = NULL, last_synced_at = NULL, updated_at = now() WHERE id = $1`, [repositoryId]);
}

/** Delete the row itself; its sets, runs and snapshots are deleted first by their own modules. */
export async function deleteRepositoryRow(q: pg.Pool | pg.ClientBase, repositoryId: number): Promise<void> {
  await q.query(`DELETE FROM chantal.repositories WHERE id = $1`, [repositoryId]);
}
