// Environment trees on the filesystem: <published>/<env> is a symlink to an immutable directory of member links
// (<repo-id> -> ../../<repo-id>/snapshots/<name>), replaced whole by one rename, so a client that resolves
// <env> once sees every member at one promotion. The previous directory stays for clients mid-download.
import { randomBytes } from "node:crypto";
import { lstat, readdir, readlink, rm, symlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ChantalError } from "../errors.js";
import { DirMode, makeDirectory } from "../fs-dirs.js";
import { ownerTag, sweepLeftovers } from "../leftovers.js";
import { durableRename, fsyncPath } from "../storage/durable.js";
import { swapSymlink } from "../storage/publish.js";

export class EnvironmentTreeError extends ChantalError {}

/** Under <published>: the immutable member directories and each environment's `<env>.previous` link. */
export const ENVIRONMENTS_DIR = ".environments";
/** A member directory younger than this is never collected: a client may have resolved <env> to it a moment ago. */
const GRACE_MS = 10 * 60 * 1000;

export interface EnvironmentMember {
  repoId: string;
  snapshotName: string;
}

/** The link an environment's member directory holds for a repository: to its published snapshot, relative so the tree can move. */
export function memberLinkTarget(m: EnvironmentMember): string {
  return `../../${m.repoId}/snapshots/${m.snapshotName}`;
}

/** Swap links and building directories of promotions whose process is gone (a kill -9 mid-promotion). */
export async function sweepEnvironmentLeftovers(publishedPath: string): Promise<string[]> {
  const root = resolve(publishedPath);
  const swap = (n: string) => /\.swap~[^~/]+~\d+~$/.test(n);
  const removed = [
    ...(await sweepLeftovers(root, swap)),
    ...(await sweepLeftovers(join(root, ENVIRONMENTS_DIR), (n) => swap(n) || /\.building~[^~/]+~\d+~$/.test(n))),
  ];
  return removed.map((v) => v.name);
}

/** Member directories no environment link (<env>, .environments/<env>.previous) points to, past the grace period, are removed. */
export async function collectEnvironmentGarbage(publishedPath: string, now = Date.now()): Promise<string[]> {
  const root = resolve(publishedPath);
  const dir = join(root, ENVIRONMENTS_DIR);
  const referenced = new Set<string>();
  const note = async (link: string) => {
    const target = await readlink(link).catch(() => null);
    if (target) referenced.add(resolve(join(link, ".."), target));
  };
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith(".") && (await lstat(join(root, name))).isSymbolicLink()) await note(join(root, name));
  }
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) if (name.endsWith(".previous")) await note(join(dir, name));
  const removed: string[] = [];
  for (const name of names) {
    const full = join(dir, name);
    if (name.endsWith(".previous") || name.includes("~") || referenced.has(full)) continue;
    const st = await lstat(full).catch(() => null);
    if (!st?.isDirectory() || now - st.mtimeMs < GRACE_MS) continue;
    await rm(full, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Make <published>/<env> serve exactly `members`: a new member directory is built and flushed beside the live
 * one, `.environments/<env>.previous` is pointed at the live one, then <env> is swapped onto the new one. A
 * process killed at any step leaves the live state whole (its leftovers are swept by the next promotion).
 */
export async function switchEnvironment(
  publishedPath: string,
  env: string,
  members: readonly EnvironmentMember[],
): Promise<{ path: string; directory: string }> {
  const root = resolve(publishedPath);
  const dir = join(root, ENVIRONMENTS_DIR);
  await makeDirectory(dir, { mode: DirMode.shared });
  await sweepEnvironmentLeftovers(root);
  const name = `${env}-${new Date().toISOString().replace(/[-:.]/g, "")}-${randomBytes(3).toString("hex")}`;
  const building = join(dir, `${name}.building${ownerTag()}`);
  const final = join(dir, name);
  await makeDirectory(building, { mode: DirMode.shared });
  try {
    for (const m of members) await symlink(memberLinkTarget(m), join(building, m.repoId));
    await fsyncPath(building);
    await durableRename(building, final, { syncSource: false });
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw err;
  }
  const envLink = join(root, env);
  const live = await readlink(envLink).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    if (err.code === "EINVAL") throw new EnvironmentTreeError(`${envLink} exists and is not a symlink made by Chantal: move it away`);
    throw err;
  });
  // The live directory stays readable: the .previous link keeps it from the collection below.
  if (live) await swapSymlink(join(dir, `${env}.previous`), live.replace(`${ENVIRONMENTS_DIR}/`, ""));
  await swapSymlink(envLink, `${ENVIRONMENTS_DIR}/${name}`);
  await collectEnvironmentGarbage(root);
  return { path: envLink, directory: final };
}

/** What <published>/<env> serves now: repository id -> snapshot name (empty when the environment was never switched). */
export async function readEnvironment(publishedPath: string, env: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const envDir = join(resolve(publishedPath), env);
  const names = await readdir(envDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  for (const repoId of names) {
    const target = await readlink(join(envDir, repoId)).catch(() => null);
    const m = target ? /^\.\.\/\.\.\/[^/]+\/snapshots\/([^/]+)$/.exec(target) : null;
    if (m) out.set(repoId, m[1]!);
  }
  return out;
}
