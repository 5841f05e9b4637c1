// pool gc's sweep of published trees: in each <published>/<repo-id>/.trees/, the trees no link points to go, except
// the newest previous tree of each published name (clients mid-download), live builders' and very young ones.
import { lstat, readdir, readlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { collectGarbage, sweepLeftovers } from "./publish.js";

const TREES = ".trees";
/** publish.ts's collectGarbage keeps a finished tree this young: a concurrent publish may be swapping onto it. */
const TREE_GRACE_MS = 10 * 60 * 1000;
/** `<name>-<stamp>` as publishTree names a finished tree (stamp: ISO-8601 without separators, sorts by time). */
const FINISHED_TREE = /^(.+)-(\d{8}T\d{9}Z)$/;

/** The tree directory name prefix publishTree gives a published name (`snapshots/x` -> `snapshots_x`). */
function treeGroupOf(publishedName: string): string {
  return publishedName.replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * The trees to keep beside the linked ones: per published name that is still linked, its newest finished tree
 * older than the linked one that no name links (the tree clients that read the previous index are finishing, and the
 * standby the next publish updates by difference: publish.ts standbyTree). Pure: names only.
 */
export function previousTreesToKeep(treeNames: readonly string[], linked: ReadonlyMap<string, string>): string[] {
  const keep: string[] = [];
  // A tree another name points to (a snapshot that reused latest's) is kept anyway: the one before it is the standby.
  const linkedTrees = new Set(linked.values());
  for (const [publishedName, target] of linked) {
    const group = treeGroupOf(publishedName);
    const older = treeNames
      .filter((n) => n !== target && n < target && FINISHED_TREE.exec(n)?.[1] === group && !linkedTrees.has(n))
      .sort()
      .at(-1);
    if (older) keep.push(older);
  }
  return keep;
}

async function linkTarget(path: string): Promise<string | undefined> {
  try {
    if (!(await lstat(path)).isSymbolicLink()) return undefined;
    return resolve(dirname(path), await readlink(path));
  } catch {
    return undefined;
  }
}

/** Published name -> the tree directory name (in .trees) its link points to. */
async function linkedTrees(repoRoot: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const treesDir = join(repoRoot, TREES);
  const names = ["latest", ...(await readdir(join(repoRoot, "snapshots")).catch(() => [] as string[])).map((n) => `snapshots/${n}`)];
  for (const name of names) {
    const target = await linkTarget(join(repoRoot, name));
    if (target && dirname(target) === treesDir) out.set(name, target.slice(treesDir.length + 1));
  }
  return out;
}

export interface TreeSweepResult {
  /** `<repo-id>/.trees/<tree>` (or a dead publish's swap link) removed, or to be removed. */
  removed: string[];
}

/** Sweep every repository directory under the published path; a dry run lists what would go. */
export async function sweepPublishedTrees(publishedPath: string, dryRun: boolean): Promise<TreeSweepResult> {
  const removed: string[] = [];
  for (const repoId of (await readdir(publishedPath).catch(() => [] as string[])).sort()) {
    const root = resolve(publishedPath, repoId);
    if (!(await lstat(root).catch(() => undefined))?.isDirectory()) continue;
    const treeNames = await readdir(join(root, TREES)).catch(() => [] as string[]);
    if (treeNames.length === 0) continue;
    const linked = await linkedTrees(root);
    const keep = [...linked.values(), ...previousTreesToKeep(treeNames, linked)];
    if (dryRun) {
      const now = Date.now();
      for (const n of treeNames) {
        const age = now - ((await lstat(join(root, TREES, n)).catch(() => undefined))?.mtimeMs ?? now);
        if (!keep.includes(n) && FINISHED_TREE.test(n) && age >= TREE_GRACE_MS) removed.push(`${repoId}/${TREES}/${n}`);
      }
      continue;
    }
    for (const r of await sweepLeftovers(root)) removed.push(`${repoId}/${r}`);
    const gone = await collectGarbage(
      root,
      keep.map((n) => join(root, TREES, n)),
    );
    for (const n of gone) removed.push(`${repoId}/${TREES}/${n}`);
  }
  return { removed };
}
