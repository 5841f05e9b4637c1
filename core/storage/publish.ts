// Published trees: built beside the old one from pool hardlinks, flushed to disk, then swapped in by renaming a
// symlink (atomic and durable). Leftovers of killed publishes are swept at the start of the next one. Each tree has a
// manifest beside it (`.trees/<tree>.manifest`); the name's standby tree (the one it pointed to before the live one)
// is updated by difference into the new tree instead of hard-linking every file again.
import { constants, linkSync, rmdirSync, unlinkSync } from "node:fs";
import { copyFile, link, lstat, open, readdir, readFile, readlink, rename, rm, rmdir, symlink, utimes, writeFile } from "node:fs/promises";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { ChantalError } from "../errors.js";
import type { TreeEntry } from "../db/package-sets.js";
import { forEachLimited } from "../concurrency.js";
import { durableRename, fsyncDirs, fsyncPath, isFsyncEnabled } from "./durable.js";
import { hostname } from "node:os";
import { isProcessAlive } from "../process.js";
import { judgeLeftover, LEFTOVER_MAX_AGE_MS, ownerTag } from "../leftovers.js";
import { DirMode, makeDirectory, SHARED_FILE_MODE } from "../fs-dirs.js";

export class PublishError extends ChantalError {}

const TREES = ".trees";
const LINK_CONCURRENCY = 32;

type Pages = AsyncIterable<readonly TreeEntry[]>;

export interface PublishRequest {
  /** `<published>/<repo-id>`: holds `latest`, `snapshots/<name>` and the hidden `.trees/`. */
  repoRoot: string;
  /** Relative to repoRoot: `latest` or `snapshots/<name>`. */
  name: string;
  /**
   * The tree's files, a page at a time (core/db/package-sets.ts treePages). A function may be called twice: when the
   * update of the standby fails half-way, the tree is built afresh (an iterable is read once: no second attempt).
   */
  pages: Pages | (() => Pages);
  blobPath: (sha256: string) => string;
  signal?: AbortSignal;
  /** Update the standby tree by difference when there is one (default true); false: always build afresh. */
  incremental?: boolean;
  /** Point the name at a published tree that holds exactly these files, if any (a snapshot of an unchanged set); default false. */
  reuse?: boolean;
}

export interface PublishResult {
  path: string;
  files: number;
  /** An incremental publish: the links it added, replaced or removed (a full build leaves it out). */
  changed?: number;
  /** The name now points to an existing tree that held exactly these files (PublishRequest.reuse). */
  reused?: boolean;
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
    throw new PublishError(`${this.count} file(s) are missing from the pool, e.g. ${this.examples.join(", ")}: run "repo sync --full" to fetch them again`);
  }
}

/** Links made synchronously between two turns of the event loop (a few ms: timers, lock heartbeats and signals still run). */
const SYNC_LINKS_PER_TURN = 1_000;

/**
 * Hard-link pooled blobs to their destinations (whose directories exist). Synchronous link(2) calls, a thousand per turn
 * of the event loop: a link is a few microseconds, and a round trip through libuv's thread pool and a promise per file
 * cost several times that. A filesystem that cannot link falls back to copies.
 */
async function linkAll(items: readonly { source: string; dest: string; entry: TreeEntry }[], missing: MissingBlobs, signal?: AbortSignal): Promise<void> {
  const copies: (typeof items)[number][] = [];
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % SYNC_LINKS_PER_TURN === 0) {
      await yieldToLoop();
      signal?.throwIfAborted();
    }
    const it = items[i]!;
    try {
      linkSync(it.source, it.dest);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // The directory exists: ENOENT is the blob's.
      if (code === "ENOENT") missing.add(it.entry);
      else if (code === "EXDEV" || code === "EPERM" || code === "EMLINK") copies.push(it);
      else throw err;
    }
  }
  await forEachLimited(copies, LINK_CONCURRENCY, (it) => placeFile(it.source, it.dest), signal);
}

/** `mkdir -p` of each directory not `known` yet; what it creates (parents too) goes to `created`, one to flush each. */
async function makeDirs(dirs: Iterable<string>, known: Set<string>, created: Set<string>): Promise<void> {
  for (const d of [...new Set(dirs)].sort()) {
    if (known.has(d)) continue;
    for (const c of await makeDirectory(d, { mode: DirMode.shared })) created.add(c);
    known.add(d);
  }
}

