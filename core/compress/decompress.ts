// Streaming decompression of upstream metadata (gzip, xz, zstd, bzip2 or plain) with a hard output limit:
// every decoder is pulled piece by piece, so a decompression bomb ends in LimitExceededError, not out of memory.
import { Duplex, pipeline, Readable, type Transform } from "node:stream";
import { createRequire } from "node:module";
import zlib from "node:zlib";
import type XzDecompress from "xz-decompress";
import { ChantalError } from "../errors.js";
import { bunzip2 } from "./bzip2.js";
import { unzstd } from "./zstd.js";

export type CompressionKind = "gz" | "xz" | "zst" | "bz2" | "none";

/** A size or count limit on untrusted input was exceeded (decompression bomb, gigantic document). */
export class LimitExceededError extends ChantalError {
  readonly limit: string;
  readonly max: number;
  constructor(message: string, info: { limit: string; max: number }) {
    super(message);
    this.limit = info.limit;
    this.max = info.max;
  }
}

/** Compressed data that is corrupt, truncated, or not in the format its name says. */
export class DecompressionError extends ChantalError {}

export interface DecompressOptions {
  /** More decompressed bytes than this fail with LimitExceededError. */
  maxOutputBytes: number;
  /** Names the file in error messages, e.g. "repodata/…-primary.xml.zst". */
  label?: string;
  /**
   * The decompressed size the upstream's index declares (repomd.xml's open-size, the Release's size of the
   * uncompressed variant): more output than this stops at once, long before a bomb reaches maxOutputBytes.
   */
  declared?: DeclaredSize;
}

export interface DeclaredSize {
  bytes: number;
  /** Who declares it, for the message: e.g. "its <open-size> in repomd.xml". */
  by: string;
}

const EXTENSIONS: [string, CompressionKind][] = [
  [".gz", "gz"],
  [".xz", "xz"],
  [".zst", "zst"],
  [".zstd", "zst"],
  [".bz2", "bz2"],
];

/** The compression a file name implies by its extension; anything else is read as plain. */
export function compressionFromPath(href: string): CompressionKind {
  const path = href.split(/[?#]/, 1)[0]!.toLowerCase();
  for (const [ext, kind] of EXTENSIONS) if (path.endsWith(ext)) return kind;
  return "none";
}

function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** Input pieces fed to gzip: zlib inflates a whole written chunk at once (up to ~1000x its size). */
const GZIP_INPUT_PIECE = 16 * 1024;

/** Wraps errors of the source so they pass through the decoder unchanged instead of as "corrupt data". */
class SourceFailure {
  constructor(readonly error: unknown) {}
}

async function* guardedSource(source: AsyncIterable<Uint8Array | string>, seen: { bytes: number }): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of source) {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      seen.bytes += bytes.length;
      yield bytes;
    }
  } catch (err) {
    throw new SourceFailure(err);
  }
}

async function* inPieces(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    for (let i = 0; i < chunk.length; i += size) yield chunk.subarray(i, i + size);
  }
}

/** Runs a Node transform (zlib) as a pull-based iterable: backpressure reaches the source. */
function throughNodeTransform(source: AsyncIterable<Uint8Array>, transform: Transform): AsyncIterable<Buffer> {
  return pipeline(Readable.from(source, { objectMode: false }), transform, () => undefined);
}

async function* gunzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  yield* throughNodeTransform(inPieces(source, GZIP_INPUT_PIECE), zlib.createGunzip({ chunkSize: 64 * 1024 }));
}

/** A web ReadableStream that pulls from an async iterator only when read. */
function pullStream(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await it.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await it.return?.();
    },
  });
}

/** xz-embedded's return codes, as reported by xz-decompress's "failed with error code N". */
const XZ_ERRORS: Record<string, string> = {
  "3": "out of memory",
  "4": "it needs a dictionary larger than 64 MiB",
  "5": "not xz data",
  "6": "unsupported options (for example a SHA-256 integrity check)",
  "7": "the data is corrupt",
  "8": "the data is truncated",
};

