// Published trees: built beside the old one from pool hardlinks, then swapped in by renaming a symlink (atomic).
import { constants } from "node:fs";
import { copyFile, link, lstat, mkdir, readdir, readlink, rename, rm, rmdir, stat, symlink } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { ChantalError } from "../errors.js";
import { isProcessAlive } from "../process.js";
import type { TreeEntry } from "../db/package-sets.js";
import { forEachLimited } from "../concurrency.js";

export class PublishError extends ChantalError {}

const TREES = ".trees";
const LINK_CONCURRENCY = 32;

export interface PublishRequest {
  /** `<published>/<repo-id>`: holds `latest`, `snapshots/<name>` and the hidden `.trees/`. */
  repoRoot: string;
  /** Relative to repoRoot: `latest` or `snapshots/<name>`. */
  name: string;
  /** The tree's files, a page at a time (core/db/package-sets.ts treePages). */
  pages: AsyncIterable<readonly TreeEntry[]>;
  blobPath: (sha256: string) => string;
  signal?: AbortSignal;
}

export interface PublishResult {
  path: string;
  files: number;
}

function insideRoot(root: string, rel: string): string {
  const full = resolve(root, rel);
  if (!full.startsWith(root + sep)) throw new PublishError(`refusing to publish "${rel}": it escapes the tree`);
  return full;
}

