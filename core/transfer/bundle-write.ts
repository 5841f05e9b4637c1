// Writes a bundle's blobs from the pool (filesystem or S3): blobs/<aa>/<sha256> files, or tar volumes; every blob hashed as it is copied.
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { forEachLimited } from "../concurrency.js";
import { ChantalError } from "../errors.js";
import { fsyncDirs } from "../storage/durable.js";
import type { BlobStore } from "../storage/blob-store.js";
import { makeDirectory } from "../fs-dirs.js";
import { BLOBS_DIR, blobPath, volumeFileName, volumeMemberName, type VolumeEntry } from "./manifest.js";
import type { ExportPlan } from "./plan.js";
import { tarHeader, tarPadding, TAR_BLOCK } from "./tar.js";

/** A pool blob whose bytes are not its name: the pool is damaged, and the export stops rather than carry it. */
export class PoolBlobCorruptError extends ChantalError {}

const DIR_CONCURRENCY = 8;
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
  if (size !== b.size || actual !== b.sha256)
    throw new PoolBlobCorruptError(
      `pool blob ${b.sha256} (${blobs.locationOf(b.sha256)}) ${size !== b.size ? `has ${size > b.size ? "more than" : "only"} ${size} bytes, the catalog says ${b.size}` : `has sha256 ${actual}`}: the pool is damaged; run "pool verify --deep" (then "pool verify --fix" and a sync) and export again`,
    );
}

async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/** Directory form: blobs/<aa>/<sha256>, a few at a time, each fsynced, then their directories. */
export async function writeBlobDirectory(blobs: BlobStore, bundle: string, plan: ExportPlan, opts: WriteOptions): Promise<void> {
  const dirs = new Set(plan.included.map((b) => join(bundle, BLOBS_DIR, b.sha256.slice(0, 2))));
  await makeDirectory(join(bundle, BLOBS_DIR));
  for (const d of dirs) await makeDirectory(d);
  await forEachLimited(
    plan.included,
    DIR_CONCURRENCY,
    async (b) => {
      const fh = await open(join(bundle, blobPath(b.sha256)), "wx", 0o644);
      try {
        await copyBlob(blobs, b, (chunk) => writeAll(fh, chunk), opts.signal);
        await fh.sync();
      } finally {
        await fh.close();
      }
      opts.onBlob?.(b.size);
    },
    opts.signal,
  );
  await fsyncDirs([...dirs, join(bundle, BLOBS_DIR), bundle], opts.signal);
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
    try {
      for (const b of plan.included) {
        if (b.volume !== v) continue;
        await write(tarHeader(volumeMemberName(b.sha256), b.size, opts.mtime));
        await copyBlob(blobs, b, write, opts.signal);
        const pad = tarPadding(b.size);
        if (pad > 0) await write(ZERO.subarray(0, pad));
        opts.onBlob?.(b.size);
      }
      await write(ZERO);
      await flush();
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (size !== plan.volumeBytes[v]) throw new Error(`volume ${file} has ${size} bytes, the plan said ${plan.volumeBytes[v]}`);
    out.push({ file, size, sha256: hash.digest("hex") });
  }
  await fsyncDirs([bundle], opts.signal);
  return out;
}
