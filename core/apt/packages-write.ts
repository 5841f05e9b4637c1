// Packages and Sources indices of a curated suite: the kept paragraphs verbatim, in upstream order, plain, .gz and .xz.
import { gzipBytes, xzBytes } from "../compress/compress.js";
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

/** The variants of one index at `base` (e.g. "main/binary-amd64/Packages"): plain, .gz and, with a host xz, .xz. */
export async function indexVariants(base: string, text: string, signal?: AbortSignal): Promise<IndexVariants> {
  const plain = Buffer.from(text, "utf8");
  const files: WrittenIndex[] = [
    { path: base, data: plain },
    { path: `${base}.gz`, data: gzipBytes(plain) },
  ];
  const xz = await xzBytes(plain, signal);
  if (xz) files.push({ path: `${base}.xz`, data: xz });
  return { files, xz: xz !== null };
}