async function placeFile(source: string, dest: string): Promise<void> {
  try {
    await link(source, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EXDEV" || code === "EPERM" || code === "EMLINK") await copyFile(source, dest, constants.COPYFILE_FICLONE);
    else throw err;
  }
}

/** Files whose blob is not in the pool: the tree is refused, with a count and a few examples. */
class MissingBlobs {
  count = 0;
  readonly examples: string[] = [];

  add(e: TreeEntry): void {
    if (++this.count <= 3) this.examples.push(`${e.path} (${e.sha256})`);
  }

  throwIfAny(): void {
    if (this.count === 0) return;
    throw new PublishError(`${this.count} file(s) are missing from the pool, e.g. ${this.examples.join(", ")}: run "repo sync" to fetch them again`);
  }
}

/** Link every file into `dir`, page by page; returns how many. */
async function buildTree(dir: string, req: PublishRequest): Promise<number> {
  const made = new Set<string>();
  const missing = new MissingBlobs();
  let files = 0;
  for await (const page of req.pages) {
    const dirs = new Set<string>();
    for (const e of page) {
      const d = dirname(insideRoot(dir, e.path));
      if (!made.has(d)) dirs.add(d);
    }
    for (const d of [...dirs].sort()) {
      await mkdir(d, { recursive: true });
      made.add(d);
    }
    await forEachLimited(page, LINK_CONCURRENCY, (e) => placeFile(req.blobPath(e.sha256), join(dir, e.path)).catch((err: NodeJS.ErrnoException) => {
      // The directory was just made: ENOENT is the blob's.
      if (err.code === "ENOENT") missing.add(e);
      else throw err;
    }), req.signal);
    files += page.length;
  }
  missing.throwIfAny();
  return files;
}

/** Point `linkPath` at `target` atomically: a new symlink renamed over the old one. */
async function swapSymlink(linkPath: string, target: string): Promise<string | null> {
  let previous: string | null = null;
  try {
    const st = await lstat(linkPath);
    if (st.isSymbolicLink()) previous = await readlink(linkPath);
    else throw new PublishError(`${linkPath} exists and is not a symlink made by Chantal: move it away`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const tmp = `${linkPath}.swap-${process.pid}`;
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await rename(tmp, linkPath);
  return previous;
}


/** A tree younger than this is never collected: another process may be about to swap a symlink onto it. */
const TREE_GRACE_MS = 10 * 60 * 1000;

async function isYoung(path: string, now: number): Promise<boolean> {
  try {
    return now - (await stat(path)).mtimeMs < TREE_GRACE_MS;
  } catch {
    return false;
  }
}

/**
 * Remove trees no symlink points to. Kept: trees still being built by a live process, trees built in the
 * last minutes (a concurrent publish may be swapping onto one), and `keep` (the tree `latest` pointed to
 * until now, so that clients that fetched the previous index can finish reading it).
 */
export async function collectGarbage(repoRoot: string, keep: readonly string[] = []): Promise<string[]> {
  const now = Date.now();
  const treesDir = join(repoRoot, TREES);
  const referenced = new Set<string>(keep);
  const addLink = async (p: string) => {
    try {
      referenced.add(resolve(dirname(p), await readlink(p)));
    } catch {
      /* not a symlink */
    }
  };
  await addLink(join(repoRoot, "latest"));
  for (const name of await readdir(join(repoRoot, "snapshots")).catch(() => [] as string[])) await addLink(join(repoRoot, "snapshots", name));
  const removed: string[] = [];
  for (const name of await readdir(treesDir).catch(() => [] as string[])) {
    const full = join(treesDir, name);
    const building = /\.building-(\d+)$/.exec(name);
    if (referenced.has(full) || (building && isProcessAlive(Number(building[1]))) || (await isYoung(full, now))) continue;
    await rm(full, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Build the tree beside the live one, swap it in, then drop what nothing points to. */
export async function publishTree(req: PublishRequest): Promise<PublishResult> {
  const root = resolve(req.repoRoot);
  const linkPath = insideRoot(root, req.name);
  const stamp = `${req.name.replace(/[^A-Za-z0-9._-]/g, "_")}-${new Date().toISOString().replace(/[-:.]/g, "")}`;
  const building = join(root, TREES, `${stamp}.building-${process.pid}`);
  const final = join(root, TREES, stamp);
  await mkdir(building, { recursive: true });
  let files: number;
  try {
    files = await buildTree(building, req);
    await rename(building, final);
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw err;
  }
  await mkdir(dirname(linkPath), { recursive: true });
  const previous = await swapSymlink(linkPath, relative(dirname(linkPath), final));
  await collectGarbage(root, previous ? [resolve(dirname(linkPath), previous)] : []);
  return { path: linkPath, files };
}

/** Remove a published name (a snapshot being deleted) and its tree. */
export async function unpublish(repoRootPath: string, name: string): Promise<boolean> {
  return (await removePublished(repoRootPath, [name])).length > 0;
}

/** The tree a published name points to, or null when the name is not published; a name that is not our symlink is refused. */
async function publishedTarget(linkPath: string): Promise<string | null> {
  try {
    const st = await lstat(linkPath);
    if (!st.isSymbolicLink()) throw new PublishError(`${linkPath} exists and is not a symlink made by Chantal: move it away`);
    return resolve(dirname(linkPath), await readlink(linkPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Remove a directory Chantal made if it is empty now; anything else someone put there stays. */
async function removeIfEmpty(dir: string): Promise<void> {
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT" && err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
  });
}

/**
 * Unpublish names (`latest`, `snapshots/<name>`) now: each symlink goes in one unlink (clients see the whole
 * tree or nothing), then the trees they pointed to, then empty directories up to the repository's root.
 * The caller holds the repository lock, so no publish is swapping onto these trees and the grace period of
 * collectGarbage does not apply to them. Returns the names that were published.
 */
export async function removePublished(repoRootPath: string, names: readonly string[]): Promise<string[]> {
  const root = resolve(repoRootPath);
  const targets = new Map<string, string>();
  for (const name of names) {
    const linkPath = insideRoot(root, name);
    const target = await publishedTarget(linkPath);
    if (target !== null) targets.set(name, target);
  }
  for (const name of targets.keys()) await rm(insideRoot(root, name), { force: true });
  const stillReferenced = new Set<string>();
  for (const link of [join(root, "latest"), ...(await readdir(join(root, "snapshots")).catch(() => [] as string[])).map((n) => join(root, "snapshots", n))]) {
    const t = await publishedTarget(link).catch(() => null);
    if (t) stillReferenced.add(t);
  }
  for (const tree of new Set(targets.values())) {
    // Only trees of our own .trees/ directory are removed: a symlink edited by hand may point anywhere.
    if (dirname(tree) === join(root, TREES) && !stillReferenced.has(tree)) await rm(tree, { recursive: true, force: true });
  }
  await collectGarbage(root);
  for (const dir of [join(root, "snapshots"), join(root, TREES), root]) await removeIfEmpty(dir);
  return [...targets.keys()];
}
