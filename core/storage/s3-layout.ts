// Where things live in the bucket, and what a publish must do there: pure functions, unit-tested.
//
//   <prefix>/pool/<aa>/<bb>/<sha256>                   every blob once (content-addressed)
//   <prefix>/published/<repo-id>/latest/<path>         the tree clients read
//   <prefix>/published/<repo-id>/snapshots/<name>/<path>
//   <prefix>/published/<repo-id>/<key>.asc, <key>.gpg     the mirror's public key, when it signs
//   <prefix>/manifests/<repo-id>/<latest|snapshots/<name>>.json   path -> sha256 of each tree (not served)
//
// S3 has no atomic switch of a whole prefix, so a tree is updated in place in an order that keeps it usable:
// data files at new paths first (the live index does not name them yet), then data files whose path stays but
// whose content changes (a Packages.xz without by-hash: the one short window where the live index and a file
// disagree), then the index files (the ones that name all others) one by one, the suite's or repository's
// top-level index last, and only then the files the new tree no longer has are deleted.
import type { TreeEntry } from "../db/package-sets.js";
import { blobRelativePath } from "./blob-store.js";
import { PublishError } from "./publish.js";

export interface TreeFile {
  path: string;
  sha256: string;
}

export interface TreePlan {
  /** Copied first, in parallel: data files at paths the tree does not have yet. */
  data: TreeFile[];
  /** Copied next, in parallel: data files at paths the tree has, with other (or unknown) content. */
  replaced: TreeFile[];
  /** Copied after all data, one at a time, in this order. */
  indexes: TreeFile[];
  /** Paths of the previous tree that the new one no longer has: deleted after the last index is in place. */
  stale: string[];
  /** Paths already in place with the right content. */
  unchanged: number;
  /** What the manifest may claim while the copies run: the previous tree minus every path being rewritten. */
  interim: Map<string, string>;
  /** The new tree (manifest written once every copy is done). */
  manifest: Map<string, string>;
}

const MANIFEST_FORMAT = 1;
const RPM_INDEX = ["repodata/repomd.xml.key", "repodata/repomd.xml.asc", "repodata/repomd.xml"];
/** A Release file is signed by Release.gpg, InRelease is both in one; apt asks for InRelease first. */
const APT_INDEX = ["Release.gpg", "Release", "InRelease"];

function joinKey(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/");
}

export function poolKeyOf(prefix: string, sha256: string): string {
  return joinKey(prefix, "pool", blobRelativePath(sha256));
}

/** The pool's "directory" for blobs whose sha256 starts with `aa` (a ListObjectsV2 prefix). */
export function poolListPrefix(prefix: string, aa: string): string {
  return `${joinKey(prefix, "pool", aa)}/`;
}

/** `name` is `latest` or `snapshots/<name>`. */
export function treeKeyPrefix(prefix: string, repoId: string, name: string): string {
  return `${joinKey(prefix, "published", repoId, name)}/`;
}

/** A file of the repository beside its trees (the mirror's public key): <prefix>/published/<repo-id>/<file>. */
export function repoFileKeyOf(prefix: string, repoId: string, fileName: string): string {
  return joinKey(prefix, "published", repoId, checkTreePath(fileName));
}

export function manifestKeyOf(prefix: string, repoId: string, name: string): string {
  return joinKey(prefix, "manifests", repoId, `${name}.json`);
}

/** A published path must stay a plain relative path (no '.', '..' or empty segments, no leading '/'). */
export function checkTreePath(path: string): string {
  const segments = path.split("/");
  if (path === "" || path.includes("\\") || segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new PublishError(`refusing to publish "${path}": not a plain path inside the tree`);
  }
  return path;
}

/**
 * S3 serves a key with '+' only when the request spells it %2B (current dnf and apt do): a '+' sent as is
 * (yum on EL7, old apt, curl, wget) is read as a space. So a file whose path has '+' is also published with
 * spaces in its place.
 */
export function plusAlias(path: string): string | undefined {
  return path.includes("+") ? path.replaceAll("+", " ") : undefined;
}

