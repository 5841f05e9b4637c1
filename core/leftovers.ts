// Temporary files and directories that name their owner (host and pid), and the sweep of those a dead process left.
import { randomBytes } from "node:crypto";
import { lstat, readdir, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { isProcessAlive } from "./process.js";

/** Another host's leftovers (a shared directory) and untagged ones are taken as dead after this long. */
export const LEFTOVER_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** `~host~pid~`: hostnames and pids never hold a `~`, so the tag parses back whatever surrounds it. */
export function ownerTag(host = hostname(), pid = process.pid): string {
  return `~${host}~${pid}~`;
}

/** `<stem>~host~pid~<random>`: a unique name that says which process made it. */
export function ownedName(stem: string): string {
  return `${stem}${ownerTag()}${randomBytes(4).toString("hex")}`;
}

export function parseOwner(name: string): { host: string; pid: number } | null {
  const m = /~([^~/]+)~(\d+)~/.exec(name);
  return m ? { host: m[1]!, pid: Number(m[2]) } : null;
}

export interface LeftoverVerdict {
  name: string;
  dead: boolean;
  why: string;
}

/** Pure: is this entry a leftover of a process that is gone? Ours (this process) never is. */
export function judgeLeftover(
  name: string,
  mtimeMs: number,
  facts: { host: string; pid: number; now: number; maxAgeMs: number; alive(pid: number): boolean },
): LeftoverVerdict {
  const owner = parseOwner(name);
  if (owner && owner.host === facts.host) {
    if (owner.pid === facts.pid) return { name, dead: false, why: "this process" };
    return facts.alive(owner.pid)
      ? { name, dead: false, why: `pid ${owner.pid} is running` }
      : { name, dead: true, why: `pid ${owner.pid} on this host is gone` };
  }
  const old = facts.now - mtimeMs > facts.maxAgeMs;
  return { name, dead: old, why: old ? `older than ${Math.round(facts.maxAgeMs / 3_600_000)} h${owner ? ` (made on ${owner.host})` : ""}` : "recent" };
}

/** Remove the entries of `dir` that `matches` selects and a dead process left; returns what was removed. */
export async function sweepLeftovers(
  dir: string,
  matches: (name: string) => boolean,
  opts: { now?: () => Date; maxAgeMs?: number } = {},
): Promise<LeftoverVerdict[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const facts = {
    host: hostname(),
    pid: process.pid,
    now: (opts.now?.() ?? new Date()).getTime(),
    maxAgeMs: opts.maxAgeMs ?? LEFTOVER_MAX_AGE_MS,
    alive: isProcessAlive,
  };
  const removed: LeftoverVerdict[] = [];
  for (const name of names.filter(matches)) {
    const info = await lstat(join(dir, name)).catch(() => undefined);
    if (!info) continue;
    const verdict = judgeLeftover(name, info.mtimeMs, facts);
    if (!verdict.dead) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(verdict);
  }
  return removed;
}
