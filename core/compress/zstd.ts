// zstd decompression: Node's zlib zstd (Node >= 22.15) when it exists and rejects truncated input, else fzstd.
import type { Transform } from "node:stream";
import zlib from "node:zlib";
import { MAX_ZSTD_WINDOW, ZstdDataError } from "./zstd-limits.js";

const MAX_WINDOW_LOG = Math.log2(MAX_ZSTD_WINDOW);

/** The zstd part of node:zlib; @types/node 20 does not declare it, and Node before 22.15 does not have it. */
/** A zlib stream: bytesWritten counts the input bytes zlib consumed. */
type ZstdStream = Transform & { bytesWritten: number };

export interface ZlibZstd {
  createZstdDecompress?: (options: { chunkSize?: number; params?: Record<number, number> }) => ZstdStream;
  zstdCompressSync?: (data: Buffer) => Buffer;
  zstdDecompressSync?: (data: Buffer) => Buffer;
  constants: { ZSTD_d_windowLogMax?: number };
}
const zlibZstd = zlib as unknown as ZlibZstd;

export type ZstdDecoderName = "zlib" | "fzstd";

/**
 * Why zlib's zstd cannot be used on this Node, or undefined when it can: missing (Node < 22.15), or
 * taking a truncated frame as complete (Node 22 at least up to 22.23; nodejs/node#64592).
 */
export function zlibZstdProblem(z: ZlibZstd = zlibZstd): string | undefined {
  if (!z.createZstdDecompress || !z.zstdCompressSync || !z.zstdDecompressSync || z.constants.ZSTD_d_windowLogMax === undefined) {
    return "this Node's zlib has no zstd";
  }
  const whole = z.zstdCompressSync(Buffer.alloc(4096, 0x61));
  try {
    z.zstdDecompressSync(whole.subarray(0, whole.length - 4));
  } catch {
    return undefined;
  }
  return "this Node's zlib accepts truncated zstd data";
}

let chosen: ZstdDecoderName | undefined;

/** The decoder unzstd uses on this Node (checked once). */
export function zstdDecoder(): ZstdDecoderName {
  chosen ??= zlibZstdProblem() === undefined ? "zlib" : "fzstd";
  return chosen;
}

/** zlib's errors in the words the fzstd path uses; other zstd errors keep zstd's own message. */
function zlibError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ZSTD_error_frameParameter_windowTooLarge") {
    return new ZstdDataError(`frame needs a window larger than ${MAX_ZSTD_WINDOW / 1048576} MiB; more is refused`);
  }
  if (code === "Z_BUF_ERROR") return new ZstdDataError("compressed data is truncated");
  return err;
}

function newZlibDecoder(): ZstdStream {
  return zlibZstd.createZstdDecompress!({
    chunkSize: 64 * 1024,
    params: { [zlibZstd.constants.ZSTD_d_windowLogMax!]: MAX_WINDOW_LOG },
  });
}

async function nextChunk(input: AsyncIterator<Uint8Array>): Promise<Buffer | undefined> {
  for (;;) {
    const next = await input.next();
    if (next.done) return undefined;
    if (next.value.length > 0) return Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
  }
}

/** Resolves when zlib has consumed the whole chunk (or the decoder is gone), so bytesWritten is exact then. */
function writeAll(decoder: Transform, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    decoder.once("close", resolve);
    decoder.write(chunk, () => {
      decoder.off("close", resolve);
      resolve();
    });
  });
}

/**
 * Feeds one decoder a chunk at a time. Node's zstd stream ends when a frame ends inside a chunk (nodejs zlib
 * reads it as "input ended early"): then the rest of that chunk is returned, to start the next decoder with.
 * Undefined when the input ended.
 */
async function feedDecoder(decoder: ZstdStream, queue: Buffer[], input: AsyncIterator<Uint8Array>): Promise<Buffer[] | undefined> {
  let fed = 0;
  for (;;) {
    const chunk = queue.shift() ?? (await nextChunk(input));
    if (decoder.destroyed) return undefined;
    if (chunk === undefined) {
      decoder.end();
      return undefined;
    }
    fed += chunk.length;
    await writeAll(decoder, chunk);
    if (decoder.destroyed) return undefined;
    const unread = fed - decoder.bytesWritten;
    if (unread > 0) return [chunk.subarray(chunk.length - unread), ...queue];
  }
}

/** Decompresses zstd data (any number of frames) with zlib; the window limit is zstd's own ZSTD_d_windowLogMax. */
export async function* unzstdZlib(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const input = source[Symbol.asyncIterator]();
  let queue: Buffer[] | undefined = [];
  try {
    while (queue !== undefined) {
      if (queue.length === 0) {
        const first = await nextChunk(input);
        if (first === undefined) return;
        queue = [first];
      }
      const decoder = newZlibDecoder();
      // An error of the source (or a late one of zlib after a frame end) reaches the reader through destroy().
      decoder.on("error", () => undefined);
      const feeding: Promise<Buffer[] | undefined> = feedDecoder(decoder, queue, input).catch((err: unknown) => {
        decoder.destroy(err as Error);
        return undefined;
      });
      try {
        // The readable side is pulled: zlib stops decoding while output is unread, so a bomb meets the limit early.
        for await (const out of decoder) yield out as Buffer;
      } catch (err) {
        throw zlibError(err);
      }
      queue = await feeding;
    }
  } finally {
    // Closes the source when the reader leaves early; harmless after its end.
    void input.return?.()?.catch(() => undefined);
  }
}

/** Decompresses zstd data (any number of frames) from an async source of bytes. */
export async function* unzstd(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  if (zstdDecoder() === "zlib") {
    yield* unzstdZlib(source);
    return;
  }
  // Loaded only here: a Node with a usable zlib zstd never loads fzstd.
  const { unzstdFzstd } = await import("./zstd-fzstd.js");
  yield* unzstdFzstd(source);
}
