// Streams a bundle's blobs from blobs/ files or tar volumes (sequentially, from a read-only medium), each verified against the manifest's sha256 and size as it is read.
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { errCode } from "../storage/blob-store.js";
import { blobPath, BundleInvalidError, volumeMemberName, type BlobEntry, type Manifest } from "./manifest.js";
import { parseTarHeader, tarPadding, TAR_BLOCK } from "./tar.js";

const READ_CHUNK = 1024 * 1024;
/** Blobs up to this size are read whole and verified before they are handed over; larger ones are streamed. */
/** A blob up to this size is read whole and verified before onBlob sees it: its stream is a buffer, consumable later. */
export const BUFFERED_BLOB_BYTES = 1024 * 1024;
const SMALL_BLOB = BUFFERED_BLOB_BYTES;
const READ_AHEAD = 32;

/** A file read front to back in pieces of at most what is asked for; every byte read from it passes `onBytes` once. */
class ByteSource {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(
    stream: Readable,
    private readonly onBytes: (chunk: Buffer) => void = () => undefined,
  ) {
    this.it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Up to `max` bytes, or null at the end of the file. */
  async next(max: number): Promise<Buffer | null> {
    if (this.buf.length === 0) {
      if (this.done) return null;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return null;
      }
      this.onBytes(r.value);
      this.buf = r.value;
    }
    const out = this.buf.subarray(0, max);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** Exactly `n` bytes, or fewer at the end of the file. */
  async exactly(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const c = await this.next(n - got);
      if (!c) break;
      parts.push(c);
      got += c.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }

  /** Skip `n` bytes (still passing them to onBytes); returns how many there were. */
  async discard(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const c = await this.next(left);
      if (!c) break;
      left -= c.length;
    }
    return n - left;
  }

