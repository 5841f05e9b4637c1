// The directory layout of a filesystem pool: <aa>/<sha256> (256 directories, since 2026-12) or <aa>/<bb>/<sha256>
// (65,536 directories, the pools made before). Told from what the pool holds, so a pool never changes layout under
// its blobs: a pool keeps the layout it was made with, a pool without blobs gets the current one.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { errCode } from "./blob-store.js";

/** "aa": <root>/<aa>/<sha256>; "aa/bb": <root>/<aa>/<bb>/<sha256>. */
export type PoolLayout = "aa" | "aa/bb";

/** What a new pool gets: a fresh pool of 20,000 blobs makes 256 directories instead of ~17,500 (a mkdir is ~140 µs on ext4). */
export const CURRENT_POOL_LAYOUT: PoolLayout = "aa";

const HEX2 = /^[0-9a-f]{2}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The layout of the pool whose top level lists `prefixes` (its <aa> directories), by the first entry found under one
 * of them: a 2-hex-digit name is a <bb> directory, a sha256 name a blob. A pool with neither (new, or emptied by gc)
 * gets `CURRENT_POOL_LAYOUT`. `entriesOf` lists one <aa> directory.
 */
export function layoutFromEntries(prefixes: readonly string[], entriesOf: (aa: string) => readonly string[]): PoolLayout {
  for (const aa of prefixes) {
    if (!HEX2.test(aa)) continue;
    for (const name of entriesOf(aa)) {
      if (HEX2.test(name)) return "aa/bb";
      if (HEX64.test(name) && name.startsWith(aa)) return "aa";
    }
  }
  return CURRENT_POOL_LAYOUT;
}

/** layoutFromEntries of the pool at `root` (a missing root is a new pool). Synchronous: a few readdirs, once per store. */
export function detectPoolLayout(root: string): PoolLayout {
  return layoutFromEntries(listOrEmpty(root), (aa) => listOrEmpty(join(root, aa)));
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (err) {
    if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return [];
    throw err;
  }
}

/** The directory of a blob below the pool's root, by layout: "ab" or "ab/cd". */
export function blobDirectory(layout: PoolLayout, sha256: string): string {
  return layout === "aa" ? sha256.slice(0, 2) : `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}`;
}
