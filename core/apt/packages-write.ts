// Packages and Sources indices of a curated suite: the kept paragraphs verbatim, in upstream order, plain, .gz and .xz.
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { compressStream, type OutputCompression, outputCompressionFor } from "../compress/compress.js";
import type { WrittenIndex } from "./release-write.js";

/** deb822 paragraphs (each without its final newline) as an index file: separated by a blank line, ending in a newline. */
export function indexText(paragraphs: readonly string[]): string {
  return paragraphs.length === 0 ? "" : `${paragraphs.join("\n\n")}\n`;
}

export interface IndexVariants {
  files: WrittenIndex[];
  /** False when the host has no xz: only the plain and .gz variants are published. */
  xz: boolean;
}

/** Our own bytes through the compressor of `kind` (fixed levels: the same text gives the same bytes). */
async function compressed(kind: OutputCompression, data: Buffer, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  await pipeline(Readable.from([data]), compressStream(kind), sink, ...(signal ? [{ signal }] : []));
  return Buffer.concat(chunks);
}

/**
 * The variants of one index at `base` (e.g. "main/binary-amd64/Packages"): plain, .gz and, when the host has xz, .xz
 * (apt reads any of them; without xz the Release simply lists no .xz).
 */
export async function indexVariants(
  base: string,
  text: string,
  opts: { signal?: AbortSignal; toolInstalled?: (bin: string) => boolean } = {},
): Promise<IndexVariants> {
  const plain = Buffer.from(text, "utf8");
  const files: WrittenIndex[] = [
    { path: base, data: plain },
    { path: `${base}.gz`, data: await compressed("gz", plain, opts.signal) },
  ];
  const xz = (opts.toolInstalled ? outputCompressionFor("xz", opts.toolInstalled) : outputCompressionFor("xz")).kind === "xz";
  if (xz) files.push({ path: `${base}.xz`, data: await compressed("xz", plain, opts.signal) });
  return { files, xz };
}
