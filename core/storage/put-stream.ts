// Generated files of any size into the pool: text in, compressed on the way, hashed before and after, then adopted.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobStore } from "./blob-store.js";

export interface PutStreamResult {
  /** Of the stored (compressed) bytes: the pool's key. */
  sha256: string;
  size: number;
  /** Of the bytes before compression. */
  openSha256: string;
  openSize: number;
}

/** Counts and hashes what passes. */
class Measure extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.push(chunk);
    done();
  }
}

/** Writes `source` through `compressor` (a fresh stream per call) into a temp file and adopts it under its sha256. */
export async function putStream(
  blobs: BlobStore,
  source: AsyncIterable<string | Uint8Array>,
  compressor: NodeJS.ReadWriteStream,
  signal?: AbortSignal,
): Promise<PutStreamResult> {
  await blobs.ensureTempDir();
  const tmp = blobs.tempPath("generated");
  const open = new Measure();
  const stored = new Measure();
  try {
    const bytes = Readable.from(
      (async function* () {
        for await (const s of source) yield typeof s === "string" ? Buffer.from(s, "utf8") : s;
      })(),
    );
    await pipeline(bytes, open, compressor, stored, createWriteStream(tmp), ...(signal ? [{ signal }] : []));
    const sha256 = stored.hash.digest("hex");
    if (await blobs.has(sha256)) await rm(tmp, { force: true });
    else await blobs.adopt(tmp, sha256, signal);
    return { sha256, size: stored.bytes, openSha256: open.hash.digest("hex"), openSize: open.bytes };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
