// pool gc: delete the blobs (and their database rows) that no repository's current set or snapshot references, one
// <aa>/ prefix at a time (memory bounded by a 256th of the pool), and pool temp files older than the protection time.
// The caller holds the maintenance lock exclusive for a real run (DESIGN.md "Disk lifecycle"): no sync is between
// download and commit, no restore runs; publishes and snapshot creation only read blobs that stay referenced.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import { forEachLimited } from "../concurrency.js";
import { SHA256_HEX, type BlobStore } from "./blob-store.js";
import { FilesystemBlobStore, readdirOrEmpty } from "./pool.js";
import { S3BlobStore } from "./s3-blob-store.js";
import { poolListPrefix } from "./s3-layout.js";

const STAT_CONCURRENCY = 64;
const DELETE_CONCURRENCY = 32;
/** Prefixes worked on at once: memory stays a few 256ths of the pool; the database and the disk both stay busy. */
const PREFIX_CONCURRENCY = 4;

/** A blob found in the pool. */
export interface PooledBlob {
  sha256: string;
  size: number;
  modified: Date;
}

export interface ByteCount {
  blobs: number;
  bytes: number;
}

export interface PoolGcOptions {
  /** Count only: nothing is deleted (no lock needed: the counts are what a run now would free). */
  dryRun?: boolean;
  /** Orphans and temp files modified more recently than this are kept. */
  protectMs: number;
  now?: Date;
  signal?: AbortSignal;
  onProgress?: (prefixesDone: number) => void;
}

export interface PoolGcResult {
  dryRun: boolean;
  protectMinutes: number;
  /** Every blob in the pool. */
  scanned: ByteCount;
  /** Orphans deleted (or, dry run, to be deleted). */
  freed: ByteCount;
  /** Orphans kept because they are younger than the protection time. */
  protectedOrphans: ByteCount;
  /** Database rows of unreferenced blobs deleted (dry run: to be deleted). */
  rows: { packages: number; metadata: number };
  /** Temp files in the pool's temp area deleted (dry run: counted only when older than the protection time). */
  tempFiles: number;
}

/** Each <aa> prefix of the pool layout, "00" to "ff". */
export function poolPrefixes(): string[] {
  return Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
}

/** sha256 range of one prefix for an index scan: every hex digest starting with `aa` is >= aa and < aa + "g". */
function prefixRange(aa: string): [string, string] {
  return [aa, `${aa}g`];
}

/** The orphans among `blobs`: not in `referenced`; split by the protection time. */
export function planPrefix(
  blobs: readonly PooledBlob[],
  referenced: ReadonlySet<string>,
  protectBefore: number,
): { orphans: PooledBlob[]; young: PooledBlob[] } {
  const orphans: PooledBlob[] = [];
  const young: PooledBlob[] = [];
  for (const b of blobs) {
    if (referenced.has(b.sha256)) continue;
    if (b.modified.getTime() > protectBefore) young.push(b);
    else orphans.push(b);
  }
  return { orphans, young };
}

/**
 * The blobs stored under one <aa>/ prefix (names that are not sha256 digests are not ours: never listed). On a
 * filesystem, a blob in `referenced` is not stat()ed: its size is the database's (its mtime does not matter).
 */
export async function listPrefix(blobs: BlobStore, aa: string, signal?: AbortSignal, referenced?: ReadonlyMap<string, number>): Promise<PooledBlob[]> {
  if (blobs instanceof FilesystemBlobStore) return listFilesystemPrefix(blobs, aa, signal, referenced);
  if (blobs instanceof S3BlobStore) {
    const out: PooledBlob[] = [];
    for await (const page of blobs.bucket.list(poolListPrefix(blobs.bucket.settings.prefix, aa), signal)) {
      for (const o of page) {
        const sha256 = o.key.slice(o.key.lastIndexOf("/") + 1);
        if (SHA256_HEX.test(sha256) && o.key.endsWith(`${aa}/${sha256.slice(2, 4)}/${sha256}`)) out.push({ sha256, size: o.size, modified: o.modified });
      }
    }
    return out;
  }
  throw new Error(`pool gc cannot list the pool at ${blobs.location}`);
}

