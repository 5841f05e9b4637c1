// Published trees: built beside the old one from pool hardlinks, flushed to disk, then swapped in by renaming a
// symlink (atomic and durable). Leftovers of killed publishes are swept at the start of the next one.
import { constants } from "node:fs";
import { copyFile, link, lstat, readdir, readFile, readlink, rm, rmdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { ChantalError } from "../errors.js";
import type { TreeEntry } from "../db/package-sets.js";
import { forEachLimited } from "../concurrency.js";
import { durableRename, fsyncDirs, fsyncPath } from "./durable.js";
import { hostname } from "node:os";
import { isProcessAlive } from "../process.js";
import { judgeLeftover, LEFTOVER_MAX_AGE_MS, ownerTag } from "../leftovers.js";
import { DirMode, makeDirectory, SHARED_FILE_MODE } from "../fs-dirs.js";

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

/**
 * Link (else copy) a pooled blob into the tree. A copy is flushed: a power loss after the swap must not show an
 * empty file. A link needs no flush of its own: the blob's data was flushed when it entered the pool, and the
 * link (a directory entry and the inode's link count, one journal transaction) is flushed with its directory.
 */
async function placeFile(source: string, dest: string): Promise<void> {
  try {
    await link(source, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw err;
    await copyFile(source, dest, constants.COPYFILE_FICLONE);
    await fsyncPath(dest);
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

/** Link every file into `dir`, page by page, then flush its directories; returns how many files. */
async function buildTree(dir: string, req: PublishRequest): Promise<number> {
  const made = new Set<string>([dir]);
  const missing = new MissingBlobs();
  let files = 0;
  for await (const page of req.pages) {
    const dirs = new Set<string>();
    for (const e of page) {
      const d = dirname(insideRoot(dir, e.path));
      if (!made.has(d)) dirs.add(d);
    }
    for (const d of [...dirs].sort()) {
      // Each directory made (parents too) is one to flush.
      for (const c of await makeDirectory(d, { mode: DirMode.shared })) made.add(c);
    }
    await forEachLimited(
      page,
      LINK_CONCURRENCY,
      (e) =>
        placeFile(req.blobPath(e.sha256), join(dir, e.path)).catch((err: NodeJS.ErrnoException) => {
          // The directory was just made: ENOENT is the blob's.
          if (err.code === "ENOENT") missing.add(e);
          else throw err;
        }),
      req.signal,
    );
    files += page.length;
  }
  missing.throwIfAny();
  await fsyncDirs(made, req.signal);
  return files;
}

/** Point `linkPath` at `target` atomically: a new symlink renamed over the old one; returns the old target. */
export async function swapSymlink(linkPath: string, target: string): Promise<string | null> {
  let previous: string | null = null;
  try {
    const st = await lstat(linkPath);
    if (st.isSymbolicLink()) previous = await readlink(linkPath);
    else throw new PublishError(`${linkPath} exists and is not a symlink made by Chantal: move it away`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const tmp = `${linkPath}.swap${ownerTag()}`;
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await durableRename(tmp, linkPath, { syncSource: false });
  return previous;
}

/** A tree younger than this is never collected: another process may be about to swap a symlink onto it. */
const TREE_GRACE_MS = 10 * 60 * 1000;
/** A swap marker lives for a moment: one this old is dead, whoever made it. */
const SWAP_MAX_AGE_MS = TREE_GRACE_MS;

async function ageOf(path: string, now: number): Promise<number | undefined> {
  try {
    return now - (await lstat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** `<name>.swap~host~pid~` beside a published name; `.swap-<pid>`: an older version's, made on this host. */
const SWAP = /\.swap(?:~[^~/]+~\d+~|-(\d+))$/;
/** `<stamp>.building~host~pid~` in .trees; `.building-<pid>`: an older version's. */
const BUILDING = /\.building(?:~[^~/]+~\d+~|-(\d+))$/;

/** Whether the process named by a swap or building marker is gone (core/leftovers.ts; an untagged older name is this host's). */
async function isDeadMarker(full: string, name: string, pattern: RegExp, maxAgeMs: number, now: number): Promise<boolean | null> {
  const m = pattern.exec(name);
  if (!m) return null;
  const age = await ageOf(full, now);
  if (age === undefined) return false;
  const tagged = m[1] === undefined ? name : ownerTag(hostname(), Number(m[1]));
  return judgeLeftover(tagged, now - age, { host: hostname(), pid: process.pid, now, maxAgeMs, alive: isProcessAlive }).dead;
}

/** A building tree of a process that is gone: on this host by its pid, else by age. */
function isDeadBuilding(full: string, name: string, now: number): Promise<boolean | null> {
  return isDeadMarker(full, name, BUILDING, LEFTOVER_MAX_AGE_MS, now);
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
    if (referenced.has(full)) continue;
    const deadBuilding = await isDeadBuilding(full, name, now);
    // A live builder's tree stays; a dead one's goes at once (nobody will swap onto it); a finished tree after the grace.
    if (deadBuilding === false || (deadBuilding === null && ((await ageOf(full, now)) ?? Infinity) < TREE_GRACE_MS)) continue;
    await rm(full, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * What killed publishes left where web clients see it: `<name>.swap~host~pid~` symlinks beside `latest` and
 * in `snapshots/`, and their building trees. Removed when their process is gone (on this host by pid, else by age).
 */
export async function sweepLeftovers(repoRoot: string): Promise<string[]> {
  const now = Date.now();
  const removed: string[] = [];
  for (const dir of [repoRoot, join(repoRoot, "snapshots")]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      // An older version's pid-only marker is recognised beside latest only: a snapshot may be named "x.swap-1".
      if (/\.swap-\d+$/.test(name) && (dir !== repoRoot || !name.startsWith("latest.swap-"))) continue;
      const full = join(dir, name);
      if (!(await isDeadMarker(full, name, SWAP, SWAP_MAX_AGE_MS, now))) continue;
      await rm(full, { force: true });
      removed.push(relative(repoRoot, full));
    }
  }
  const treesDir = join(repoRoot, TREES);
  for (const name of await readdir(treesDir).catch(() => [] as string[])) {
    const full = join(treesDir, name);
    if (!(await isDeadBuilding(full, name, now))) continue;
    await rm(full, { recursive: true, force: true });
    removed.push(join(TREES, name));
  }
  return removed;
}

/** Build the tree beside the live one, flush it, swap it in, then drop what nothing points to. */
export async function publishTree(req: PublishRequest): Promise<PublishResult> {
  const root = resolve(req.repoRoot);
  const linkPath = insideRoot(root, req.name);
  await sweepLeftovers(root);
  const stamp = `${req.name.replace(/[^A-Za-z0-9._-]/g, "_")}-${new Date().toISOString().replace(/[-:.]/g, "")}`;
  const building = join(root, TREES, `${stamp}.building${ownerTag()}`);
  const final = join(root, TREES, stamp);
  await makeDirectory(building, { mode: DirMode.shared });
  let files: number;
  try {
    files = await buildTree(building, req);
    // A signal during the last links: nothing is swapped in.
    req.signal?.throwIfAborted();
    // Its files and directories are flushed (buildTree): the rename into place is made durable too.
    await durableRename(building, final, { syncSource: false });
    await fsyncPath(root);
    req.signal?.throwIfAborted();
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    await rm(final, { recursive: true, force: true });
    throw err;
  }
  await makeDirectory(dirname(linkPath), { mode: DirMode.shared });
  const previous = await swapSymlink(linkPath, relative(dirname(linkPath), final));
  // snapshots/ may be new: its entry in the root.
  if (dirname(linkPath) !== root) await fsyncPath(root);
  await collectGarbage(root, previous ? [resolve(dirname(linkPath), previous)] : []);
  return { path: linkPath, files };
}

/**
 * A file of the repository itself beside `latest/` and `snapshots/` (the mirror's public key), replaced atomically:
 * written under .trees/ with a building marker (swept like a killed publish's tree), flushed, renamed into place.
 * Returns false when the file already holds exactly `data`.
 */
export async function publishRepoFile(repoRootPath: string, fileName: string, data: Uint8Array): Promise<boolean> {
  const root = resolve(repoRootPath);
  const dest = insideRoot(root, fileName);
  if (dirname(dest) !== root) throw new PublishError(`refusing to publish "${fileName}" beside the trees: not a plain file name`);
  const current = await readFile(dest).catch(() => undefined);
  if (current?.equals(data)) return false;
  await makeDirectory(join(root, TREES), { mode: DirMode.shared });
  const tmp = join(root, TREES, `${fileName}.building${ownerTag()}`);
  try {
    await writeFile(tmp, data, { mode: SHARED_FILE_MODE });
    await durableRename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return true;
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
