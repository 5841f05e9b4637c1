// Bulk writes of a sync: packages and metadata files by sha256, and the repository's current sets, with explicit SQL.
import type pg from "pg";
import { cancelOnAbort, isConnectionLoss, withAbortableClient } from "./client.js";

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

/**
 * Insert packages that are new (by sha256). Rows that already exist, or that a concurrent transaction is
 * inserting, are left as they are: the sets refer to packages by sha256 (replaceSet checks they all exist).
 * `sha256` is compared as char(64), the column's type, so that the unique index is used.
 */
export async function upsertPackages<T>(q: pg.ClientBase | pg.Pool, items: readonly T[], recordOf: (item: T) => PackageRecord): Promise<void> {
  for (const slice of batches(items)) {
    const b = slice.map(recordOf);
    await q.query(
      `INSERT INTO chantal.packages (sha256, size, type, name, epoch, version, release, arch, checksum, metadata)
       SELECT DISTINCT ON (sha256) * FROM unnest($1::char(64)[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[])
         AS t(sha256, size, type, name, epoch, version, release, arch, checksum, metadata)
       ON CONFLICT (sha256) DO NOTHING`,
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
  }
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

/** Which of these sha256s the database records, as a package or a metadata file. */
export async function recordedBlobs(q: pg.ClientBase | pg.Pool, sha256s: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const b of batches(sha256s)) {
    const r = await q.query(
      `SELECT sha256 FROM chantal.packages WHERE sha256 = ANY($1::char(64)[]) UNION SELECT sha256 FROM chantal.metadata_files WHERE sha256 = ANY($1::char(64)[])`,
      [b],
    );
    for (const row of r.rows) out.add((row.sha256 as string).trim());
  }
  return out;
}

export async function upsertMetadataFiles(q: pg.ClientBase | pg.Pool, files: readonly { sha256: string; size: number }[]): Promise<void> {
  await q.query(
    `INSERT INTO chantal.metadata_files (sha256, size) SELECT DISTINCT ON (sha256) * FROM unnest($1::char(64)[], $2::bigint[]) AS t(sha256, size)
     ON CONFLICT (sha256) DO NOTHING`,
    [files.map((f) => f.sha256), files.map((f) => f.size)],
  );
}

export interface SetChange {
  added: number;
  removed: number;
  changed: number;
}

/** One of a repository's two sets: its packages by location, its metadata files by path. */
interface SetTable {
  table: "repository_packages" | "repository_metadata";
  keyColumn: "location" | "path";
  valueColumn: "package_id" | "metadata_file_id";
  /** Where `valueColumn` points, found there by sha256. */
  files: "packages" | "metadata_files";
}

const PACKAGE_SET: SetTable = { table: "repository_packages", keyColumn: "location", valueColumn: "package_id", files: "packages" };
const METADATA_SET: SetTable = { table: "repository_metadata", keyColumn: "path", valueColumn: "metadata_file_id", files: "metadata_files" };

/** An entry of a set: its location or path, and the sha256 of the file there. */
export interface SetEntry {
  key: string;
  sha256: string;
}

/** Stage `entries` (the last one wins for a key) in the session's temporary table, replacing what it held. */
async function stageSet<T>(client: pg.ClientBase, entries: readonly T[], entryOf: (item: T) => SetEntry): Promise<void> {
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS staged_files (key text PRIMARY KEY, sha256 char(64) NOT NULL) ON COMMIT DELETE ROWS`);
  await client.query(`TRUNCATE staged_files`);
  for (const b of batches(entries)) {
    const keys: string[] = [];
    const shas: string[] = [];
    for (const item of b) {
      const e = entryOf(item);
      keys.push(e.key);
      shas.push(e.sha256);
    }
    await client.query(
      `INSERT INTO staged_files (key, sha256)
       SELECT DISTINCT ON (key) key, sha256 FROM unnest($1::text[], $2::char(64)[]) WITH ORDINALITY AS t(key, sha256, n) ORDER BY key, n DESC
       ON CONFLICT (key) DO UPDATE SET sha256 = EXCLUDED.sha256`,
      [keys, shas],
    );
  }
}

/** The staged sha256s that `files` does not record yet. */
async function unrecordedStaged(client: pg.ClientBase, files: SetTable["files"]): Promise<Set<string>> {
  const r = await client.query<{ sha256: string }>(
    `SELECT DISTINCT s.sha256 FROM staged_files s WHERE NOT EXISTS (SELECT 1 FROM chantal.${files} f WHERE f.sha256 = s.sha256)`,
  );
  return new Set(r.rows.map((row) => row.sha256));
}

/**
 * Make a repository's set hold exactly what is staged, reporting what changed: only the difference is written (rows
 * whose key left the set deleted, those whose file changed updated, new keys inserted), joined to the files by sha256
 * in SQL, so that 100,000 rows cost a few statements and no id map in memory. Every sha256 must be recorded already.
 */
async function applyStagedSet(client: pg.ClientBase, set: SetTable, repositoryId: number): Promise<SetChange> {
  const { table, keyColumn, valueColumn, files } = set;
  const unknown = await client.query(
    `SELECT count(*)::int AS n, min(s.sha256) AS example FROM staged_files s WHERE NOT EXISTS (SELECT 1 FROM chantal.${files} f WHERE f.sha256 = s.sha256)`,
  );
  if (unknown.rows[0].n > 0) throw new Error(`could not record ${unknown.rows[0].n} ${files} row(s), e.g. ${unknown.rows[0].example}`);
  const removed = await client.query(
    `DELETE FROM chantal.${table} t WHERE t.repository_id = $1 AND NOT EXISTS (SELECT 1 FROM staged_files s WHERE s.key = t.${keyColumn})`,
    [repositoryId],
  );
  const changed = await client.query(
    `UPDATE chantal.${table} t SET ${valueColumn} = f.id FROM staged_files s JOIN chantal.${files} f ON f.sha256 = s.sha256
     WHERE t.repository_id = $1 AND t.${keyColumn} = s.key AND t.${valueColumn} <> f.id`,
    [repositoryId],
  );
  const added = await client.query(
    `INSERT INTO chantal.${table} (repository_id, ${keyColumn}, ${valueColumn})
     SELECT $1, s.key, f.id FROM staged_files s JOIN chantal.${files} f ON f.sha256 = s.sha256
     WHERE NOT EXISTS (SELECT 1 FROM chantal.${table} t WHERE t.repository_id = $1 AND t.${keyColumn} = s.key)
     ON CONFLICT DO NOTHING`,
    [repositoryId],
  );
  return { added: added.rowCount ?? 0, removed: removed.rowCount ?? 0, changed: changed.rowCount ?? 0 };
}

/** Make a repository's set hold exactly `entries` (the last one wins for a key), reporting what changed. */
async function replaceSet<T>(
  client: pg.ClientBase,
  set: SetTable,
  repositoryId: number,
  entries: readonly T[],
  entryOf: (item: T) => SetEntry,
): Promise<SetChange> {
  await stageSet(client, entries, entryOf);
  return applyStagedSet(client, set, repositoryId);
}

/**
 * Record a sync's packages and make them the repository's set, by difference: the (location, sha256) pairs are staged
 * first, then only the packages the catalog lacks are inserted with their whole row (most were recorded by an earlier
 * sync, or during this one's downloads: core/mirror/package-recorder.ts), then only the set's difference is written.
 * A re-sync after a 2% change writes ~2% of the rows instead of every package's row again.
 */
export async function recordRepositoryPackages<T>(
  client: pg.ClientBase,
  repositoryId: number,
  items: readonly T[],
  recordOf: (item: T) => PackageRecord & { location: string },
  previous?: ReadonlyMap<string, string>,
): Promise<SetChange> {
  if (previous) {
    // A savepoint: a difference that does not add up is undone before the staged replace runs.
    await client.query("SAVEPOINT set_difference");
    const change = await applySetDifference(client, repositoryId, items, recordOf, previous);
    if (change) {
      await client.query("RELEASE SAVEPOINT set_difference");
      return change;
    }
    await client.query("ROLLBACK TO SAVEPOINT set_difference");
  }
  await stageSet(client, items, (p) => {
    const r = recordOf(p);
    return { key: r.location, sha256: r.sha256 };
  });
  const unknown = await unrecordedStaged(client, "packages");
  if (unknown.size > 0)
    await upsertPackages(
      client,
      items.filter((p) => unknown.has(recordOf(p).sha256)),
      recordOf,
    );
  return applyStagedSet(client, PACKAGE_SET, repositoryId);
}

/**
 * Make the set `previous` (location -> sha256, read under the repository's lock) hold exactly `items`, writing only
 * the difference computed here: a re-sync after a 2% change sends ~2% of the pairs instead of staging all of them.
 * Every statement's row count is checked against the difference, and the set's size at the end: a set that is not
 * what `previous` says (it cannot change under the lock; this is the belt) falls back to the staged replace, which
 * is right whatever the set holds. Returns undefined when it fell back, for the caller to do so.
 */
async function applySetDifference<T>(
  client: pg.ClientBase,
  repositoryId: number,
  items: readonly T[],
  recordOf: (item: T) => PackageRecord & { location: string },
  previous: ReadonlyMap<string, string>,
): Promise<SetChange | undefined> {
  const wanted = new Map<string, T>();
  for (const item of items) wanted.set(recordOf(item).location, item);
  const removed: string[] = [];
  for (const key of previous.keys()) if (!wanted.has(key)) removed.push(key);
  const changed: { key: string; sha256: string; old: string }[] = [];
  const added: { key: string; sha256: string }[] = [];
  const newItems: T[] = [];
  for (const [key, item] of wanted) {
    const sha256 = recordOf(item).sha256;
    const old = previous.get(key);
    if (old === sha256) continue;
    newItems.push(item);
    if (old === undefined) added.push({ key, sha256 });
    else changed.push({ key, sha256, old });
  }
  // Only the items that enter the set may lack their catalog row; those already in it have theirs.
  const recorded = await recordedPackages(
    client,
    newItems.map((i) => recordOf(i).sha256),
  );
  const unknown = newItems.filter((i) => !recorded.has(recordOf(i).sha256));
  if (unknown.length > 0) await upsertPackages(client, unknown, recordOf);
  let count = 0;
  for (const b of batches(removed)) {
    const r = await client.query(`DELETE FROM chantal.repository_packages WHERE repository_id = $1 AND location = ANY($2::text[])`, [repositoryId, b]);
    count += r.rowCount ?? 0;
  }
  if (count !== removed.length) return undefined;
  count = 0;
  for (const b of batches(changed)) {
    const r = await client.query(
      `UPDATE chantal.repository_packages t SET package_id = f.id
       FROM unnest($2::text[], $3::char(64)[], $4::char(64)[]) AS s(key, sha256, old)
       JOIN chantal.packages f ON f.sha256 = s.sha256 JOIN chantal.packages o ON o.sha256 = s.old
       WHERE t.repository_id = $1 AND t.location = s.key AND t.package_id = o.id`,
      [repositoryId, b.map((c) => c.key), b.map((c) => c.sha256), b.map((c) => c.old)],
    );
    count += r.rowCount ?? 0;
  }
  if (count !== changed.length) return undefined;
  count = 0;
  for (const b of batches(added)) {
    const r = await client.query(
      `INSERT INTO chantal.repository_packages (repository_id, location, package_id)
       SELECT $1, s.key, f.id FROM unnest($2::text[], $3::char(64)[]) AS s(key, sha256) JOIN chantal.packages f ON f.sha256 = s.sha256
       ON CONFLICT DO NOTHING`,
      [repositoryId, b.map((a) => a.key), b.map((a) => a.sha256)],
    );
    count += r.rowCount ?? 0;
  }
  if (count !== added.length) return undefined;
  if ((await repositoryPackageCount(client, repositoryId)) !== wanted.size) return undefined;
  return { added: added.length, removed: removed.length, changed: changed.length };
}

/** Which of these sha256s the package catalog records. */
async function recordedPackages(client: pg.ClientBase, sha256s: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const b of batches(sha256s)) {
    const r = await client.query<{ sha256: string }>(`SELECT sha256 FROM chantal.packages WHERE sha256 = ANY($1::char(64)[])`, [b]);
    for (const row of r.rows) out.add(row.sha256);
  }
  return out;
}

/** Every package of a repository's current set: location -> sha256 (the plan's view, and the commit's by difference). */
export async function repositoryPackageSet(q: pg.ClientBase | pg.Pool, repositoryId: number): Promise<Map<string, string>> {
  const r = await q.query<{ location: string; sha256: string }>(
    `SELECT rp.location, p.sha256 FROM chantal.repository_packages rp JOIN chantal.packages p ON p.id = rp.package_id WHERE rp.repository_id = $1`,
    [repositoryId],
  );
  const out = new Map<string, string>();
  for (const row of r.rows) out.set(row.location, row.sha256);
  return out;
}

export function replaceRepositoryMetadata(
  client: pg.ClientBase,
  repositoryId: number,
  entries: readonly { path: string; sha256: string }[],
): Promise<SetChange> {
  return replaceSet(client, METADATA_SET, repositoryId, entries, (m) => ({ key: m.path, sha256: m.sha256 }));
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

const TREE_PAGE = 5_000;

/**
 * Every file of a repository's current state, or of a snapshot, a page at a time: a cursor in one read-only
 * snapshot of the database, so that a tree of 100,000 files is never all in memory and is read consistently.
 * An abort of `signal` cancels a FETCH that waits (on a lock, a slow server).
 */
export async function* treePages(db: pg.Pool, owner: keyof typeof TREE_SQL, id: number, signal?: AbortSignal): AsyncGenerator<TreeEntry[]> {
  if (!Number.isSafeInteger(id)) throw new Error(`invalid ${owner} id ${id}`);
  signal?.throwIfAborted();
  const client = await db.connect();
  const stopCancelling = cancelOnAbort(db, client, signal);
  let finished = false;
  let broken = false;
  try {
    // Not withTransaction (core/db/transaction.ts): this transaction stays open across the consumer's iterations.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    // DECLARE takes no bind parameters: the id is an integer, checked above.
    await client.query(`DECLARE tree_files NO SCROLL CURSOR FOR ${TREE_SQL[owner].replaceAll("$1", String(id))}`);
    for (;;) {
      const r = await client.query<TreeEntry>(`FETCH ${TREE_PAGE} FROM tree_files`);
      if (r.rows.length === 0) break;
      yield r.rows;
    }
    await client.query("COMMIT");
    finished = true;
  } catch (err) {
    broken = isConnectionLoss(err);
    throw err;
  } finally {
    stopCancelling();
    // The consumer stopped early or failed: the connection goes back to the pool without a transaction.
    if (!finished && !broken) await client.query("ROLLBACK").catch(() => undefined);
    // A broken or cancelled session is closed, never handed to the next caller.
    client.release(broken || signal?.aborted === true);
  }
}

/** Every file of a repository's current state, or of a snapshot, all at once (S3 publishing plans over the whole tree). */
export async function treeOf(db: pg.Pool, owner: keyof typeof TREE_SQL, id: number, signal?: AbortSignal): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  for await (const page of treePages(db, owner, id, signal)) for (const e of page) out.push(e);
  return out;
}

const SIZED_TREE_SQL = {
  repository: `SELECT rp.location AS path, p.sha256, p.size FROM chantal.repository_packages rp JOIN chantal.packages p ON p.id = rp.package_id WHERE rp.repository_id = $1
     UNION ALL
     SELECT rm.path, m.sha256, m.size FROM chantal.repository_metadata rm JOIN chantal.metadata_files m ON m.id = rm.metadata_file_id WHERE rm.repository_id = $1`,
  snapshot: `SELECT sp.location AS path, p.sha256, p.size FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id WHERE sp.snapshot_id = $1
     UNION ALL
     SELECT sm.path, m.sha256, m.size FROM chantal.snapshot_metadata sm JOIN chantal.metadata_files m ON m.id = sm.metadata_file_id WHERE sm.snapshot_id = $1`,
} satisfies Record<keyof typeof TREE_SQL, string>;

/**
 * A tree as the publish gate reads it, in one statement: path -> sha256, and each blob's recorded size (the gate
 * holds the whole tree anyway; a cursor's pages and a second query for the sizes were round trips of their own).
 */
export async function treeWithSizes(
  db: pg.Pool,
  owner: keyof typeof TREE_SQL,
  id: number,
  signal?: AbortSignal,
): Promise<{ entries: Map<string, string>; sizes: Map<string, number> }> {
  const r = await withAbortableClient(db, signal, (c) => c.query<TreeEntry & { size: string }>(SIZED_TREE_SQL[owner], [id]));
  const entries = new Map<string, string>();
  const sizes = new Map<string, number>();
  for (const row of r.rows) {
    entries.set(row.path, row.sha256);
    sizes.set(row.sha256, Number(row.size));
  }
  return { entries, sizes };
}

/** How many packages a repository's current set holds (what a no-op sync leaves it with). */
export async function repositoryPackageCount(q: pg.ClientBase | pg.Pool, repositoryId: number): Promise<number> {
  const r = await q.query<{ n: string }>(`SELECT count(*) AS n FROM chantal.repository_packages WHERE repository_id = $1`, [repositoryId]);
  return Number(r.rows[0]?.n ?? 0);
}

/** Empty a repository's current sets (repo remove); the packages and metadata files stay for `pool gc` (core/storage/gc.ts). */
export async function clearRepositorySets(q: pg.ClientBase | pg.Pool, repositoryId: number): Promise<{ packages: number; metadata: number }> {
  const packages = await q.query(`DELETE FROM chantal.repository_packages WHERE repository_id = $1`, [repositoryId]);
  const metadata = await q.query(`DELETE FROM chantal.repository_metadata WHERE repository_id = $1`, [repositoryId]);
  return { packages: packages.rowCount ?? 0, metadata: metadata.rowCount ?? 0 };
}

/** The metadata files of a repository's current state (repodata/...), by path: what another repository's filter reads. */
export async function repositoryMetadataFiles(q: pg.ClientBase | pg.Pool, repositoryId: number): Promise<{ path: string; sha256: string; size: number }[]> {
  const r = await q.query<{ path: string; sha256: string; size: string }>(
    `SELECT rm.path, m.sha256, m.size FROM chantal.repository_metadata rm JOIN chantal.metadata_files m ON m.id = rm.metadata_file_id WHERE rm.repository_id = $1 ORDER BY rm.path`,
    [repositoryId],
  );
  return r.rows.map((row) => ({ path: row.path, sha256: row.sha256, size: Number(row.size) }));
}
