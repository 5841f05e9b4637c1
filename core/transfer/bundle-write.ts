// Writes a bundle's blobs from the pool (filesystem or S3): blobs/<aa>/<sha256> files, or tar volumes; every blob hashed as it is copied.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { forEachLimited } from "../concurrency.js";
import { ChantalError } from "../errors.js";
import { fsyncDirs, fsyncPath, isFsyncEnabled, syncFilesystem } from "../storage/durable.js";
import type { BlobStore } from "../storage/blob-store.js";
import { FilesystemBlobStore } from "../storage/pool.js";
import { makeDirectory } from "../fs-dirs.js";
import { BLOBS_DIR, blobPath, volumeFileName, volumeMemberName, type VolumeEntry } from "./manifest.js";
import type { ExportPlan } from "./plan.js";
import { tarHeader, tarPadding, TAR_BLOCK } from "./tar.js";

/** A pool blob whose bytes are not its name: the pool is damaged, and the export stops rather than carry it. */
export class PoolBlobCorruptError extends ChantalError {}

const DIR_CONCURRENCY = 16;
/** Blobs up to this size are read whole, several ahead of the one being written (a pool of 20 KB packages is latency-bound). */
const SMALL_BLOB = 1024 * 1024;
const READ_AHEAD = 32;
const ZERO = Buffer.alloc(TAR_BLOCK * 2);

export interface WriteOptions {
  signal?: AbortSignal;
  /** Called after each blob with its size. */
  onBlob?: (bytes: number) => void;
  /** mtime of tar members (seconds). */
  mtime: number;
}

/** Copy one pool blob through `write`, checking its sha256 and size against its name and the catalog's size. */
async function copyBlob(blobs: BlobStore, b: { sha256: string; size: number }, write: (chunk: Buffer) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of blobs.openRead(b.sha256, signal) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (size > b.size) break;
    await write(chunk);
  }
  const actual = hash.digest("hex");
  if (size !== b.size || actual !== b.sha256) throw corrupt(blobs, b, size, actual);
}

/**
 * A pool file's bytes, verified, in one positional read of the catalog's size and one byte more (to see a longer
 * file): open, read, close, synchronously. A 20 KB file in the page cache costs microseconds where each hop through
 * libuv's thread pool and its promise costs more than the read; callers yield between blobs at their writes.
 */
function readPoolFileSync(blobs: FilesystemBlobStore, b: { sha256: string; size: number }): Buffer {
  const fd = openSync(blobs.pathOf(b.sha256), "r");
  let got = 0;
  const buf = Buffer.allocUnsafe(b.size + 1);
  try {
    for (let n = -1; n !== 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, got);
  } finally {
    closeSync(fd);
  }
  const data = buf.subarray(0, got);
  const actual = createHash("sha256").update(data).digest("hex");
  if (got !== b.size || actual !== b.sha256) throw corrupt(blobs, b, got, actual);
  return data;
}

/** A small blob's bytes, verified: from a pool file (readPoolFileSync), else through openRead (S3). */
async function readSmallBlob(blobs: BlobStore, b: { sha256: string; size: number }, signal?: AbortSignal): Promise<Buffer> {
  if (blobs instanceof FilesystemBlobStore) {
    signal?.throwIfAborted();
    return readPoolFileSync(blobs, b);
  }
  const chunks: Buffer[] = [];
  await copyBlob(blobs, b, async (c) => void chunks.push(c), signal);
  return Buffer.concat(chunks);
}

function corrupt(blobs: BlobStore, b: { sha256: string; size: number }, size: number, actual: string): PoolBlobCorruptError {
  return new PoolBlobCorruptError(
    `pool blob ${b.sha256} (${blobs.locationOf(b.sha256)}) ${size !== b.size ? `has ${size > b.size ? "more than" : "only"} ${size} bytes, the catalog says ${b.size}` : `has sha256 ${actual}`}: the pool is damaged; run "pool verify --deep" (then "pool verify --fix" and a sync) and export again`,
  );
}