const KNOWN_MTIME = new Date(0);

async function listFilesystemPrefix(
  blobs: FilesystemBlobStore,
  aa: string,
  signal?: AbortSignal,
  referenced?: ReadonlyMap<string, number>,
): Promise<PooledBlob[]> {
  const out: PooledBlob[] = [];
  const unknown: string[] = [];
  signal?.throwIfAborted();
  for (const name of await blobs.blobsUnder(aa)) {
    const size = referenced?.get(name);
    if (size !== undefined) out.push({ sha256: name, size, modified: KNOWN_MTIME });
    else unknown.push(name);
  }
  await forEachLimited(
    unknown,
    STAT_CONCURRENCY,
    async (name) => {
      const info = await stat(blobs.pathOf(name)).catch(() => undefined);
      if (info?.isFile()) out.push({ sha256: name, size: info.size, modified: info.mtime });
    },
    signal,
  );
  return out;
}

/** Delete blobs: S3 in DeleteObjects batches of 1,000, a filesystem by unlink (then its emptied directories). */
export async function removeBlobs(blobs: BlobStore, shas: readonly string[], signal?: AbortSignal): Promise<void> {
  if (shas.length === 0) return;
  if (blobs instanceof S3BlobStore) {
    // deleteKeys sends them in DeleteObjects batches of 1,000.
    await blobs.bucket.deleteKeys(
      shas.map((s) => blobs.keyOf(s)),
      signal,
    );
    return;
  }
  await forEachLimited(shas, DELETE_CONCURRENCY, (sha) => blobs.remove(sha), signal);
  if (blobs instanceof FilesystemBlobStore) await blobs.removeEmptiedDirs(shas);
}

/** Every package and metadata row under one prefix, with whether a current set or a snapshot references it. */
const PREFIX_ROWS_SQL = `
  SELECT 'package' AS kind, p.id, p.sha256, p.size,
    (EXISTS (SELECT 1 FROM chantal.repository_packages rp WHERE rp.package_id = p.id)
      OR EXISTS (SELECT 1 FROM chantal.snapshot_packages sp WHERE sp.package_id = p.id)) AS referenced
  FROM chantal.packages p WHERE p.sha256 >= $1 AND p.sha256 < $2
  UNION ALL
  SELECT 'metadata', m.id, m.sha256, m.size,
    (EXISTS (SELECT 1 FROM chantal.repository_metadata rm WHERE rm.metadata_file_id = m.id)
      OR EXISTS (SELECT 1 FROM chantal.snapshot_metadata sm WHERE sm.metadata_file_id = m.id))
  FROM chantal.metadata_files m WHERE m.sha256 >= $1 AND m.sha256 < $2`;

interface PrefixRow {
  kind: "package" | "metadata";
  id: number;
  sha256: string;
  size: number;
  referenced: boolean;
}

async function prefixRows(db: pg.Pool, aa: string): Promise<PrefixRow[]> {
  const r = await db.query(PREFIX_ROWS_SQL, prefixRange(aa));
  return r.rows.map((row) => ({
    kind: row.kind as PrefixRow["kind"],
    id: Number(row.id),
    sha256: (row.sha256 as string).trim(),
    size: Number(row.size),
    referenced: row.referenced === true,
  }));
}

