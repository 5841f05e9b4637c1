// publishTree on a real directory: an abort during the last links swaps nothing; leftovers of dead publishes are swept.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, lutimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { publishTree, sweepLeftovers } from "../../../core/storage/publish.js";
import { isDeadLeftover, markerOf, MARKER_HOST, type LeftoverFacts } from "../../../core/storage/leftovers.js";
import type { TreeEntry } from "../../../core/db/package-sets.js";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A pid that certainly belonged to a process which has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", "0"]).pid!;
}

/** A pool of `n` blobs (named by a fake sha) and the tree entries that publish them. */
function fixture(n: number): { root: string; pool: string; entries: TreeEntry[] } {
  const base = mkdtempSync(join(tmpdir(), "chantal-publish-"));
  roots.push(base);
  const pool = join(base, "pool");
  mkdirSync(pool);
  const entries: TreeEntry[] = [];
  for (let i = 0; i < n; i++) {
    const sha = i.toString(16).padStart(64, "0");
    writeFileSync(join(pool, sha), `blob ${i}`);
    entries.push({ path: `Packages/${i % 3}/p${i}.rpm`, sha256: sha });
  }
  return { root: join(base, "published", "r1"), pool, entries };
}

async function* pagesOf(entries: TreeEntry[]): AsyncGenerator<TreeEntry[]> {
  yield entries;
}

function aged(path: string, minutes: number): void {
  const t = new Date(Date.now() - minutes * 60_000);
  lutimesSync(path, t, t);
}

describe("publishTree", () => {
  it("publishes every file and swaps latest", async () => {
    const { root, pool, entries } = fixture(10);
    const r = await publishTree({ repoRoot: root, name: "latest", pages: pagesOf(entries), blobPath: (s) => join(pool, s) });
    expect(r.files).toBe(10);
    expect(readFileSync(join(root, "latest", "Packages/1/p4.rpm"), "utf8")).toBe("blob 4");
    expect(readdirSync(root).sort()).toEqual([".trees", "latest"]);
  });

  it("a signal during the last links (every link already started) publishes nothing and leaves no tree", async () => {
    const { root, pool, entries } = fixture(40);
    const ac = new AbortController();
    let linked = 0;
    const publishing = publishTree({
      repoRoot: root,
      name: "latest",
      pages: pagesOf(entries),
      blobPath: (s) => {
        // The last item is taken: every link has started when the signal comes.
        if (++linked === entries.length) ac.abort(new Error("interrupted by SIGTERM"));
        return join(pool, s);
      },
      signal: ac.signal,
    });
    await expect(publishing).rejects.toThrow(/SIGTERM/);
    expect(existsSync(join(root, "latest"))).toBe(false);
    expect(readdirSync(join(root, ".trees"))).toEqual([]);
  });
});

describe("leftovers of dead publishes", () => {
  const self = { pid: 100, host: "here" };
  const facts = (marker: string, ageMs: number, alive: number[] = []): LeftoverFacts => ({
    marker: markerOf(marker, "swap")!,
    ageMs,
    maxAgeMs: 60_000,
    self,
    isAlive: (pid) => alive.includes(pid),
  });
  it.each([
    { name: "latest.swap-7@here", ageMs: 1, alive: [], dead: true, why: "this host, pid gone" },
    { name: "latest.swap-7@here", ageMs: 1, alive: [7], dead: false, why: "this host, pid alive" },
    { name: "latest.swap-100@here", ageMs: 1, alive: [], dead: false, why: "our own" },
    { name: "latest.swap-7@there", ageMs: 1, alive: [], dead: false, why: "another host, young: cannot tell" },
    { name: "latest.swap-7@there", ageMs: 120_000, alive: [7], dead: true, why: "another host, old" },
    { name: "latest.swap-7", ageMs: 1, alive: [], dead: true, why: "an older version's pid-only name: this host" },
  ])("$name, $why: dead=$dead", ({ name, ageMs, alive, dead }) => {
    expect(isDeadLeftover(facts(name, ageMs, alive))).toBe(dead);
  });

  it("markerOf reads pid and host, and nothing from other names", () => {
    expect(markerOf("latest.swap-12@h.example-1", "swap")).toEqual({ pid: 12, host: "h.example-1" });
    expect(markerOf("x-20260101T000000000Z.building-12", "building")).toEqual({ pid: 12, host: null });
    expect(markerOf("latest", "swap")).toBeNull();
    expect(markerOf("latest.swap-12@h/x", "swap")).toBeNull();
  });

  it("the next publish sweeps swap links and building trees of dead processes, and keeps the rest", async () => {
    const { root, pool, entries } = fixture(3);
    const dead = deadPid();
    mkdirSync(join(root, ".trees", `latest-1.building-${dead}@${MARKER_HOST}`, "Packages"), { recursive: true });
    mkdirSync(join(root, ".trees", `latest-2.building-${process.pid}@${MARKER_HOST}`), { recursive: true });
    mkdirSync(join(root, ".trees", `latest-3.building-${dead}@elsewhere`), { recursive: true });
    mkdirSync(join(root, "snapshots"), { recursive: true });
    symlinkSync(".trees/latest-1", join(root, `latest.swap-${dead}`));
    symlinkSync(".trees/latest-1", join(root, `latest.swap-${dead}@${MARKER_HOST}`));
    symlinkSync("../.trees/s", join(root, "snapshots", `s1.swap-${dead}@${MARKER_HOST}`));
    symlinkSync("../.trees/s", join(root, "snapshots", `s2.swap-${dead}@elsewhere`));
    symlinkSync("../.trees/s", join(root, "snapshots", `s3.swap-${dead}@elsewhere`));
    aged(join(root, "snapshots", `s3.swap-${dead}@elsewhere`), 60);
    // A snapshot may be named like an older version's marker: never taken for one.
    symlinkSync("../.trees/s", join(root, "snapshots", `named.swap-${dead}`));

    const removed = await sweepLeftovers(root);
    expect(removed.sort()).toEqual(
      [
        `.trees/latest-1.building-${dead}@${MARKER_HOST}`,
        `latest.swap-${dead}`,
        `latest.swap-${dead}@${MARKER_HOST}`,
        `snapshots/s1.swap-${dead}@${MARKER_HOST}`,
        `snapshots/s3.swap-${dead}@elsewhere`,
      ].sort(),
    );
    expect(readdirSync(join(root, "snapshots")).sort()).toEqual([`named.swap-${dead}`, `s2.swap-${dead}@elsewhere`].sort());

    // publishTree sweeps first: a fresh leftover is gone after the next publish.
    symlinkSync(".trees/latest-1", join(root, `latest.swap-${dead}@${MARKER_HOST}`));
    await publishTree({ repoRoot: root, name: "latest", pages: pagesOf(entries), blobPath: (s) => join(pool, s) });
    expect(readdirSync(root).filter((n) => n.includes(".swap-"))).toEqual([]);
    expect(lstatSync(join(root, "latest")).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(root, ".trees")).filter((n) => n.includes(".building-")).sort()).toEqual([`latest-2.building-${process.pid}@${MARKER_HOST}`, `latest-3.building-${dead}@elsewhere`].sort());
  });
});
