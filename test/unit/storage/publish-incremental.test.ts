// Incremental publish: the standby tree updated by difference equals a fresh build; a kill or a failure during the
// update leaves the live tree complete and the next publish repairs; a snapshot of an unchanged set reuses the tree.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { publishTree, readManifest } from "../../../core/storage/publish.js";
import type { TreeEntry } from "../../../core/db/package-sets.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function sha(i: number): string {
  return i.toString(16).padStart(64, "0");
}

/** A pool with blobs 0..n-1 (more can be added) and a published root. */
function fixture(n: number): { base: string; root: string; pool: string; blob: (i: number) => string } {
  const base = mkdtempSync(join(tmpdir(), "chantal-incr-"));
  roots.push(base);
  const pool = join(base, "pool");
  mkdirSync(pool);
  const blob = (i: number) => {
    if (!existsSync(join(pool, sha(i)))) writeFileSync(join(pool, sha(i)), `blob ${i}`);
    return sha(i);
  };
  for (let i = 0; i < n; i++) blob(i);
  return { base, root: join(base, "published", "r1"), pool, blob };
}

/** Packages i in [from, to) under Packages/<i % 4>/, plus repodata/repomd.xml as blob `meta`. */
function entriesOf(blob: (i: number) => string, from: number, to: number, meta: number): TreeEntry[] {
  const out: TreeEntry[] = [];
  for (let i = from; i < to; i++) out.push({ path: `Packages/${i % 4}/p${i}.rpm`, sha256: blob(i) });
  out.push({ path: "repodata/repomd.xml", sha256: blob(meta) });
  return out;
}

function pagesOf(entries: TreeEntry[], size = 7): () => AsyncGenerator<TreeEntry[]> {
  return async function* () {
    for (let i = 0; i < entries.length; i += size) yield entries.slice(i, i + size);
  };
}

/** Every file of a tree (relative path -> inode) and every directory: what a client and the filesystem see. */
function walk(dir: string): { files: Map<string, number>; dirs: string[] } {
  const files = new Map<string, number>();
  const dirs: string[] = [];
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = join(e.parentPath, e.name);
    if (e.isDirectory()) dirs.push(relative(dir, full));
    else files.set(relative(dir, full), statSync(full).ino);
  }
  return { files, dirs: dirs.sort() };
}

/** What a tree of `entries` must be: each path a hard link of its pool blob (same inode), no other file or directory. */
function expectTree(dir: string, entries: TreeEntry[], pool: string): void {
  const { files, dirs } = walk(dir);
  expect([...files.keys()].sort()).toEqual(entries.map((e) => e.path).sort());
  for (const e of entries) expect(files.get(e.path), e.path).toBe(statSync(join(pool, e.sha256)).ino);
  const wantDirs = new Set<string>();
  for (const e of entries) for (let d = e.path.split("/").slice(0, -1); d.length > 0; d = d.slice(0, -1)) wantDirs.add(d.join("/"));
  expect(dirs).toEqual([...wantDirs].sort());
}

const latestTree = (root: string) => resolve(root, readlinkSync(join(root, "latest")));

