// storage usage: per repository the bytes of its current set, of its snapshots only, and those shared with other
// repositories (each blob counted once per repository), plus the pool's total, its free space and what pool gc would free.
import { statfs } from "node:fs/promises";
import type pg from "pg";
import type { Config } from "../config/schema.js";
import { blobStoreOf } from "./backend.js";
import { collectPoolGarbage, type ByteCount } from "./gc.js";

export interface RepositoryUsage {
  repoId: string;
  /** Distinct blobs of the current package set and metadata. */
  current: ByteCount;
  /** Distinct blobs that only its snapshots reference (not its current set). */
  snapshotsOnly: ByteCount;
  /** Of its blobs (current or snapshots), those another repository references too. */
  shared: ByteCount;
  /** Every distinct blob it references. */
  total: ByteCount;
}

export interface StorageUsage {
  repositories: RepositoryUsage[];
  /** Distinct blobs any repository references (shared ones once). */
  referenced: ByteCount;
  /** What the pool holds. */
  pool: ByteCount & { location: string };
  /** Free bytes on the pool's filesystem (for non-root users); null on S3. */
  freeBytes: number | null;
  /** What `pool gc` would delete now (orphans older than the protection time). */
  reclaimable: ByteCount;
}

const USAGE_SQL = `
  WITH refs AS (
    SELECT rp.repository_id AS repo, 'p' AS kind, rp.package_id AS blob, true AS current FROM chantal.repository_packages rp
    UNION ALL SELECT s.repository_id, 'p', sp.package_id, false FROM chantal.snapshot_packages sp JOIN chantal.snapshots s ON s.id = sp.snapshot_id
    UNION ALL SELECT rm.repository_id, 'm', rm.metadata_file_id, true FROM chantal.repository_metadata rm
    UNION ALL SELECT s.repository_id, 'm', sm.metadata_file_id, false FROM chantal.snapshot_metadata sm JOIN chantal.snapshots s ON s.id = sm.snapshot_id
  ),
  per AS (SELECT repo, kind, blob, bool_or(current) AS current FROM refs GROUP BY 1, 2, 3),
  shared AS (SELECT kind, blob FROM per GROUP BY 1, 2 HAVING count(*) > 1),
  sized AS (
    SELECT per.repo, per.current, COALESCE(p.size, m.size, 0) AS size, sh.blob IS NOT NULL AS shared FROM per
    LEFT JOIN chantal.packages p ON per.kind = 'p' AND p.id = per.blob
    LEFT JOIN chantal.metadata_files m ON per.kind = 'm' AND m.id = per.blob
    LEFT JOIN shared sh ON sh.kind = per.kind AND sh.blob = per.blob
  )
  SELECT r.repo_id,
    count(sized.repo) FILTER (WHERE sized.current)::int AS current_blobs, COALESCE(sum(size) FILTER (WHERE sized.current), 0)::bigint AS current_bytes,
    count(sized.repo) FILTER (WHERE NOT sized.current)::int AS snap_blobs, COALESCE(sum(size) FILTER (WHERE NOT sized.current), 0)::bigint AS snap_bytes,
    count(sized.repo) FILTER (WHERE sized.shared)::int AS shared_blobs, COALESCE(sum(size) FILTER (WHERE sized.shared), 0)::bigint AS shared_bytes,
    count(sized.repo)::int AS total_blobs, COALESCE(sum(size), 0)::bigint AS total_bytes
  FROM chantal.repositories r LEFT JOIN sized ON sized.repo = r.id
  WHERE $1::text IS NULL OR r.repo_id = $1
  GROUP BY r.repo_id ORDER BY r.repo_id`;

const REFERENCED_SQL = `
  SELECT count(*)::int AS blobs, COALESCE(sum(size), 0)::bigint AS bytes FROM (
    SELECT p.size FROM chantal.packages p WHERE EXISTS (SELECT 1 FROM chantal.repository_packages rp WHERE rp.package_id = p.id)
      OR EXISTS (SELECT 1 FROM chantal.snapshot_packages sp WHERE sp.package_id = p.id)
    UNION ALL
    SELECT m.size FROM chantal.metadata_files m WHERE EXISTS (SELECT 1 FROM chantal.repository_metadata rm WHERE rm.metadata_file_id = m.id)
      OR EXISTS (SELECT 1 FROM chantal.snapshot_metadata sm WHERE sm.metadata_file_id = m.id)
  ) x`;

const count = (blobs: unknown, bytes: unknown): ByteCount => ({ blobs: Number(blobs), bytes: Number(bytes) });

export async function storageUsage(db: pg.Pool, config: Config, opts: { repoId?: string; protectMs: number; signal?: AbortSignal }): Promise<StorageUsage> {
  const rows = (await db.query(USAGE_SQL, [opts.repoId ?? null])).rows;
  const referenced = (await db.query(REFERENCED_SQL)).rows[0];
  const blobs = blobStoreOf(config);
  // The dry run of pool gc walks the pool prefix by prefix: the pool's size and the reclaimable bytes in one pass.
  const gc = await collectPoolGarbage(db, blobs, { dryRun: true, protectMs: opts.protectMs, ...(opts.signal ? { signal: opts.signal } : {}) });
  let freeBytes: number | null = null;
  if (config.storage.backend !== "s3") {
    const fs = await statfs(config.storage.pool_path!).catch(() => undefined);
    if (fs) freeBytes = fs.bavail * fs.bsize;
  }
  return {
    repositories: rows.map((r) => ({
      repoId: r.repo_id as string,
      current: count(r.current_blobs, r.current_bytes),
      snapshotsOnly: count(r.snap_blobs, r.snap_bytes),
      shared: count(r.shared_blobs, r.shared_bytes),
      total: count(r.total_blobs, r.total_bytes),
    })),
    referenced: count(referenced.blobs, referenced.bytes),
    pool: { ...gc.scanned, location: blobs.location },
    freeBytes,
    reclaimable: gc.freed,
  };
}