/** The keys of a tree: every entry, plus a space-for-plus alias where one is needed and does not clash. */
export function treeFiles(entries: readonly TreeEntry[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const e of entries) {
    const path = checkTreePath(e.path);
    const prev = files.get(path);
    if (prev !== undefined && prev !== e.sha256) throw new PublishError(`refusing to publish "${path}" twice with different content (${prev} and ${e.sha256})`);
    files.set(path, e.sha256);
  }
  for (const e of entries) {
    const alias = plusAlias(e.path);
    if (alias !== undefined && !files.has(alias)) files.set(alias, e.sha256);
  }
  return files;
}

/** Where an index file goes in the write order (higher is later), or undefined for a data file. */
export function indexRank(path: string): number | undefined {
  const rpm = RPM_INDEX.indexOf(path);
  if (rpm >= 0) return 10_000 + rpm;
  const segments = path.split("/");
  const apt = APT_INDEX.indexOf(segments.at(-1)!);
  if (segments[0] !== "dists" || segments.length < 3 || apt < 0) return undefined;
  // Deeper Release files (per component) before the suite's own, which names them.
  return (1_000 - segments.length) * APT_INDEX.length + apt;
}

export function isIndexPath(path: string): boolean {
  return indexRank(path) !== undefined;
}

/**
 * Repository metadata (repodata/, dists/) may change at the same path from one publish to the next: caches
 * and CDNs in front of the bucket must revalidate it. Packages keep the bucket's (and the cache's) defaults.
 */
export function cacheControlFor(path: string): string | undefined {
  return path.startsWith("repodata/") || path.startsWith("dists/") ? "no-cache" : undefined;
}

/**
 * What to copy, in which order, and what to delete, given the keys now under the tree's prefix (`present`)
 * and the previous manifest. A path is left alone only when it is present and the manifest says it holds
 * the wanted blob; anything else is (re)copied, so a lost manifest costs copies, never a wrong file.
 */
export function planTreeUpdate(entries: readonly TreeEntry[], present: ReadonlySet<string>, previous: ReadonlyMap<string, string>): TreePlan {
  const manifest = treeFiles(entries);
  const data: TreeFile[] = [];
  const replaced: TreeFile[] = [];
  const indexes: TreeFile[] = [];
  let unchanged = 0;
  for (const [path, sha256] of manifest) {
    if (present.has(path) && previous.get(path) === sha256) {
      unchanged++;
      continue;
    }
    (isIndexPath(path) ? indexes : present.has(path) ? replaced : data).push({ path, sha256 });
  }
  const byPath = (a: TreeFile, b: TreeFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  data.sort(byPath);
  replaced.sort(byPath);
  indexes.sort((a, b) => indexRank(a.path)! - indexRank(b.path)!);
  const rewritten = new Set([...data, ...replaced, ...indexes].map((f) => f.path));
  const interim = new Map([...previous].filter(([path]) => present.has(path) && !rewritten.has(path)));
  const stale = [...present].filter((p) => !manifest.has(p)).sort();
  return { data, replaced, indexes, stale, unchanged, interim, manifest };
}

/** Index files first when a tree goes away, so no client is sent into a half-deleted tree. */
export function unpublishOrder(keys: readonly string[], treePrefix: string): { indexes: string[]; rest: string[] } {
  const rank = (k: string) => indexRank(k.slice(treePrefix.length));
  const indexes = keys.filter((k) => rank(k) !== undefined).sort((a, b) => rank(b)! - rank(a)!);
  const rest = keys.filter((k) => rank(k) === undefined);
  return { indexes, rest };
}

export function serializeManifest(files: ReadonlyMap<string, string>): Buffer {
  const sorted = Object.fromEntries([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return Buffer.from(JSON.stringify({ format: MANIFEST_FORMAT, files: sorted }));
}

/** A manifest we cannot read counts as empty: the next publish then copies everything again. */
export function parseManifest(data: Buffer | undefined): Map<string, string> {
  if (!data) return new Map();
  try {
    const doc = JSON.parse(data.toString("utf8")) as { format?: unknown; files?: unknown };
    if (doc.format !== MANIFEST_FORMAT || !doc.files || typeof doc.files !== "object") return new Map();
    return new Map(Object.entries(doc.files as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch {
    return new Map();
  }
}
