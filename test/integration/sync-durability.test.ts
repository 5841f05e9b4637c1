// A real CLI sync under strace: each blob's data is flushed before its rename into the pool, its directory after it,
// both before the database is told about the blob (the recorder's batches and the commit); the published tree
// before the swap of latest, and the published root after it.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { cliPath, repoRoot } from "../helpers/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let upstream: string | undefined;
let env: SyncEnvironment | undefined;
afterAll(async () => {
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

type Call =
  | { kind: "fsync"; path: string }
  /** syncfs(2) (sync -f, a child process): everything written on the filesystem, here all of the test's. */
  | { kind: "syncfs" }
  | { kind: "rename"; from: string; to: string }
  | { kind: "write"; path: string }
  /** What the CLI sent over a socket: to PostgreSQL (and the upstream's GETs). */
  | { kind: "send"; text: string }
  | { kind: "commit" };

/** The fsync, syncfs, rename, file write and socket write (COMMIT among them) calls in the order they started. */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split("\n")) {
    if (line.includes("resumed>")) continue;
    const sync = /\b(?:fsync|fdatasync)\(\d+<([^>]+)>/.exec(line);
    if (sync) calls.push({ kind: "fsync", path: sync[1]! });
    if (/\bsyncfs\(/.test(line)) calls.push({ kind: "syncfs" });
    const ren = /\brename(?:at2?)?\((?:[^,"]+, )?"([^"]+)", (?:[^,"]+, )?"([^"]+)"/.exec(line);
    if (ren) calls.push({ kind: "rename", from: ren[1]!, to: ren[2]! });
    const write = /\b(?:write|writev|pwrite64|pwritev2?)\(\d+<(\/[^>]+)>/.exec(line);
    if (write) calls.push({ kind: "write", path: write[1]! });
    if (/\bwritev?\(\d+<(?:socket|UNIX|TCP)[^>]*>/.test(line)) calls.push({ kind: "send", text: line });
    if (/\bwritev?\(\d+<(?:socket|UNIX|TCP)[^>]*>.*COMMIT\\0/.test(line)) calls.push({ kind: "commit" });
  }
  return calls;
}

/** `repo sync` of r1 under strace; returns the trace file's text. */
async function tracedSync(e: SyncEnvironment): Promise<string> {
  const trace = join(e.base, "strace.out");
  // Not spawnSync: the upstream server runs in this process and must keep answering.
  const child = spawn(
    "strace",
    [
      "-f",
      "-qq",
      "-y",
      "-s",
      "65536",
      "-e",
      "trace=fsync,fdatasync,syncfs,sync,rename,renameat,renameat2,write,writev,pwrite64,pwritev,pwritev2",
      "-o",
      trace,
      process.execPath,
      cliPath,
      "--config-dir",
      e.configDir,
      "repo",
      "sync",
      "--repo-id",
      "r1",
    ],
    { cwd: repoRoot, env: { ...process.env, CHANTAL_FROM_SOURCE: "1", CHANTAL_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(status, stderr).toBe(0);
  return readFileSync(trace, "utf8");
}

describe("durability of a sync", () => {
  it("storage.fsync: false: a whole sync flushes nothing (no fsync, fdatasync, syncfs or sync)", async () => {
    const up = mkdtempSync(join(tmpdir(), "chantal-up-"));
    const e = await startSyncEnvironment({ upstream: up });
    try {
      await generateRpmRepo(up, 6, 4_096);
      const config = join(e.configDir, "config.yaml");
      writeFileSync(config, readFileSync(config, "utf8").replace("storage:\n", "storage:\n  fsync: false\n"));
      const text = await tracedSync(e);
      expect(e.poolFiles()).toHaveLength(6 + 4);
      // "<pid> fsync(": the call itself, not the word in a write's data.
      expect(text.split("\n").filter((l) => /^\d+\s+(?:fsync|fdatasync|syncfs|sync)\(/.test(l))).toEqual([]);
    } finally {
      await e.close();
      rmSync(up, { recursive: true, force: true });
    }
  });

  it("fsyncs blobs, pool directories, the published tree and the swap, each before what depends on it", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 6, 4_096);
    env = await startSyncEnvironment({ upstream });
    const text = await tracedSync(env);
    const calls = parseTrace(text);
    const pool = join(env.base, "pool");
    const published = join(env.base, "published", "r1");
    const indexOf = (pred: (c: Call) => boolean, from = 0) => calls.findIndex((c, i) => i >= from && pred(c));

    // Every blob: its temp file's data flushed (its own fsync, or a syncfs after its last write) before the rename
    // into <pool>/<aa>/; its directory (a fsync, or a syncfs) after the rename; and both before any message to the
    // database names the blob once its download began (the recorder's batches, the commit).
    const intoPool = calls.flatMap((c, i) => (c.kind === "rename" && c.to.startsWith(`${pool}/`) && !c.to.includes("/.tmp/") ? [{ c, i }] : []));
    expect(intoPool.length).toBe(6 + 4); // packages, and primary, filelists, other, repomd.xml
    const lastBlob = intoPool.at(-1)!.i;
    const commit = indexOf((x) => x.kind === "commit", lastBlob);
    expect(commit).toBeGreaterThan(lastBlob);
    let told = 0;
    for (const { c, i } of intoPool) {
      if (c.kind !== "rename") continue;
      const firstWrite = indexOf((x) => x.kind === "write" && x.path === c.from);
      const lastWrite = calls.findLastIndex((x, j) => j < i && x.kind === "write" && x.path === c.from);
      expect(firstWrite, `writes of ${c.from}`).toBeGreaterThanOrEqual(0);
      const dataFlushed = indexOf((x) => (x.kind === "fsync" && x.path === c.from) || x.kind === "syncfs", lastWrite);
      expect(dataFlushed, `data of ${c.from} flushed after its last write`).toBeGreaterThan(lastWrite);
      expect(dataFlushed, `data of ${c.from} flushed before its rename into the pool`).toBeLessThan(i);
      const entryFlushed = indexOf((x) => (x.kind === "fsync" && x.path === dirname(c.to)) || x.kind === "syncfs", i);
      expect(entryFlushed, `${dirname(c.to)} flushed after the rename of ${basename(c.to)}`).toBeGreaterThan(i);
      expect(entryFlushed, `${dirname(c.to)} flushed before the commit`).toBeLessThan(commit);
      const sha = basename(c.to);
      const sends = calls.flatMap((x, j) => (j > firstWrite && x.kind === "send" && x.text.includes(sha) ? [j] : []));
      for (const j of sends) expect(j, `a message naming ${sha} sent before the blob was durable`).toBeGreaterThan(entryFlushed);
      told += sends.length;
    }
    // Each blob is named at least by the commit's statements (else the check above checks nothing).
    expect(told).toBeGreaterThanOrEqual(intoPool.length);

    // The published tree: its files and directories flushed before it is renamed into place, that before the swap.
    const treeRename = indexOf((x) => x.kind === "rename" && x.from.includes("/.trees/") && x.from.includes(".building"));
    const swap = indexOf((x) => x.kind === "rename" && x.to === join(published, "latest"));
    expect(treeRename).toBeGreaterThan(commit);
    expect(swap).toBeGreaterThan(treeRename);
    const building = calls[treeRename]!.kind === "rename" ? (calls[treeRename] as { from: string }).from : "";
    const treeSyncs = calls.slice(0, treeRename).flatMap((x) => (x.kind === "fsync" && x.path.startsWith(building) ? [x.path] : []));
    // Every directory of the tree (its links are flushed with them; the blobs' data was flushed entering the pool).
    const final = (calls[treeRename] as { to: string }).to;
    const treeDirs = readdirSync(final, { recursive: true, withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(e.parentPath, e.name).replace(final, building));
    expect(treeDirs.length).toBeGreaterThanOrEqual(3); // repodata, Packages, Packages/<x>
    for (const d of [building, ...treeDirs]) expect(treeSyncs, `fsync of ${d}`).toContain(d);
    expect(indexOf((x) => x.kind === "fsync" && x.path === join(published, ".trees"), treeRename)).toBeLessThan(swap);
    // And the swap itself is flushed.
    expect(indexOf((x) => x.kind === "fsync" && x.path === published, swap)).toBeGreaterThan(swap);
  });
});