class XzDataError extends Error {}

function xzError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = /error code (\d+)/.exec(err.message)?.[1];
  return code !== undefined ? new XzDataError(XZ_ERRORS[code] ?? err.message) : err;
}

async function* unxz(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  // Loaded when an xz file comes: its WebAssembly costs ~8 MB that gz, zstd and plain syncs do not need.
  // require, not import(): the package is CommonJS, and tsx and Node disagree on a dynamic import's default.
  const xzDecompress = createRequire(import.meta.url)("xz-decompress") as typeof XzDecompress;
  const reader = new xzDecompress.XzReadableStream(pullStream(source)).getReader();
  try {
    for (;;) {
      const next = await reader.read().catch((err: unknown) => {
        throw xzError(err);
      });
      if (next.done) return;
      yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    }
  } finally {
    // Stops the decoder and the source when the consumer leaves early; harmless after the end.
    await reader.cancel().catch(() => undefined);
  }
}

async function* plain(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of source) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

const DECODERS: Record<CompressionKind, (source: AsyncIterable<Uint8Array>) => AsyncIterable<Buffer>> = {
  gz: gunzip,
  xz: unxz,
  zst: unzstd,
  bz2: bunzip2,
  none: plain,
};

const FORMAT_NAMES: Record<CompressionKind, string> = { gz: "gzip", xz: "xz", zst: "zstd", bz2: "bzip2", none: "plain" };

function emptyInput(kind: CompressionKind, label: string): DecompressionError {
  return new DecompressionError(`${label}: the file is empty, not ${FORMAT_NAMES[kind]} data`);
}

function decodeFailure(kind: CompressionKind, label: string, err: unknown, inputBytes: number): unknown {
  if (err instanceof SourceFailure) return err.error;
  if (err instanceof ChantalError) return err;
  if (inputBytes === 0) return emptyInput(kind, label);
  const detail = err instanceof Error ? err.message : String(err);
  return new DecompressionError(`${label}: invalid ${FORMAT_NAMES[kind]} data: ${detail}`, { cause: err });
}

/**
 * Decompresses `source` as `kind`, yielding Buffers only as fast as they are consumed; more than
 * opts.maxOutputBytes of output fails with LimitExceededError, corrupt or truncated input with DecompressionError.
 */
export async function* decompressIterable(source: AsyncIterable<Uint8Array | string>, kind: CompressionKind, opts: DecompressOptions): AsyncGenerator<Buffer> {
  const label = opts.label ?? `${FORMAT_NAMES[kind]} data`;
  const seen = { bytes: 0 };
  let produced = 0;
  const declared = opts.declared && opts.declared.bytes < opts.maxOutputBytes ? opts.declared : undefined;
  try {
    for await (const chunk of DECODERS[kind](guardedSource(source, seen))) {
      produced += chunk.length;
      if (declared && produced > declared.bytes) {
        throw new LimitExceededError(
          `${label}: decompresses to more than the ${declared.bytes} bytes of ${declared.by}; refusing it (a decompression bomb, or metadata that does not match its index)`,
          { limit: "declaredSize", max: declared.bytes },
        );
      }
      if (produced > opts.maxOutputBytes) {
        throw new LimitExceededError(
          `${label}: decompresses to more than ${formatBytes(opts.maxOutputBytes)} (the limit); refusing it as a possible decompression bomb`,
          { limit: "maxOutputBytes", max: opts.maxOutputBytes },
        );
      }
      yield chunk;
    }
  } catch (err) {
    throw decodeFailure(kind, label, err, seen.bytes);
  }
  if (seen.bytes === 0 && kind !== "none") throw emptyInput(kind, label);
}

/**
 * The same as a Duplex: write compressed bytes in (or pipe them), read decompressed Buffers out.
 * Errors destroy the stream; a source piped in with .pipe() must forward its own errors (or use stream.pipeline).
 */
export function decompressStream(kind: CompressionKind, opts: DecompressOptions): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Uint8Array | string>) {
    yield* decompressIterable(source, kind, opts);
  });
}
