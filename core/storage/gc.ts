// pool gc: delete the blobs (and their database rows) that no repository's current set or snapshot references, one
// <aa>/ prefix at a time (memory bounded by a 256th of the pool), and pool temp files older than the protection time.
// The caller holds the maintenance lock exclusive for a real run (DESIGN.md "Disk lifecycle"): no sync is between
// download and commit, no restore runs; publishes and snapshot creation only read blobs that stay referenced.
import { readdir, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import { forEachLimited } from "../concurrency.js";
import { errCode, type BlobStore } from "./blob-store.js";
import { FilesystemBlobStore } from "./pool.js";
import { S3BlobStore } from "./s3-blob-store.js";
import { poolListPrefix } from "./s3-layout.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;
const STAT_CONCURRENCY = 64;
const DELETE_CONCURRENCY = 32;
const S3_DELETE_BATCH = 1000;

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

/** The blobs stored under one <aa>/ prefix (names that are not sha256 digests are not ours: never listed). */
export async function listPrefix(blobs: BlobStore, aa: string, signal?: AbortSignal): Promise<PooledBlob[]> {
  if (blobs instanceof FilesystemBlobStore) return listFilesystemPrefix(blobs.root, aa, signal);
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

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return readdir(dir).catch((err: unknown) => {
    if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return [] as string[];
    throw err;
  });
}

async function listFilesystemPrefix(root: string, aa: string, signal?: AbortSignal): Promise<PooledBlob[]> {
  const out: PooledBlob[] = [];
  for (const bb of (await readdirOrEmpty(join(root, aa))).sort()) {
    const dir = join(root, aa, bb);
    const names = (await readdirOrEmpty(dir)).filter((n) => SHA256_HEX.test(n) && n.startsWith(aa + bb));
    await forEachLimited(
      names,
      STAT_CONCURRENCY,
      async (name) => {
        const info = await stat(join(dir, name)).catch(() => undefined);
        if (info?.isFile()) out.push({ sha256: name, size: info.size, modified: info.mtime });
      },
      signal,
    );
  }
  return out;
}

/** Delete blobs: S3 in DeleteObjects batches of 1,000, a filesystem by unlink, then its emptied <bb> directories. */
export async function removeBlobs(blobs: BlobStore, shas: readonly string[], signal?: AbortSignal): Promise<void> {
  if (shas.length === 0) return;
  if (blobs instanceof S3BlobStore) {
    for (let i = 0; i < shas.length; i += S3_DELETE_BATCH) {
      signal?.throwIfAborted();
      await blobs.bucket.deleteKeys(
        shas.slice(i, i + S3_DELETE_BATCH).map((s) => blobs.keyOf(s)),
        signal,
      );
    }
    return;
  }
  await forEachLimited(shas, DELETE_CONCURRENCY, (sha) => blobs.remove(sha), signal);
  if (blobs instanceof FilesystemBlobStore) {
    // An emptied <aa>/<bb> goes too (adopt makes it again when it needs it); a non-empty one stays.
    for (const d of new Set(shas.map((s) => join(blobs.root, s.slice(0, 2), s.slice(2, 4))))) {
      await rmdir(d).catch(() => undefined);
    }
  }
}

const REFERENCED_SQL = `
  SELECT p.sha256 FROM chantal.packages p
  WHERE p.sha256 >= $1 AND p.sha256 < $2
    AND (EXISTS (SELECT 1 FROM chantal.repository_packages rp WHERE rp.package_id = p.id)
      OR EXISTS (SELECT 1 FROM chantal.snapshot_packages sp WHERE sp.package_id = p.id))
  UNION
  SELECT m.sha256 FROM chantal.metadata_files m
  WHERE m.sha256 >= $1 AND m.sha256 < $2
    AND (EXISTS (SELECT 1 FROM chantal.repository_metadata rm WHERE rm.metadata_file_id = m.id)
      OR EXISTS (SELECT 1 FROM chantal.snapshot_metadata sm WHERE sm.metadata_file_id = m.id))`;

/** The sha256s under one prefix that a current set or a snapshot references (environments reference snapshots). */
export async function referencedShas(db: pg.Pool | pg.ClientBase, aa: string): Promise<Set<string>> {
  const r = await db.query(REFERENCED_SQL, prefixRange(aa));
  return new Set(r.rows.map((row) => (row.sha256 as string).trim()));
}

const UNREFERENCED_ROWS = {
  package: `FROM chantal.packages p WHERE p.sha256 >= $1 AND p.sha256 < $2
    AND NOT EXISTS (SELECT 1 FROM chantal.repository_packages rp WHERE rp.package_id = p.id)
    AND NOT EXISTS (SELECT 1 FROM chantal.snapshot_packages sp WHERE sp.package_id = p.id)`,
  metadata: `FROM chantal.metadata_files p WHERE p.sha256 >= $1 AND p.sha256 < $2
    AND NOT EXISTS (SELECT 1 FROM chantal.repository_metadata rm WHERE rm.metadata_file_id = p.id)
    AND NOT EXISTS (SELECT 1 FROM chantal.snapshot_metadata sm WHERE sm.metadata_file_id = p.id)`,
};

/** Rows of blobs nothing references under one prefix: counted (dry run) or deleted, before their blobs go. */
async function unreferencedRows(db: pg.Pool, aa: string, remove: boolean): Promise<{ packages: number; metadata: number }> {
  const count = async (kind: keyof typeof UNREFERENCED_ROWS) => {
    const from = UNREFERENCED_ROWS[kind];
    const table = kind === "package" ? "chantal.packages" : "chantal.metadata_files";
    const r = remove
      ? await db.query(`DELETE FROM ${table} d WHERE d.id IN (SELECT p.id ${from})`, prefixRange(aa))
      : await db.query(`SELECT count(*)::int AS n ${from}`, prefixRange(aa));
    return remove ? (r.rowCount ?? 0) : (r.rows[0].n as number);
  };
  return { packages: await count("package"), metadata: await count("metadata") };
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
  for (const aa of poolPrefixes()) {
    opts.signal?.throwIfAborted();
    const stored = await listPrefix(blobs, aa, opts.signal);
    const rows = await unreferencedRows(db, aa, !dryRun);
    result.rows.packages += rows.packages;
    result.rows.metadata += rows.metadata;
    const { orphans, young } = planPrefix(stored, await referencedShas(db, aa), protectBefore);
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
  }
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
  for (const name of await readdirOrEmpty(dir)) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info?.isFile() && now - info.mtimeMs > protectMs) n++;
  }
  return n;
}
