// What `repo show` reads about one repository: its row, current package count and size, whether latest is published.
import type pg from "pg";

export interface RepositorySummary {
  id: number;
  packageCount: number;
  totalBytes: number;
  /** The index last synced and the one latest was published from (equal when latest is current). */
  indexChecksum: string | null;
  publishedChecksum: string | null;
}

/** null when the repository was never synced nor published (no row). */
export async function repositorySummary(q: pg.Pool | pg.ClientBase, repoId: string): Promise<RepositorySummary | null> {
  const r = await q.query(
    `SELECT r.id, r.index_checksum, r.published_checksum,
            (SELECT count(*) FROM chantal.repository_packages rp WHERE rp.repository_id = r.id)::bigint AS package_count,
            (SELECT coalesce(sum(p.size), 0) FROM chantal.repository_packages rp JOIN chantal.packages p ON p.id = rp.package_id WHERE rp.repository_id = r.id)::bigint AS total_bytes
     FROM chantal.repositories r WHERE r.repo_id = $1`,
    [repoId],
  );
  const row = r.rows[0];
  if (!row) return null;
  return {
    id: row.id,
    packageCount: Number(row.package_count),
    totalBytes: Number(row.total_bytes),
    indexChecksum: row.index_checksum,
    publishedChecksum: row.published_checksum,
  };
}