describe("incremental publish", () => {
  it("updates the standby by difference into exactly the tree a fresh build makes", async () => {
    const { root, pool, blob, base } = fixture(100);
    const publish = (entries: TreeEntry[], o: { incremental?: boolean; repoRoot?: string } = {}) =>
      publishTree({ repoRoot: o.repoRoot ?? root, name: "latest", pages: pagesOf(entries), blobPath: (s) => join(pool, s), ...o });
    const a = entriesOf(blob, 0, 100, 1000);
    const first = await publish(a);
    expect(first.changed).toBeUndefined();
    const treeA = latestTree(root);
    expect((await readManifest(treeA))?.size).toBe(101);
    // The second publish has no standby yet (A is live): a fresh build; A stays as the previous tree.
    const b = entriesOf(blob, 0, 102, 1001);
    expect((await publish(b)).changed).toBeUndefined();
    expectTree(latestTree(root), b, pool);
    expectTree(treeA, a, pool);
    // The third updates A (the standby): packages 0-9 and the Packages/3 directory's packages leave, 102-109 arrive,
    // package 50 is replaced by another blob, repomd.xml is replaced.
    const c = entriesOf(blob, 10, 110, 1002)
      .filter((e) => !e.path.startsWith("Packages/3/"))
      .map((e) => (e.path === "Packages/2/p50.rpm" ? { ...e, sha256: blob(5000) } : e));
    // The standby is an hour old: the updated tree must look new to collectors (pool gc sweeps unlinked old trees).
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(treeA, hourAgo, hourAgo);
    const third = await publish(c);
    const treeC = latestTree(root);
    expect(Date.now() - statSync(treeC).mtimeMs).toBeLessThan(60_000);
    expect(treeC).not.toBe(treeA);
    expect(existsSync(treeA)).toBe(false);
    // Every path that left or arrived, plus the replaced package and repomd.xml.
    const removed = a.filter((e) => !c.some((x) => x.path === e.path)).length;
    const added = c.filter((e) => !a.some((x) => x.path === e.path)).length;
    expect(third.changed).toBe(removed + added + 2);
    expect(third.files).toBe(c.length);
    expectTree(treeC, c, pool);
    expect(existsSync(join(treeC, "Packages", "3"))).toBe(false);
    expect(readFileSync(join(root, "latest", "Packages/2/p50.rpm"), "utf8")).toBe("blob 5000");
    // The same set built afresh elsewhere: the same files, links and directories.
    const fresh = join(base, "published", "fresh");
    await publish(c, { repoRoot: fresh, incremental: false });
    expect(walk(join(fresh, "latest"))).toEqual(walk(join(root, "latest")));
    expect(await readManifest(treeC)).toEqual(new Map(c.map((e) => [e.path, e.sha256])));
    // Two trees stay: the live one and the previous (the next standby), each with its manifest.
    expect(readdirSync(join(root, ".trees")).length).toBe(4);
  });

  it("a standby whose manifest is damaged is not used: the tree is built afresh", async () => {
    const { root, pool, blob } = fixture(20);
    const publish = (entries: TreeEntry[]) => publishTree({ repoRoot: root, name: "latest", pages: pagesOf(entries), blobPath: (s) => join(pool, s) });
    await publish(entriesOf(blob, 0, 20, 100));
    const treeA = latestTree(root);
    await publish(entriesOf(blob, 0, 21, 101));
    // Truncated: the end line is missing.
    const m = readFileSync(`${treeA}.manifest`, "utf8");
    writeFileSync(`${treeA}.manifest`, m.slice(0, m.lastIndexOf("end ")));
    // A file someone added to the standby would survive an update: a fresh build has no trace of it.
    writeFileSync(join(treeA, "stray"), "x");
    const c = entriesOf(blob, 1, 22, 102);
    const r = await publish(c);
    expect(r.changed).toBeUndefined();
    expectTree(latestTree(root), c, pool);
  });

  it("a failure during the standby's update leaves the live tree complete; the next publish builds it afresh", async () => {
    const { root, pool, blob } = fixture(30);
    const publish = (entries: TreeEntry[], blobPath = (s: string) => join(pool, s)) =>
      publishTree({ repoRoot: root, name: "latest", pages: pagesOf(entries, 5), blobPath });
    await publish(entriesOf(blob, 0, 30, 100));
    const b = entriesOf(blob, 0, 31, 101);
    await publish(b);
    const c = entriesOf(blob, 5, 40, 102);
    let calls = 0;
    await expect(
      publish(c, (s) => {
        if (++calls === 3) throw new Error("injected failure");
        return join(pool, s);
      }),
    ).rejects.toThrow(/injected failure/);
    expectTree(join(root, "latest"), b, pool);
    expect(readdirSync(join(root, ".trees")).filter((n) => n.includes(".building"))).toEqual([]);
    const r = await publish(c);
    expectTree(join(root, "latest"), c, pool);
    expect(r.files).toBe(c.length);
  });

  it("kill -9 during the standby's update: the live tree stays complete, and the next publish repairs", async () => {
    const { root, pool, blob, base } = fixture(60);
    const publish = (entries: TreeEntry[]) => publishTree({ repoRoot: root, name: "latest", pages: pagesOf(entries), blobPath: (s) => join(pool, s) });
    await publish(entriesOf(blob, 0, 60, 100));
    const b = entriesOf(blob, 0, 61, 101);
    await publish(b);
    // Half the packages replaced: every page of the update changes files.
    const c = entriesOf(blob, 30, 90, 102);
    const file = join(base, "entries.json");
    writeFileSync(file, JSON.stringify(c));
    const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/publish-child.ts", root, pool, file, "10"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((ok) => child.once("exit", ok));
    await new Promise<void>((ok, fail) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("page 3")) ok();
        if (out.includes("done")) fail(new Error("the child finished before it was killed"));
      });
      child.once("exit", () => fail(new Error(`the child exited early: ${out}`)));
    });
    // The standby is being updated: three pages of changes applied, a building marker on it.
    expect(readdirSync(join(root, ".trees")).some((n) => n.includes(".building"))).toBe(true);
    child.kill("SIGKILL");
    await exited;
    expectTree(join(root, "latest"), b, pool);
    const r = await publish(c);
    // The half-updated standby was swept; the tree is built afresh and complete.
    expect(r.changed).toBeUndefined();
    expectTree(join(root, "latest"), c, pool);
    expect(readdirSync(join(root, ".trees")).filter((n) => n.includes(".building"))).toEqual([]);
    // And the one after is incremental again: from b's tree (the standby now), 0-30 leave, 61-90 arrive, repomd.xml.
    const d = entriesOf(blob, 31, 91, 103);
    expect((await publish(d)).changed).toBe(31 + 30 + 1);
    expectTree(join(root, "latest"), d, pool);
  }, 30_000);

  it("a snapshot of the set latest shows points to latest's tree; a different set gets its own", async () => {
    const { root, pool, blob } = fixture(20);
    const a = entriesOf(blob, 0, 20, 100);
    await publishTree({ repoRoot: root, name: "latest", pages: pagesOf(a), blobPath: (s) => join(pool, s) });
    const snap = await publishTree({ repoRoot: root, name: "snapshots/s1", pages: pagesOf(a), blobPath: (s) => join(pool, s), reuse: true });
    expect(snap.reused).toBe(true);
    expect(resolve(join(root, "snapshots"), readlinkSync(join(root, "snapshots", "s1")))).toBe(latestTree(root));
    const other = entriesOf(blob, 0, 19, 100);
    const s2 = await publishTree({ repoRoot: root, name: "snapshots/s2", pages: pagesOf(other), blobPath: (s) => join(pool, s), reuse: true });
    expect(s2.reused).toBeUndefined();
    expectTree(join(root, "snapshots", "s2"), other, pool);
    // latest moves on twice: the tree s1 shares is never taken for latest's standby.
    await publishTree({ repoRoot: root, name: "latest", pages: pagesOf(entriesOf(blob, 0, 21, 101)), blobPath: (s) => join(pool, s) });
    const c = entriesOf(blob, 0, 22, 102);
    await publishTree({ repoRoot: root, name: "latest", pages: pagesOf(c), blobPath: (s) => join(pool, s) });
    expectTree(join(root, "snapshots", "s1"), a, pool);
    expectTree(join(root, "latest"), c, pool);
  });
});