/** Link every file into `dir`, page by page, then flush its directories; returns how many files. */
async function buildTree(dir: string, req: PublishRequest, pages: Pages, manifest: ManifestWriter): Promise<number> {
  const known = new Set<string>([dir]);
  const fresh = new Set<string>([dir]);
  const missing = new MissingBlobs();
  let files = 0;
  for await (const page of pages) {
    req.signal?.throwIfAborted();
    const items = page.map((e) => ({ source: req.blobPath(e.sha256), dest: insideRoot(dir, e.path), entry: e }));
    await makeDirs(
      items.map((it) => dirname(it.dest)),
      known,
      fresh,
    );
    await linkAll(items, missing, req.signal);
    await manifest.add(page);
    files += page.length;
  }
  missing.throwIfAny();
  await fsyncDirs(fresh, req.signal);
  return files;
}

/** Remove `path` if it exists (a file of the standby that changed or left the tree). */
function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/**
 * Turn the standby tree `dir`, which holds exactly `old` (its manifest), into the tree of `pages`: files whose blob is
 * unchanged stay, changed ones are replaced, new ones linked, those that left the tree removed (and directories they
 * leave empty). Every directory whose entries changed is flushed. Returns how many files and how many changed.
 */
async function updateTree(
  dir: string,
  old: Map<string, string>,
  req: PublishRequest,
  pages: Pages,
  manifest: ManifestWriter,
): Promise<{ files: number; changed: number }> {
  const dirty = new Set<string>();
  const known = new Set<string>([dir]);
  const made = new Set<string>();
  const missing = new MissingBlobs();
  let files = 0;
  let changed = 0;
  for await (const page of pages) {
    req.signal?.throwIfAborted();
    const items: { source: string; dest: string; entry: TreeEntry }[] = [];
    for (const e of page) {
      const before = old.get(e.path);
      if (before !== undefined) old.delete(e.path);
      // Unchanged: nothing on disk is touched, so its path needs no check (a resolve per file was half of the update's CPU).
      if (before === e.sha256) continue;
      const dest = insideRoot(dir, e.path);
      // A replaced file: its old link goes first (nobody reads the standby).
      if (before !== undefined) unlinkIfThere(dest);
      items.push({ source: req.blobPath(e.sha256), dest, entry: e });
      dirty.add(dirname(dest));
    }
    await makeDirs(
      items.map((it) => dirname(it.dest)),
      known,
      made,
    );
    await linkAll(items, missing, req.signal);
    await manifest.add(page);
    files += page.length;
    changed += items.length;
  }
  missing.throwIfAny();
  // What is left of the old manifest is no longer in the tree.
  const emptied = new Set<string>();
  for (const path of old.keys()) {
    const full = insideRoot(dir, path);
    unlinkIfThere(full);
    dirty.add(dirname(full));
    emptied.add(dirname(full));
    changed++;
  }
  // Directories left empty go too (deepest first), as a fresh build would not have them.
  for (const d of [...emptied].sort((a, b) => b.length - a.length)) {
    for (let cur = d; cur !== dir && cur.startsWith(dir + sep); cur = dirname(cur)) {
      try {
        rmdirSync(cur);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOENT") break;
        throw err;
      }
      dirty.delete(cur);
      dirty.add(dirname(cur));
    }
  }
  for (const d of made) dirty.add(dirname(d));
  await fsyncDirs(
    [...dirty, ...made].filter((d) => d === dir || d.startsWith(dir + sep)),
    req.signal,
  );
  return { files, changed };
}

// ---------------------------------------------------------------------------------------------------- manifests

const MANIFEST = ".manifest";
const MANIFEST_HEADER = "chantal-tree-manifest 1";

function manifestPath(tree: string): string {
  return `${tree}${MANIFEST}`;
}

/**
 * A tree's manifest, written while the tree is built: a header line, then `<sha256> <JSON path>` per file, then
 * `end <count>`. It is flushed and renamed into place only once the tree is complete, so a tree with a manifest holds
 * exactly what it lists; a truncated or unreadable manifest makes its tree no standby (it is rebuilt instead).
 */
class ManifestWriter {
  private handle: Awaited<ReturnType<typeof open>> | undefined;
  private count = 0;

  constructor(readonly tmpPath: string) {}

  async add(page: readonly TreeEntry[]): Promise<void> {
    this.handle ??= await open(this.tmpPath, "w", SHARED_FILE_MODE);
    if (this.count === 0) await this.handle.write(`${MANIFEST_HEADER}\n`);
    let text = "";
    for (const e of page) text += `${e.sha256} ${JSON.stringify(e.path)}\n`;
    this.count += page.length;
    await this.handle.write(text);
  }

  /** Flush and close; the caller renames it beside the finished tree. */
  async finish(): Promise<void> {
    this.handle ??= await open(this.tmpPath, "w", SHARED_FILE_MODE);
    if (this.count === 0) await this.handle.write(`${MANIFEST_HEADER}\n`);
    await this.handle.write(`end ${this.count}\n`);
    // Exactly the tree's file mode, whatever the umask (open's mode is masked by it).
    await this.handle.chmod(SHARED_FILE_MODE);
    if (isFsyncEnabled()) await this.handle.sync();
    await this.handle.close();
    this.handle = undefined;
  }

