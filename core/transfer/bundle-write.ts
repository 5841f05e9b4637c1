// Writes a bundle's blobs from the pool (filesystem or S3): blobs/<aa>/<sha256> files, or tar volumes; every blob hashed as it is copied.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, writeFileSync } from "node:fs";
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
import { tarHeader, tarPadding, TAR_BLOCK, writeTarHeader } from "./tar.js";
import { sharedBuffer, ThreadedSha256 } from "./volume-hash.js";

/** A pool blob whose bytes are not its name: the pool is damaged, and the export stops rather than carry it. */
export class PoolBlobCorruptError extends ChantalError {}

const DIR_CONCURRENCY = 16;
/** Blobs up to this size are read whole, several ahead of the one being written (a pool of 20 KB packages is latency-bound). */
const SMALL_BLOB = 1024 * 1024;
const READ_AHEAD = 32;
const ZERO = Buffer.alloc(TAR_BLOCK * 2);
/** Volumes from this size are hashed in a thread of their own (its start, ~30 ms, is not worth it for less). */
const THREADED_HASH_FROM = 32 * 1024 * 1024;

export interface WriteOptions {
  signal?: AbortSignal;
  /** Hash volumes from this size in a thread (default THREADED_HASH_FROM); tests set it to force either way. */
  threadedHashFrom?: number;
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
      if (blobs instanceof FilesystemBlobStore && b.size <= SMALL_BLOB) {
        // A pool file's small blob, read and written with synchronous calls (no thread-pool hop or promise for each).
        opts.signal?.throwIfAborted();
        writeFileSync(join(bundle, blobPath(b.sha256)), readPoolFileSync(blobs, b), { flag: "wx", mode: 0o644 });
        opts.onBlob?.(b.size);
        return;
      }
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

/** Each of the two buffers a volume is laid out in. */
const VOLUME_BUFFER = 4 * 1024 * 1024;

/**
 * A tar volume laid out in two reusable buffers: members are placed in one (headers written and pool files read
 * straight into it) while the other is being written to the file; the volume's sha256 is updated once per buffer.
 * Nothing is allocated or copied per member, where a header, a data buffer and a concatenation each were.
 */
class VolumeWriter {
  private readonly buffers: [Buffer, Buffer];
  private current = 0;
  /** Bytes of the current buffer filled in. */
  used = 0;
  /** Bytes of the volume so far (written and buffered). */
  size = 0;
  /** The buffer in flight: its write, and its hash when a thread hashes. */
  private writing: Promise<void> = Promise.resolve();
  private readonly hash = createHash("sha256");

  /** `hasher`: the volume is hashed in that thread (the buffers are shared with it), else here. */
  constructor(
    private readonly fh: FileHandle,
    private readonly hasher?: ThreadedSha256,
  ) {
    const buffer = () => (hasher ? sharedBuffer(VOLUME_BUFFER) : Buffer.allocUnsafe(VOLUME_BUFFER));
    this.buffers = [buffer(), buffer()];
  }

  get buffer(): Buffer {
    return this.buffers[this.current]!;
  }

  /** `n` contiguous free bytes in the current buffer (n ≤ VOLUME_BUFFER): a buffer with fewer is handed to the file first. */
  async room(n: number): Promise<void> {
    if (VOLUME_BUFFER - this.used < n) await this.rotate();
  }

  /** The next `n` bytes of the current buffer were filled in. */
  commit(n: number): void {
    this.used += n;
    this.size += n;
  }

  /** Copy `chunk` in (an object store's bytes, a header, padding). */
  async append(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      if (this.used === VOLUME_BUFFER) await this.rotate();
      const n = chunk.copy(this.buffer, this.used, off);
      off += n;
      this.commit(n);
    }
  }

  /** Hand the current buffer to the file and the hash (once the other one is done with both) and fill the other. */
  private async rotate(): Promise<void> {
    const full = this.buffer.subarray(0, this.used);
    // The hash sees the buffers in order: the thread takes its messages in order, and here it is synchronous.
    const hashed = this.hasher?.update(full);
    if (!this.hasher) this.hash.update(full);
    await this.writing;
    const written = writeAll(this.fh, full);
    this.writing = hashed ? Promise.all([written, hashed]).then(() => undefined) : written;
    // Awaited at the next rotate or at the end; not an unhandled rejection meanwhile.
    hashed?.catch(() => undefined);
    this.writing.catch(() => undefined);
    this.current ^= 1;
    this.used = 0;
  }

  /** Wait for a write in flight, whatever its outcome (before the file is closed after a failure). */
  async settle(): Promise<void> {
    await this.writing.catch(() => undefined);
  }

  /** Everything buffered is written; the volume's sha256. */
  async end(): Promise<string> {
    if (this.used > 0) await this.rotate();
    await this.writing;
    return this.hasher ? this.hasher.digest() : this.hash.digest("hex");
  }
}