  /** Read to the end; returns how many bytes were left. */
  async rest(): Promise<number> {
    let n = 0;
    for (let c = await this.next(READ_CHUNK); c; c = await this.next(READ_CHUNK)) n += c.length;
    return n;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/** One blob's bytes from a ByteSource; errors (BundleInvalidError) when they are short or not the manifest's sha256. */
class BlobStream extends Readable {
  remaining: number;
  private readonly hash: Hash = createHash("sha256");
  private pulling: Promise<void> | null = null;

  constructor(
    private readonly src: ByteSource,
    private readonly entry: BlobEntry,
    private readonly where: string,
  ) {
    super({ highWaterMark: READ_CHUNK });
    this.remaining = entry.size;
  }

  /** Asked for more while a pull was still finishing: pull again then. */
  private again = false;
  /** The end was checked and pushed. */
  private ended = false;

  override _read(): void {
    if (this.pulling) {
      this.again = true;
      return;
    }
    this.pulling = this.pull().finally(() => {
      this.pulling = null;
      if (this.again && !this.destroyed) {
        this.again = false;
        this._read();
      }
    });
  }

  private async pull(): Promise<void> {
    try {
      for (;;) {
        if (this.destroyed || this.readableEnded || this.ended) return;
        if (this.remaining === 0) {
          this.ended = true;
          const actual = this.hash.digest("hex");
          if (actual !== this.entry.sha256)
            throw new BundleInvalidError(`${this.where}: blob ${this.entry.sha256} has sha256 ${actual}: the bundle was damaged or tampered with`);
          this.push(null);
          return;
        }
        const chunk = await this.src.next(Math.min(this.remaining, READ_CHUNK));
        if (!chunk)
          throw new BundleInvalidError(
            `${this.where}: blob ${this.entry.sha256} ends after ${this.entry.size - this.remaining} of its ${this.entry.size} bytes: the bundle is truncated`,
          );
        this.remaining -= chunk.length;
        this.hash.update(chunk);
        if (!this.push(chunk)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  /** Wait for a read in flight, so that `remaining` is what the source still holds of this blob. */
  async settle(): Promise<void> {
    await this.pulling;
  }
}

export interface ReadBlobsOptions {
  /**
   * Receives each blob as a stream it should read to the end (what it leaves is read past). A blob of up to 1 MiB is
   * verified before it is handed over; a larger one's stream errors with a BundleInvalidError, at the latest at its
   * end, when the bytes are not the manifest's: a consumer that writes a temp file and adopts it only after the stream
   * ended cleanly never keeps a bad blob. `whole`: a verified small blob's bytes (the same as `data`'s).
   */
  onBlob?: (entry: BlobEntry, data: Readable, whole?: Buffer) => Promise<void>;
  /** Blobs not to hand over (already in the pool, a resumed import); tar volumes are still read past them. */
  skip?: (entry: BlobEntry) => boolean;
  /** Report each problem and go on (export verify); without it the first problem throws (import). */
  onProblem?: (problem: string) => void;
  signal?: AbortSignal;
}

/** Hand one blob over: verified, whatever the consumer does not read drained; a bad blob is a problem, or the error. */
async function deliver(src: ByteSource, entry: BlobEntry, where: string, opts: ReadBlobsOptions): Promise<boolean> {
  if (entry.size <= SMALL_BLOB) return deliverSmall(await src.exactly(entry.size), entry, where, opts);
  const stream = new BlobStream(src, entry, where);
  try {
    if (opts.onBlob) await opts.onBlob(entry, stream);
    else for await (const _ of stream);
    if (!stream.readableEnded && !stream.destroyed) for await (const _ of stream);
    return true;
  } catch (err) {
    if (!(err instanceof BundleInvalidError) || !opts.onProblem) throw err;
    opts.onProblem(err.message);
    return false;
  } finally {
    stream.destroy();
    await stream.settle();
    if (stream.remaining > 0) await src.discard(stream.remaining);
  }
}

/** A small blob is read whole and checked before the consumer sees a byte of it. */
async function deliverSmall(data: Buffer, entry: BlobEntry, where: string, opts: ReadBlobsOptions): Promise<boolean> {
  let bad: string | null = null;
  if (data.length < entry.size) bad = `${where}: blob ${entry.sha256} ends after ${data.length} of its ${entry.size} bytes: the bundle is truncated`;
  else {
    const actual = createHash("sha256").update(data).digest("hex");
    if (actual !== entry.sha256) bad = `${where}: blob ${entry.sha256} has sha256 ${actual}: the bundle was damaged or tampered with`;
  }
  if (bad !== null) {
    problem(opts, bad);
    return false;
  }
  if (opts.onBlob) await opts.onBlob(entry, Readable.from(data.length > 0 ? [data] : [], { objectMode: false }), data);
  return true;
}

/** The first `max` bytes of a file (all of it when it is shorter). */
async function readUpTo(path: string, max: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(max);
    let got = 0;
    while (got < max) {
      const { bytesRead } = await fh.read(buf, got, max - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

function problem(opts: ReadBlobsOptions, message: string): void {
  if (!opts.onProblem) throw new BundleInvalidError(message);
  opts.onProblem(message);
}

/**
 * Read every blob the manifest lists from the bundle `dir` (directory form: blobs/<aa>/<sha256>; tar form: the volumes
 * in order, whose members must be exactly the manifest's, in its order), verifying each; the volumes' size and sha256 too.
 */
export async function readBlobs(dir: string, manifest: Manifest, opts: ReadBlobsOptions = {}): Promise<void> {
  if (manifest.volumes.length === 0) {
    const wanted = manifest.blobs.filter((e) => !opts.skip?.(e));
    // Small blobs are read ahead (one read of the whole file, at most one byte more than the manifest's size, to see
    // a longer file), several at a time, and handed over in order.
    const ahead = new Map<number, Promise<Buffer | undefined>>();
    let queued = 0;
    for (const [i, entry] of wanted.entries()) {
      opts.signal?.throwIfAborted();
      for (; queued < wanted.length && queued <= i + READ_AHEAD; queued++) {
        const e = wanted[queued]!;
        if (e.size > SMALL_BLOB) continue;
        const p = readUpTo(join(dir, blobPath(e.sha256)), e.size + 1).catch((err: unknown) => {
          if (errCode(err) === "ENOENT" || errCode(err) === "EISDIR") return undefined;
          throw err;
        });
        p.catch(() => undefined);
        ahead.set(queued, p);
      }
      const rel = blobPath(entry.sha256);
      const where = `${dir}: ${rel}`;
      const small = ahead.get(i);
      if (small) {
        ahead.delete(i);
        const data = await small;
        if (data === undefined) problem(opts, `${where}: blob ${entry.sha256} is missing from the bundle`);
        else if (data.length !== entry.size)
          problem(
            opts,
            `${where}: blob ${entry.sha256} is ${data.length > entry.size ? "larger than" : `${data.length} bytes,`} the manifest says ${entry.size}`,
          );
        else await deliverSmall(data, entry, where, opts);
        continue;
      }
      const size = await stat(join(dir, rel)).then(
        (s) => (s.isFile() ? s.size : -1),
        (err: unknown) => {
          if (errCode(err) === "ENOENT") return undefined;
          throw err;
        },
      );
      if (size === undefined) {
        problem(opts, `${where}: blob ${entry.sha256} is missing from the bundle`);
        continue;
      }
      if (size !== entry.size) {
        problem(opts, `${where}: blob ${entry.sha256} is ${size < 0 ? "not a file" : `${size} bytes`}, the manifest says ${entry.size}`);
        continue;
      }
      const src = new ByteSource(createReadStream(join(dir, rel), { highWaterMark: READ_CHUNK, ...(opts.signal ? { signal: opts.signal } : {}) }));
      try {
        await deliver(src, entry, where, opts);
      } finally {
        await src.close();
      }
    }
    return;
  }
  for (let v = 0; v < manifest.volumes.length; v++) await readVolume(dir, manifest, v, opts);
}

async function readVolume(dir: string, manifest: Manifest, v: number, opts: ReadBlobsOptions): Promise<void> {
  const volume = manifest.volumes[v]!;
  const path = join(dir, volume.file);
  const where = `${dir}: ${volume.file}`;
  const size = await stat(path).then(
    (s) => s.size,
    (err: unknown) => {
      if (errCode(err) === "ENOENT") return undefined;
      throw err;
    },
  );
  if (size === undefined) return problem(opts, `${where}: volume ${v + 1} of ${manifest.volumes.length} is missing: copy it next to manifest.json`);
  if (size !== volume.size)
    return problem(
      opts,
      `${where}: volume ${v + 1} of ${manifest.volumes.length} is ${size} bytes, the manifest says ${volume.size}${size < volume.size ? ": it is truncated (copy it again)" : ""}`,
    );
  const hash = createHash("sha256");
  const src = new ByteSource(createReadStream(path, { highWaterMark: READ_CHUNK, ...(opts.signal ? { signal: opts.signal } : {}) }), (c) => hash.update(c));
  try {
    const members = manifest.blobs.filter((b) => b.volume === v);
    for (const [i, entry] of members.entries()) {
      opts.signal?.throwIfAborted();
      const header = parseTarHeader(await src.exactly(TAR_BLOCK));
      const expected = volumeMemberName(entry.sha256);
      if (header === null || typeof header === "string" || header.type !== "0" || header.name !== expected || header.size !== entry.size) {
        const found =
          header === null ? "the end of the archive" : typeof header === "string" ? header : `${header.name} (type ${header.type}, ${header.size} bytes)`;
        return problem(opts, `${where}: member ${i + 1} is ${found}; the manifest lists ${expected} (${entry.size} bytes) there: the volume was altered`);
      }
      if (opts.skip?.(entry)) await src.discard(entry.size);
      else await deliver(src, entry, where, opts);
      await src.discard(tarPadding(entry.size));
    }
    const end = parseTarHeader(await src.exactly(TAR_BLOCK));
    if (end !== null)
      return problem(opts, `${where}: ${typeof end === "string" ? end : `member ${end.name}`} after the ${members.length} members the manifest lists`);
    await src.rest();
    const actual = hash.digest("hex");
    if (actual !== volume.sha256) problem(opts, `${where}: volume ${v + 1} has sha256 ${actual}, the manifest says ${volume.sha256}`);
  } finally {
    await src.close();
  }
}
