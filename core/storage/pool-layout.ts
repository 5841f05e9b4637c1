// The directory layout of a filesystem pool: <aa>/<sha256> (256 directories, since 2026-12) or <aa>/<bb>/<sha256>
// (65,536 directories, the pools made before). A pool made now says so in LAYOUT_FILE, written before its first
// blob directory; a pool with blob directories and no such file was made before it. A pool never changes layout.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errCode, isMissingPath, PoolError } from "./blob-store.js";

/** "aa": <root>/<aa>/<sha256>; "aa/bb": <root>/<aa>/<bb>/<sha256>. */
export type PoolLayout = "aa" | "aa/bb";

/** What a new pool gets: a fresh pool of 20,000 blobs makes 256 directories instead of ~17,500. */
export const CURRENT_POOL_LAYOUT: PoolLayout = "aa";

/** In the pool's root; not a 2-hex-digit name, so no listing of blobs ever takes it for one. */
export const LAYOUT_FILE = ".chantal-pool-layout";

const HEX2 = /^[0-9a-f]{2}$/;

/** The pool's layout, and whether LAYOUT_FILE must be written before its first blob directory is made. */
export interface LayoutSeen {
  layout: PoolLayout;
  markerMissing: boolean;
}

/**
 * The layout from what the pool's root holds: LAYOUT_FILE's content (`marker`, undefined when there is none), and
 * whether any <aa> directory holds anything (`blobDirsUsed`). Empty marker content is the current layout (the file
 * is written before anything it describes; a power loss may leave it empty).
 */
export function layoutOf(marker: string | undefined, blobDirsUsed: boolean, where: string): LayoutSeen {
  if (marker !== undefined) {
    const text = marker.trim();
    if (text === "" || text === "aa") return { layout: "aa", markerMissing: false };
    if (text === "aa/bb") return { layout: "aa/bb", markerMissing: false };
    throw new PoolError(`${where} names the pool layout ${JSON.stringify(text.slice(0, 40))}, which this version does not know (a newer Chantal made it?)`);
  }
  return blobDirsUsed ? { layout: "aa/bb", markerMissing: false } : { layout: CURRENT_POOL_LAYOUT, markerMissing: true };
}

/** layoutOf the pool at `root` (a missing root is a new pool). Synchronous: a few small reads, once per store. */
export function detectPoolLayout(root: string): LayoutSeen {
  const file = join(root, LAYOUT_FILE);
  let marker: string | undefined;
  try {
    marker = readFileSync(file, "utf8");
  } catch (err) {
    if (!isMissingPath(err)) throw err;
  }
  const used = marker === undefined && listOrEmpty(root).some((aa) => HEX2.test(aa) && listOrEmpty(join(root, aa)).length > 0);
  return layoutOf(marker, used, file);
}

/** Write LAYOUT_FILE into an existing root; false when the root does not exist yet. One already there is kept. */
export function writeLayoutFile(root: string, layout: PoolLayout): boolean {
  try {
    writeFileSync(join(root, LAYOUT_FILE), `${layout}\n`, { flag: "wx", mode: 0o644 });
  } catch (err) {
    if (errCode(err) === "EEXIST") return true;
    if (errCode(err) === "ENOENT") return false;
    throw err;
  }
  return true;
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (isMissingPath(err)) return [];
    throw err;
  }
}

/** The directory of a blob below the pool's root, by layout: "ab" or "ab/cd". */
export function blobDirectory(layout: PoolLayout, sha256: string): string {
  return layout === "aa" ? sha256.slice(0, 2) : `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}`;
}