  async discard(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    await rm(this.tmpPath, { force: true });
  }
}

/** The files a tree holds by its manifest (path -> sha256), or null when it has none or it is damaged. */
export async function readManifest(tree: string): Promise<Map<string, string> | null> {
  const text = await readFile(manifestPath(tree), "utf8").catch(() => null);
  if (text === null) return null;
  const lines = text.split("\n");
  if (lines[0] !== MANIFEST_HEADER || lines.at(-1) !== "") return null;
  const out = new Map<string, string>();
  for (let i = 1; i < lines.length - 1; i++) {
    const line = lines[i]!;
    if (line.startsWith("end ")) return i === lines.length - 2 && Number(line.slice(4)) === out.size ? out : null;
    if (line[64] !== " ") return null;
    try {
      out.set(JSON.parse(line.slice(65)) as string, line.slice(0, 64));
    } catch {
      return null;
    }
  }
  return null;
}

/** `<name>-<stamp>` as publishTree names a finished tree (stamp: ISO-8601 without separators, sorts by time). */
const FINISHED_TREE = /^(.+)-(\d{8}T\d{9}Z)$/;

/** The tree directory name prefix a published name's trees get (`snapshots/x` -> `snapshots_x`). */
export function treeGroupOf(publishedName: string): string {
  return publishedName.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** Every tree some published name (`latest`, `snapshots/*`) points to. */
async function referencedTrees(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const p of [join(root, "latest"), ...(await readdir(join(root, "snapshots")).catch(() => [] as string[])).map((n) => join(root, "snapshots", n))]) {
    try {
      out.add(resolve(dirname(p), await readlink(p)));
    } catch {
      /* not a symlink */
    }
  }
  return out;
}

/**
 * The standby of a published name whose live tree is `liveTree`: the newest finished tree of the same name older than
 * it that no name points to and that has a manifest (pool gc's sweep keeps exactly that one: gc-trees.ts). Null when
 * there is none: the next tree is built afresh.
 */