/** Delete the rows found unreferenced, checking again in the statement (the caller holds the maintenance lock anyway). */
async function deleteUnreferencedRows(db: pg.Pool, rows: readonly PrefixRow[]): Promise<{ packages: number; metadata: number }> {
  const ids = (kind: PrefixRow["kind"]) => rows.filter((r) => r.kind === kind && !r.referenced).map((r) => r.id);
  const packageIds = ids("package");
  const metadataIds = ids("metadata");
  const packages = packageIds.length
    ? ((
        await db.query(
          `DELETE FROM chantal.packages p WHERE p.id = ANY($1::bigint[])
             AND NOT EXISTS (SELECT 1 FROM chantal.repository_packages rp WHERE rp.package_id = p.id)
             AND NOT EXISTS (SELECT 1 FROM chantal.snapshot_packages sp WHERE sp.package_id = p.id)`,
          [packageIds],
        )
      ).rowCount ?? 0)
    : 0;
  const metadata = metadataIds.length
    ? ((
        await db.query(
          `DELETE FROM chantal.metadata_files m WHERE m.id = ANY($1::bigint[])
             AND NOT EXISTS (SELECT 1 FROM chantal.repository_metadata rm WHERE rm.metadata_file_id = m.id)
             AND NOT EXISTS (SELECT 1 FROM chantal.snapshot_metadata sm WHERE sm.metadata_file_id = m.id)`,
          [metadataIds],
        )
      ).rowCount ?? 0)
    : 0;
  return { packages, metadata };
}

/**
 * Mark and sweep, prefix by prefix: list the prefix's blobs, ask the database which it references, delete the
 * rows of unreferenced blobs (committed first: a crash leaves blobs without rows, which the next run deletes,
 * never a row without its blob), then the orphans older than the protection time.
 */
export async function collectPoolGarbage(db: pg.Pool, blobs: BlobStore, opts: PoolGcOptions): Promise<PoolGcResult> {
  const now = (opts.now ?? new Date()).getTime();
  const protectBefore = now - opts.protectMs;
  const dryRun = opts.dryRun ?? false;
  const result: PoolGcResult = {
    dryRun,
    protectMinutes: opts.protectMs / 60_000,
    scanned: { blobs: 0, bytes: 0 },
    freed: { blobs: 0, bytes: 0 },
    protectedOrphans: { blobs: 0, bytes: 0 },
    rows: { packages: 0, metadata: 0 },
    tempFiles: dryRun ? await countStaleTemp(blobs, opts.protectMs, now) : await blobs.cleanStaleTemp(opts.protectMs),
  };
  let done = 0;
  await forEachLimited(
    poolPrefixes(),
    PREFIX_CONCURRENCY,
    async (aa) => {
      const rows = await prefixRows(db, aa);
      const referenced = new Map<string, number>();
      for (const r of rows) if (r.referenced) referenced.set(r.sha256, r.size);
      const stored = await listPrefix(blobs, aa, opts.signal, referenced);
      // Rows first (committed), then files: a crash leaves files without rows for the next run, never a row without its file.
      const deleted = dryRun
        ? {
            packages: rows.filter((r) => r.kind === "package" && !r.referenced).length,
            metadata: rows.filter((r) => r.kind === "metadata" && !r.referenced).length,
          }
        : await deleteUnreferencedRows(db, rows);
      result.rows.packages += deleted.packages;
      result.rows.metadata += deleted.metadata;
      const { orphans, young } = planPrefix(stored, new Set(referenced.keys()), protectBefore);
      if (!dryRun)
        await removeBlobs(
          blobs,
          orphans.map((b) => b.sha256),
          opts.signal,
        );
      for (const b of stored) add(result.scanned, b);
      for (const b of orphans) add(result.freed, b);
      for (const b of young) add(result.protectedOrphans, b);
      opts.onProgress?.(++done);
    },
    opts.signal,
  );
  return result;
}

function add(count: ByteCount, b: PooledBlob): void {
  count.blobs++;
  count.bytes += b.size;
}

/** Temp files a real run would delete by age (a dry run does not judge live writers). */
async function countStaleTemp(blobs: BlobStore, protectMs: number, now: number): Promise<number> {
  const dir = (blobs as { tempDir?: string }).tempDir;
  if (!dir) return 0;
  let n = 0;
  for (const entry of await readdirOrEmpty(dir)) {
    const info = await stat(join(dir, entry.name)).catch(() => undefined);
    if (info?.isFile() && now - info.mtimeMs > protectMs) n++;
  }
  return n;
}