async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/** Make every file written below `dir` durable: one syncfs of its filesystem, else each file and directory fsynced. */
async function syncWritten(dir: string, files: readonly string[], dirs: readonly string[], signal?: AbortSignal): Promise<void> {
  if (await syncFilesystem(dir, signal)) return;
  await forEachLimited(files, DIR_CONCURRENCY, fsyncPath, signal);
  await fsyncDirs(dirs, signal);
}

/** Directory form: blobs/<aa>/<sha256>, a few at a time, then all made durable at once (syncWritten). */
export async function writeBlobDirectory(blobs: BlobStore, bundle: string, plan: ExportPlan, opts: WriteOptions): Promise<void> {
  const dirs = new Set(plan.included.map((b) => join(bundle, BLOBS_DIR, b.sha256.slice(0, 2))));
  await makeDirectory(join(bundle, BLOBS_DIR));
  for (const d of dirs) await makeDirectory(d);
  await forEachLimited(
    plan.included,
    DIR_CONCURRENCY,
    async (b) => {
      const small = b.size <= SMALL_BLOB ? await readSmallBlob(blobs, b, opts.signal) : null;
      const fh = await open(join(bundle, blobPath(b.sha256)), "wx", 0o644);
      try {
        if (small) await writeAll(fh, small);
        else await copyBlob(blobs, b, (chunk) => writeAll(fh, chunk), opts.signal);
      } finally {
        await fh.close();
      }
      opts.onBlob?.(b.size);
    },
    opts.signal,
  );
  await syncWritten(
    bundle,
    plan.included.map((b) => join(bundle, blobPath(b.sha256))),
    [...dirs, join(bundle, BLOBS_DIR), bundle],
    opts.signal,
  );
}

/** Tar form: volume-0001.tar, …; each member blobs/<sha256> in the plan's order; returns each volume's size and sha256. */
export async function writeBlobVolumes(blobs: BlobStore, bundle: string, plan: ExportPlan, opts: WriteOptions): Promise<VolumeEntry[]> {
  const out: VolumeEntry[] = [];
  for (let v = 0; v < plan.volumeBytes.length; v++) {
    const file = volumeFileName(v);
    const fh = await open(join(bundle, file), "wx", 0o644);
    const hash = createHash("sha256");
    let size = 0;
    // Buffered: a 20 KB blob is a header, its data and its padding in one write.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      await writeAll(fh, pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    const write = async (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= 1024 * 1024) await flush();
    };
    const members = plan.included.filter((b) => b.volume === v);
    // Small blobs of an object store are read ahead, a few at a time, and written in order; a pool file's as written.
    const local = blobs instanceof FilesystemBlobStore ? blobs : undefined;
    const ahead = new Map<number, Promise<Buffer>>();
    let queued = 0;
    try {
      for (const [i, b] of members.entries()) {
        for (; !local && queued < members.length && queued <= i + READ_AHEAD; queued++) {
          const m = members[queued]!;
          if (m.size > SMALL_BLOB) continue;
          const p = readSmallBlob(blobs, m, opts.signal);
          p.catch(() => undefined);
          ahead.set(queued, p);
        }
        await write(tarHeader(volumeMemberName(b.sha256), b.size, opts.mtime));
        const small = ahead.get(i);
        if (small) {
          ahead.delete(i);
          await write(await small);
        } else if (local && b.size <= SMALL_BLOB) {
          opts.signal?.throwIfAborted();
          await write(readPoolFileSync(local, b));
        } else await copyBlob(blobs, b, write, opts.signal);
        const pad = tarPadding(b.size);
        if (pad > 0) await write(ZERO.subarray(0, pad));
        opts.onBlob?.(b.size);
      }
      await write(ZERO);
      await flush();
      if (isFsyncEnabled()) await fh.sync();
    } finally {
      await fh.close();
    }
    if (size !== plan.volumeBytes[v]) throw new Error(`volume ${file} has ${size} bytes, the plan said ${plan.volumeBytes[v]}`);
    out.push({ file, size, sha256: hash.digest("hex") });
  }
  await fsyncDirs([bundle], opts.signal);
  return out;
}
