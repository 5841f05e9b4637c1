// A real CLI sync under strace: blobs are flushed before their rename into the pool, pool directories before the
// commit, the published tree before the swap of latest, and the published root after it.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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

type Call = { kind: "fsync"; path: string } | { kind: "rename"; from: string; to: string } | { kind: "commit" };

/** The fsync, rename and COMMIT (a write of the query to PostgreSQL) calls in the order they started. */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split("\n")) {
    if (line.includes("resumed>")) continue;
    const sync = /\b(?:fsync|fdatasync)\(\d+<([^>]+)>/.exec(line);
    if (sync) calls.push({ kind: "fsync", path: sync[1]! });
    const ren = /\brename(?:at2?)?\((?:[^,"]+, )?"([^"]+)", (?:[^,"]+, )?"([^"]+)"/.exec(line);
    if (ren) calls.push({ kind: "rename", from: ren[1]!, to: ren[2]! });
    if (/\bwritev?\(\d+<(?:socket|UNIX|TCP)[^>]*>.*COMMIT\\0/.test(line)) calls.push({ kind: "commit" });
  }
  return calls;
}

describe("durability of a sync", () => {
  it("fsyncs blobs, pool directories, the published tree and the swap, each before what depends on it", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 6, 4_096);
    env = await startSyncEnvironment({ upstream });
    const trace = join(env.base, "strace.out");
    // Not spawnSync: the upstream server runs in this process and must keep answering.
    const child = spawn(
      "strace",
      [
        "-f",
        "-qq",
        "-y",
        "-s",
        "256",
        "-e",
        "trace=fsync,fdatasync,rename,renameat,renameat2,write,writev",
        "-o",
        trace,
        process.execPath,
        cliPath,
        "--config-dir",
        env.configDir,
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
    const calls = parseTrace(readFileSync(trace, "utf8"));
    const pool = join(env.base, "pool");
    const published = join(env.base, "published", "r1");
    const indexOf = (pred: (c: Call) => boolean, from = 0) => calls.findIndex((c, i) => i >= from && pred(c));
    const lastIndexOf = (pred: (c: Call) => boolean) => calls.findLastIndex(pred);

    // Every blob: its temp file flushed before the rename into <pool>/<aa>/<bb>/.
    const intoPool = calls.flatMap((c, i) => (c.kind === "rename" && c.to.startsWith(`${pool}/`) && !c.to.includes("/.tmp/") ? [{ c, i }] : []));
    expect(intoPool.length).toBe(6 + 4); // packages, and primary, filelists, other, repomd.xml
    for (const { c, i } of intoPool) {
      if (c.kind !== "rename") continue;
      expect(
        indexOf((x) => x.kind === "fsync" && x.path === c.from),
        `fsync of ${c.from}`,
      ).toBeGreaterThanOrEqual(0);
      expect(indexOf((x) => x.kind === "fsync" && x.path === c.from)).toBeLessThan(i);
    }
    // The sync's commit comes after the last blob; every pool directory written to is flushed between them.
    const lastBlob = intoPool.at(-1)!.i;
    const commit = indexOf((x) => x.kind === "commit", lastBlob);
    expect(commit).toBeGreaterThan(lastBlob);
    for (const dir of new Set(intoPool.map(({ c }) => (c.kind === "rename" ? dirname(c.to) : "")))) {
      const lastRename = lastIndexOf((x) => x.kind === "rename" && dirname(x.to) === dir);
      const flushed = indexOf((x) => x.kind === "fsync" && x.path === dir, lastRename);
      expect(flushed, `fsync of ${dir} after its last rename`).toBeGreaterThan(lastRename);
      expect(flushed, `fsync of ${dir} before the commit`).toBeLessThan(commit);
    }

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
