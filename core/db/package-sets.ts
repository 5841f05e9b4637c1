// Bulk writes of a sync: packages and metadata files by sha256, and the repository's current sets, with explicit SQL.
import type pg from "pg";

export interface PackageRecord {
  sha256: string;
  size: number;
  type: "rpm" | "deb" | "dsc" | "file";
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  /** Upstream's declared checksum as `algo:value`. */
  checksum: string;
  metadata?: Record<string, unknown>;
}

const BATCH = 5_000;

function* batches<T>(items: readonly T[], size = BATCH): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Insert packages that are new (by sha256); returns sha256 -> id for all of them. */
export async function upsertPackages(q: pg.ClientBase | pg.Pool, pkgs: readonly PackageRecord[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const b of batches(pkgs)) {
    const r = await q.query(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[])
           AS t(sha256, size, type, name, epoch, version, release, arch, checksum, metadata)
       ), inserted AS (
         INSERT INTO chantal.packages (sha256, size, type, name, epoch, version, release, arch, checksum, metadata)
         SELECT DISTINCT ON (sha256) * FROM input
         ON CONFLICT (sha256) DO NOTHING
         RETURNING id, sha256
       )
       SELECT id, sha256 FROM inserted
       UNION ALL
       SELECT p.id, p.sha256 FROM chantal.packages p JOIN input i ON i.sha256 = p.sha256`,
      [
        b.map((p) => p.sha256),
        b.map((p) => p.size),
        b.map((p) => p.type),
        b.map((p) => p.name),
        b.map((p) => p.epoch),
        b.map((p) => p.version),
        b.map((p) => p.release),
        b.map((p) => p.arch),
        b.map((p) => p.checksum),
        b.map((p) => JSON.stringify(p.metadata ?? {})),
      ],
    );
    for (const row of r.rows) ids.set((row.sha256 as string).trim(), Number(row.id));
    await addConcurrentlyInserted(q, "packages", b.map((p) => p.sha256), ids);
  }
  return ids;
}

/**
 * Rows another transaction inserted after our statement's snapshot: DO NOTHING skipped them and the join
 * could not see them. A new statement (READ COMMITTED) does.
 */
async function addConcurrentlyInserted(q: pg.ClientBase | pg.Pool, table: "packages" | "metadata_files", shas: readonly string[], ids: Map<string, number>): Promise<void> {
  const missing = shas.filter((s) => !ids.has(s));
  if (missing.length === 0) return;
  const r = await q.query(`SELECT id, sha256 FROM chantal.${table} WHERE sha256 = ANY($1::text[])`, [missing]);
  for (const row of r.rows) ids.set((row.sha256 as string).trim(), Number(row.id));
  const still = missing.filter((s) => !ids.has(s));
  if (still.length > 0) throw new Error(`could not record ${still.length} ${table} row(s), e.g. ${still[0]}`);
}

/** sha256 of known packages by upstream checksum (`algo:value`), for checksums that are not sha256. */
export async function sha256ByChecksum(q: pg.ClientBase | pg.Pool, checksums: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const b of batches(checksums)) {
    const r = await q.query(`SELECT checksum, sha256 FROM chantal.packages WHERE checksum = ANY($1::text[])`, [b]);
    for (const row of r.rows) out.set(row.checksum, (row.sha256 as string).trim());
  }
  return out;
}

export async function upsertMetadataFiles(q: pg.ClientBase | pg.Pool, files: readonly { sha256: string; size: number }[]): Promise<Map<string, number>> {
  const r = await q.query(
    `WITH input AS (SELECT DISTINCT * FROM unnest($1::text[], $2::bigint[]) AS t(sha256, size)),
     inserted AS (INSERT INTO chantal.metadata_files (sha256, size) SELECT * FROM input ON CONFLICT (sha256) DO NOTHING RETURNING id, sha256)
     SELECT id, sha256 FROM inserted UNION ALL SELECT m.id, m.sha256 FROM chantal.metadata_files m JOIN input i ON i.sha256 = m.sha256`,
    [files.map((f) => f.sha256), files.map((f) => f.size)],
  );
  const ids = new Map(r.rows.map((row) => [(row.sha256 as string).trim(), Number(row.id)]));
  await addConcurrentlyInserted(q, "metadata_files", files.map((f) => f.sha256), ids);
  return ids;
}

export interface SetChange {
  added: number;
  removed: number;
  changed: number;
}

/**
 * Make `<table>` hold exactly `entries` for `ownerId` (a repository's or snapshot's set), reporting what changed.
 * Staged through a temporary table so that 100,000 rows cost three statements.
 */
async function replaceSet(
  client: pg.ClientBase,
  table: "repository_packages" | "repository_metadata",
  ownerColumn: "repository_id",
  keyColumn: "location" | "path",
  valueColumn: "package_id" | "metadata_file_id",
  ownerId: number,
  entries: readonly { key: string; value: number }[],
): Promise<SetChange> {
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS staged_set (key text PRIMARY KEY, value bigint NOT NULL) ON COMMIT DELETE ROWS`);
  await client.query(`TRUNCATE staged_set`);
  for (const b of batches(entries)) {
    await client.query(`INSERT INTO staged_set (key, value) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [b.map((e) => e.key), b.map((e) => e.value)]);
  }
  const removed = await client.query(
    `DELETE FROM chantal.${table} t WHERE t.${ownerColumn} = $1 AND NOT EXISTS (SELECT 1 FROM staged_set s WHERE s.key = t.${keyColumn})`,
    [ownerId],
  );
  const changed = await client.query(
    `UPDATE chantal.${table} t SET ${valueColumn} = s.value FROM staged_set s WHERE t.${ownerColumn} = $1 AND t.${keyColumn} = s.key AND t.${valueColumn} <> s.value`,
    [ownerId],
  );
  const added = await client.query(
    `INSERT INTO chantal.${table} (${ownerColumn}, ${keyColumn}, ${valueColumn}) SELECT $1, key, value FROM staged_set ON CONFLICT DO NOTHING`,
    [ownerId],
  );
  return { added: added.rowCount ?? 0, removed: removed.rowCount ?? 0, changed: changed.rowCount ?? 0 };
}

export function replaceRepositoryPackages(client: pg.ClientBase, repositoryId: number, entries: readonly { location: string; packageId: number }[]): Promise<SetChange> {
  return replaceSet(client, "repository_packages", "repository_id", "location", "package_id", repositoryId, entries.map((e) => ({ key: e.location, value: e.packageId })));
}

export function replaceRepositoryMetadata(client: pg.ClientBase, repositoryId: number, entries: readonly { path: string; metadataFileId: number }[]): Promise<SetChange> {
  return replaceSet(client, "repository_metadata", "repository_id", "path", "metadata_file_id", repositoryId, entries.map((e) => ({ key: e.path, value: e.metadataFileId })));
}

/** What a published tree is made of: every file's upstream-relative path and its pooled sha256. */
export interface TreeEntry {
  path: string;
  sha256: string;
}

const TREE_SQL = {
  repository: `SELECT rp.location AS path, p.sha256 FROM chantal.repository_packages rp JOIN chantal.packages p ON p.id = rp.package_id WHERE rp.repository_id = $1
     UNION ALL
     SELECT rm.path, m.sha256 FROM chantal.repository_metadata rm JOIN chantal.metadata_files m ON m.id = rm.metadata_file_id WHERE rm.repository_id = $1`,
  snapshot: `SELECT sp.location AS path, p.sha256 FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id WHERE sp.snapshot_id = $1
     UNION ALL
     SELECT sm.path, m.sha256 FROM chantal.snapshot_metadata sm JOIN chantal.metadata_files m ON m.id = sm.metadata_file_id WHERE sm.snapshot_id = $1`,
} as const;

/** Every file of a repository's current state, or of a snapshot. */
export async function treeOf(q: pg.ClientBase | pg.Pool, owner: keyof typeof TREE_SQL, id: number): Promise<TreeEntry[]> {
  const r = await q.query(TREE_SQL[owner], [id]);
  return r.rows.map((row) => ({ path: row.path, sha256: row.sha256 as string }));
}