/** A pool file as a member: its header, its bytes read straight into the volume's buffer and verified (name, catalog size), padding. */
async function placeLocal(w: VolumeWriter, blobs: FilesystemBlobStore, b: { sha256: string; size: number }, opts: WriteOptions): Promise<void> {
  opts.signal?.throwIfAborted();
  const name = volumeMemberName(b.sha256);
  const padded = Math.ceil(b.size / TAR_BLOCK) * TAR_BLOCK;
  const hash = createHash("sha256");
  let got = 0;
  if (TAR_BLOCK + padded + 1 <= VOLUME_BUFFER) {
    // Header, data and padding in one piece of the buffer; one byte more is read to see a file longer than the catalog says.
    await w.room(TAR_BLOCK + padded + 1);
    const at = w.used + TAR_BLOCK;
    const fd = openSync(blobs.pathOf(b.sha256), "r");
    try {
      for (let n = -1; n !== 0 && got <= b.size; got += n) n = readSync(fd, w.buffer, at + got, b.size + 1 - got, got);
    } finally {
      closeSync(fd);
    }
    const actual = hash.update(w.buffer.subarray(at, at + got)).digest("hex");
    if (got !== b.size || actual !== b.sha256) throw corrupt(blobs, b, got, actual);
    writeTarHeader(w.buffer, w.used, name, b.size, opts.mtime);
    w.buffer.fill(0, at + b.size, at + padded);
    w.commit(TAR_BLOCK + padded);
    return;
  }
  // Larger than a buffer: the header, then the file in pieces of what the current buffer has free.
  await w.append(tarHeader(name, b.size, opts.mtime));
  const fd = openSync(blobs.pathOf(b.sha256), "r");
  try {
    while (got < b.size) {
      await w.room(1);
      const n = readSync(fd, w.buffer, w.used, Math.min(VOLUME_BUFFER - w.used, b.size - got), got);
      if (n === 0) break;
      hash.update(w.buffer.subarray(w.used, w.used + n));
      w.commit(n);
      got += n;
      opts.signal?.throwIfAborted();
    }
    if (got === b.size && readSync(fd, Buffer.allocUnsafe(1), 0, 1, got) > 0) got += 1;
  } finally {
    closeSync(fd);
  }
  const actual = hash.digest("hex");
  if (got !== b.size || actual !== b.sha256) throw corrupt(blobs, b, got, actual);
  const pad = tarPadding(b.size);
  if (pad > 0) await w.append(ZERO.subarray(0, pad));
}

/** Tar form: volume-0001.tar, …; each member blobs/<sha256> in the plan's order; returns each volume's size and sha256. */
export async function writeBlobVolumes(blobs: BlobStore, bundle: string, plan: ExportPlan, opts: WriteOptions): Promise<VolumeEntry[]> {
  const out: VolumeEntry[] = [];
  const local = blobs instanceof FilesystemBlobStore ? blobs : undefined;
  for (let v = 0; v < plan.volumeBytes.length; v++) {
    const file = volumeFileName(v);
    const fh = await open(join(bundle, file), "wx", 0o644);
    const hasher = plan.volumeBytes[v]! >= (opts.threadedHashFrom ?? THREADED_HASH_FROM) ? new ThreadedSha256() : undefined;
    const w = new VolumeWriter(fh, hasher);
    const members = plan.included.filter((b) => b.volume === v);
    // Small blobs of an object store are read ahead, a few at a time, and placed in order; a pool file's as placed.
    const ahead = new Map<number, Promise<Buffer>>();
    let queued = 0;
    let sha256: string;
    try {
      for (const [i, b] of members.entries()) {
        if (local) {
          await placeLocal(w, local, b, opts);
        } else {
          for (; queued < members.length && queued <= i + READ_AHEAD; queued++) {
            const m = members[queued]!;
            if (m.size > SMALL_BLOB) continue;
            const p = readSmallBlob(blobs, m, opts.signal);
            p.catch(() => undefined);
            ahead.set(queued, p);
          }
          await w.append(tarHeader(volumeMemberName(b.sha256), b.size, opts.mtime));
          const small = ahead.get(i);
          if (small) {
            ahead.delete(i);
            await w.append(await small);
          } else await copyBlob(blobs, b, (chunk) => w.append(chunk), opts.signal);
          const pad = tarPadding(b.size);
          if (pad > 0) await w.append(ZERO.subarray(0, pad));
        }
        opts.onBlob?.(b.size);
      }
      await w.append(ZERO);
      sha256 = await w.end();
      if (isFsyncEnabled()) await fh.sync();
    } finally {
      await w.settle();
      await hasher?.close();
      await fh.close();
    }
    if (w.size !== plan.volumeBytes[v]) throw new Error(`volume ${file} has ${w.size} bytes, the plan said ${plan.volumeBytes[v]}`);
    out.push({ file, size: w.size, sha256 });
  }
  await fsyncDirs([bundle], opts.signal);
  return out;
}
