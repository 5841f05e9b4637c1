// publishTree on a real directory: an abort during the last links swaps nothing; leftovers of dead publishes are swept.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, lutimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { publishTree, sweepLeftovers } from "../../../core/storage/publish.js";
import { ownerTag } from "../../../core/leftovers.js";
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
  it("the next publish sweeps swap links and building trees of dead processes, and keeps the rest", async () => {
    const { root, pool, entries } = fixture(3);
    const dead = deadPid();
    const host = hostname();
    mkdirSync(join(root, ".trees", `latest-1.building${ownerTag(host, dead)}`, "Packages"), { recursive: true });
    mkdirSync(join(root, ".trees", `latest-2.building${ownerTag()}`), { recursive: true });
    mkdirSync(join(root, ".trees", `latest-3.building${ownerTag("elsewhere", dead)}`), { recursive: true });
    mkdirSync(join(root, ".trees", `latest-4.building-${dead}`), { recursive: true });
    mkdirSync(join(root, "snapshots"), { recursive: true });
    symlinkSync(".trees/latest-1", join(root, `latest.swap-${dead}`));
    symlinkSync(".trees/latest-1", join(root, `latest.swap${ownerTag(host, dead)}`));
    symlinkSync(".trees/latest-1", join(root, `latest.swap${ownerTag()}`));
    symlinkSync("../.trees/s", join(root, "snapshots", `s1.swap${ownerTag(host, dead)}`));
    symlinkSync("../.trees/s", join(root, "snapshots", `s2.swap${ownerTag("elsewhere", dead)}`));
    symlinkSync("../.trees/s", join(root, "snapshots", `s3.swap${ownerTag("elsewhere", dead)}`));
    aged(join(root, "snapshots", `s3.swap${ownerTag("elsewhere", dead)}`), 60);
    // A snapshot may be named like an older version's marker: never taken for one.
    symlinkSync("../.trees/s", join(root, "snapshots", `named.swap-${dead}`));

    const removed = await sweepLeftovers(root);
    expect(removed.sort()).toEqual(
      [
        `.trees/latest-1.building${ownerTag(host, dead)}`,
        `.trees/latest-4.building-${dead}`,
        `latest.swap-${dead}`,
        `latest.swap${ownerTag(host, dead)}`,
        `snapshots/s1.swap${ownerTag(host, dead)}`,
        `snapshots/s3.swap${ownerTag("elsewhere", dead)}`,
      ].sort(),
    );
    expect(readdirSync(join(root, "snapshots")).sort()).toEqual([`named.swap-${dead}`, `s2.swap${ownerTag("elsewhere", dead)}`].sort());
    expect(readdirSync(root).filter((n) => n.includes(".swap"))).toEqual([`latest.swap${ownerTag()}`]);

    // publishTree sweeps first: a fresh leftover is gone after the next publish.
    symlinkSync(".trees/latest-1", join(root, `latest.swap${ownerTag(host, dead)}`));
    await publishTree({ repoRoot: root, name: "latest", pages: pagesOf(entries), blobPath: (s) => join(pool, s) });
    expect(readdirSync(root).filter((n) => n.includes(".swap"))).toEqual([]);
    expect(lstatSync(join(root, "latest")).isSymbolicLink()).toBe(true);
    expect(
      readdirSync(join(root, ".trees"))
        .filter((n) => n.includes(".building"))
        .sort(),
    ).toEqual([`latest-2.building${ownerTag()}`, `latest-3.building${ownerTag("elsewhere", dead)}`].sort());
  });
});