export async function standbyTree(root: string, publishedName: string, liveTree: string | null, referenced: Set<string>): Promise<string | null> {
  if (liveTree === null || dirname(liveTree) !== join(root, TREES)) return null;
  const group = treeGroupOf(publishedName);
  const live = liveTree.slice(join(root, TREES).length + 1);
  const names = await readdir(join(root, TREES)).catch(() => [] as string[]);
  const older = names
    .filter((n) => n < live && FINISHED_TREE.exec(n)?.[1] === group && !referenced.has(join(root, TREES, n)))
    .sort()
    .at(-1);
  if (!older) return null;
  const full = join(root, TREES, older);
  return names.includes(`${older}${MANIFEST}`) ? full : null;
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
  const names = await readdir(treesDir).catch(() => [] as string[]);
  for (const name of names) {
    const full = join(treesDir, name);
    // A manifest goes with its tree (below).
    if (referenced.has(full) || name.endsWith(MANIFEST)) continue;
    const deadBuilding = await isDeadBuilding(full, name, now);
    // A live builder's tree stays; a dead one's goes at once (nobody will swap onto it); a finished tree after the grace.
    if (deadBuilding === false || (deadBuilding === null && ((await ageOf(full, now)) ?? Infinity) < TREE_GRACE_MS)) continue;
    // Its manifest first: a tree without one is never taken for a standby.
    await rm(manifestPath(full), { force: true });
    await rm(full, { recursive: true, force: true });
    removed.push(name);
  }
  const left = new Set(await readdir(treesDir).catch(() => [] as string[]));
  for (const name of left) {
    if (name.endsWith(MANIFEST) && !left.has(name.slice(0, -MANIFEST.length))) await rm(join(treesDir, name), { force: true });
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

/** Where a tree is built: its final name with a building marker (swept when its process is gone). */
function buildingName(final: string): string {
  return `${final}.building${ownerTag()}`;
}

/**
 * A published tree holding exactly `pages`' files (its manifest, compared entry by entry), for `reuse`: the trees the
 * repository's names point to. Null when none does.
 */
async function identicalTree(referenced: Set<string>, pages: Pages): Promise<string | null> {
  const candidates: { tree: string; files: Map<string, string> }[] = [];
  for (const tree of referenced) {
    const files = await readManifest(tree);
    if (files) candidates.push({ tree, files });
  }
  if (candidates.length === 0) return null;
  let count = 0;
  let alive = candidates;
  for await (const page of pages) {
    count += page.length;
    alive = alive.filter((c) => page.every((e) => c.files.get(e.path) === e.sha256));
    if (alive.length === 0) return null;
  }
  return alive.find((c) => c.files.size === count)?.tree ?? null;
}

/**
 * Make `name` point to a tree of `pages`: the standby tree updated by difference when there is one (incremental),
 * else a tree built afresh beside the live one; flushed, then swapped in; then drop what nothing points to. A kill at
 * any point leaves the live tree as it was: the tree being changed is never one a name points to, and it carries a
 * building marker until it is complete (a dead one is swept, and the next publish builds afresh).
 */
export async function publishTree(req: PublishRequest): Promise<PublishResult> {
  const root = resolve(req.repoRoot);
  const linkPath = insideRoot(root, req.name);
  const pagesOf = (): Pages => (typeof req.pages === "function" ? req.pages() : req.pages);
  await sweepLeftovers(root);
  const referenced = await referencedTrees(root);
  // An iterable is read once: only a function of pages can be compared first and then built.
  if (req.reuse && typeof req.pages === "function") {
    const same = await identicalTree(referenced, pagesOf());
    if (same) {
      req.signal?.throwIfAborted();
      const files = (await readManifest(same))?.size ?? 0;
      await makeDirectory(dirname(linkPath), { mode: DirMode.shared });
      await swapSymlink(linkPath, relative(dirname(linkPath), same));
      if (dirname(linkPath) !== root) await fsyncPath(root);
      return { path: linkPath, files, changed: 0, reused: true };
    }
  }
  const stamp = `${treeGroupOf(req.name)}-${new Date().toISOString().replace(/[-:.]/g, "")}`;
  const treesDir = join(root, TREES);
  const final = join(treesDir, stamp);
  const building = buildingName(final);
  const manifest = new ManifestWriter(buildingName(manifestPath(final)));
  await makeDirectory(treesDir, { mode: DirMode.shared });
  const live = await publishedTarget(linkPath);
  const standby = req.incremental === false ? null : await standbyTree(root, req.name, live, referenced);
  let files = 0;
  let changed: number | undefined;
  let updated = false;
  try {
    const old = standby ? await readManifest(standby) : null;
    if (standby && old) {
      // The manifest goes first: from here on a kill leaves a tree that is never taken for a standby again.
      await rm(manifestPath(standby), { force: true });
      await rename(standby, building);
      await fsyncPath(treesDir);
      try {
        ({ files, changed } = await updateTree(building, old, req, pagesOf(), manifest));
        updated = true;
      } catch (err) {
        // An iterable cannot be read again; an abort, a missing blob or the database stay failures.
        // Only a filesystem error (a path that became a directory, a file someone put there) is worth a fresh build.
        const fsError = /^E[A-Z]+$/.test(String((err as NodeJS.ErrnoException).code ?? ""));
        if (typeof req.pages !== "function" || req.signal?.aborted || err instanceof PublishError || !fsError) throw err;
        await manifest.discard();
        await rm(building, { recursive: true, force: true });
      }
    }
    if (!updated) {
      await makeDirectory(building, { mode: DirMode.shared });
      files = await buildTree(building, req, pagesOf(), manifest);
      changed = undefined;
    }
    // A signal during the last links: nothing is swapped in.
    req.signal?.throwIfAborted();
    // A finished tree no name links yet is protected from collectors (pool gc runs without the lock) by its age: an
    // updated standby's directory may not have changed since it was first built.
    if (updated) {
      const now = new Date();
      await utimes(building, now, now);
    }
    await manifest.finish();
    // Its files and directories are flushed (buildTree, updateTree): the rename into place is made durable too.
    await rename(building, final);
    await rename(manifest.tmpPath, manifestPath(final));
    await fsyncPath(treesDir);
    await fsyncPath(root);
    req.signal?.throwIfAborted();
  } catch (err) {
    await manifest.discard();
    await rm(building, { recursive: true, force: true });
    await rm(final, { recursive: true, force: true });
    await rm(manifestPath(final), { force: true });
    throw err;
  }
  await makeDirectory(dirname(linkPath), { mode: DirMode.shared });
  const previous = await swapSymlink(linkPath, relative(dirname(linkPath), final));
  // snapshots/ may be new: its entry in the root.
  if (dirname(linkPath) !== root) await fsyncPath(root);
  // The tree the name pointed to until now stays (clients reading the previous index), and so does the next standby.
  const keep = previous ? [resolve(dirname(linkPath), previous)] : [];
  const next = await standbyTree(root, req.name, final, await referencedTrees(root));
  if (next) keep.push(next);
  await collectGarbage(root, keep);
  return { path: linkPath, files, ...(changed !== undefined ? { changed } : {}) };
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
