// pool gc through the real CLI after real syncs of an upstream that drops packages: snapshots keep their blobs,
// a deleted snapshot's blobs go, stray blobs and temp files go after the protection time, unlinked old trees go.
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, utimesSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { acquireLock, maintenanceLockRequest } from "../../core/db/locks.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { dnfClient } from "../helpers/dnf.js";
import { describeWithTools } from "../helpers/tools.js";

let upstream: string;
let scratch: string;
let env: SyncEnvironment;

const packageNames = async (): Promise<string[]> => (await env.pg.query(`SELECT name FROM chantal.packages ORDER BY name`)).rows.map((r) => r.name as string);

const blobOf = (sha: string) => join(env.base, "pool", sha.slice(0, 2), sha);

async function blobsOf(names: string[]): Promise<string[]> {
  const r = await env.pg.query(`SELECT sha256 FROM chantal.packages WHERE name = ANY($1) ORDER BY name`, [names]);
  return r.rows.map((row) => blobOf((row.sha256 as string).trim()));
}

const HOUR_AGO = new Date(Date.now() - 3_600_000 * 2);

async function gc(...args: string[]) {
  const r = await env.cli("pool", "gc", "--json", ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-gc-up-"));
  scratch = mkdtempSync(join(tmpdir(), "chantal-gc-scratch-"));
  await generateRpmRepo(upstream, 6, 4_000, { first: 0 });
  env = await startSyncEnvironment({ upstream });
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  const s = await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "s1", "--publish");
  expect(s.code, s.stderr).toBe(0);
  // Upstream drops pkg000000..2 and adds pkg000006..8.
  rmSync(upstream, { recursive: true, force: true });
  mkdirSync(upstream);
  await generateRpmRepo(upstream, 6, 4_000, { first: 3 });
  const again = await env.cli("repo", "sync", "--repo-id", "r1");
  expect(again.code, again.stderr).toBe(0);
}, 240_000);

afterAll(async () => {
  await env?.close();
  rmSync(upstream, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

describe("pool gc", () => {
  it("keeps every blob a snapshot or the current set references; deletes stray blobs and temp files only past the protection time", async () => {
    const before = env.poolFiles().sort();
    expect(await packageNames()).toHaveLength(9);
    const stray = "ab".repeat(32);
    mkdirSync(join(env.base, "pool", "ab"), { recursive: true });
    writeFileSync(blobOf(stray), "nobody references me");
    const young = "cd".repeat(32);
    mkdirSync(join(env.base, "pool", "cd"), { recursive: true });
    writeFileSync(blobOf(young), "just downloaded");
    utimesSync(blobOf(stray), HOUR_AGO, HOUR_AGO);
    mkdirSync(join(env.base, "pool", ".tmp"), { recursive: true });
    const temp = join(env.base, "pool", ".tmp", "ct_otherhost_1_1_x.part");
    writeFileSync(temp, "half a download");
    utimesSync(temp, HOUR_AGO, HOUR_AGO);
    // A file that is not named like a blob is not ours: never touched.
    writeFileSync(join(env.base, "pool", "ab", "README"), "an operator's note");

    const dry = await gc("--dry-run", "--protect-minutes", "30");
    expect(dry).toMatchObject({ dry_run: true, freed: { blobs: 1, bytes: 20 }, protected_orphans: { blobs: 1 }, temp_files: 1 });
    expect(existsSync(blobOf(stray))).toBe(true);
    expect(existsSync(temp)).toBe(true);

    const real = await gc("--protect-minutes", "30");
    expect(real).toMatchObject({ dry_run: false, freed: { blobs: 1, bytes: 20 }, protected_orphans: { blobs: 1 }, temp_files: 1, rows: { packages: 0 } });
    expect(real.scanned.blobs).toBe(before.length + 2);
    expect(existsSync(blobOf(stray))).toBe(false);
    expect(existsSync(blobOf(young))).toBe(true);
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(join(env.base, "pool", "ab", "README"))).toBe(true);
    // Every blob the database knows is still there; the dropped packages stay for s1.
    expect(
      env
        .poolFiles()
        .filter((f) => !f.endsWith(young) && !f.endsWith("README"))
        .sort(),
    ).toEqual(before);
    expect((await env.cli("pool", "verify", "--deep")).code).toBe(0);
    expect(await packageNames()).toHaveLength(9);
  });

  it("refuses while a sync holds the maintenance lock (exit 75), deleting nothing", async () => {
    const sync = await acquireLock(env.db.url, maintenanceLockRequest("shared", "sync r9"));
    try {
      const r = await env.cli("pool", "gc", "--protect-minutes", "0");
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(/syncs, backups or a restore are running \(.*\(sync r9\)\): run pool gc when they have finished/);
      expect(existsSync(blobOf("cd".repeat(32)))).toBe(true);
    } finally {
      await sync.release();
    }
  });

  it("a sync started while pool gc runs is refused at once, naming pool gc (exit 75), and records a skipped run", async () => {
    const gcLock = await acquireLock(env.db.url, maintenanceLockRequest("exclusive", "pool gc"));
    try {
      const r = await env.cli("repo", "sync", "--repo-id", "r1");
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(/pool gc is running \(.*\): sync of r1 not started/);
      const runs = await env.pg.query(`SELECT status FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`);
      expect(runs.rows[0].status).toBe("skipped-locked");
    } finally {
      await gcLock.release();
    }
  });

  it("after the snapshot is deleted, its dropped packages' blobs and rows go, and the current set stays complete", async () => {
    const dropped = await blobsOf(["pkg000000", "pkg000001", "pkg000002"]);
    const kept = await blobsOf(["pkg000003", "pkg000008"]);
    expect((await env.cli("snapshot", "delete", "--repo-id", "r1", "--name", "s1", "--force")).code).toBe(0);
    const r = await gc("--protect-minutes", "0");
    // 3 packages, the young stray, and the first sync's metadata files that only s1 referenced.
    expect(r.rows.packages).toBe(3);
    expect(r.rows.metadata).toBeGreaterThan(0);
    expect(r.freed.blobs).toBe(3 + 1 + r.rows.metadata);
    for (const f of dropped) expect(existsSync(f)).toBe(false);
    for (const f of kept) expect(existsSync(f)).toBe(true);
    expect(await packageNames()).toEqual(["pkg000003", "pkg000004", "pkg000005", "pkg000006", "pkg000007", "pkg000008"]);
    const verify = await env.cli("pool", "verify", "--deep");
    expect(verify.code, verify.stdout).toBe(0);
    // A second run finds nothing more.
    expect(await gc("--protect-minutes", "0")).toMatchObject({ freed: { blobs: 0 }, rows: { packages: 0, metadata: 0 } });
  });

  it("removes unlinked old trees (a crash's too) but keeps the linked ones and latest's previous tree", async () => {
    const trees = join(env.base, "published", "r1", ".trees");
    const linked = ["latest", "snapshots/s1"]
      .filter((n) => existsSync(join(env.base, "published", "r1", n)))
      .map(
        (n) =>
          readlinkSync(join(env.base, "published", "r1", n))
            .split("/")
            .at(-1)!,
      );
    // The real previous trees are younger than publish's grace period: set aside, so that the fakes below are the older ones.
    for (const n of readdirSync(trees)) if (!linked.includes(n)) rmSync(join(trees, n), { recursive: true });
    const old = (name: string) => {
      mkdirSync(join(trees, name, "repodata"), { recursive: true });
      writeFileSync(join(trees, name, "repodata", "repomd.xml"), "old");
      utimesSync(join(trees, name), HOUR_AGO, HOUR_AGO);
    };
    old("latest-20200101T000000000Z"); // older than the previous one: goes
    old("latest-20200102T000000000Z"); // the newest one before the linked tree: kept for clients mid-download
    old("snapshots_gone-20200101T000000000Z"); // a snapshot whose unpublish crashed before removing its tree
    const dry = await gc("--dry-run");
    expect(dry.trees.sort()).toEqual(["r1/.trees/latest-20200101T000000000Z", "r1/.trees/snapshots_gone-20200101T000000000Z"]);
    const r = await gc();
    expect(r.trees.sort()).toEqual(["r1/.trees/latest-20200101T000000000Z", "r1/.trees/snapshots_gone-20200101T000000000Z"]);
    expect(readdirSync(trees).sort()).toEqual([...linked, "latest-20200102T000000000Z"].sort());
  });
});

describeWithTools(["dnf"], "pool gc and dnf", () => {
  it("dnf reads the published latest after gc", async () => {
    const { available } = dnfClient(scratch);
    expect(await available(`file://${env.published("r1")}/`)).toEqual(
      ["pkg000003", "pkg000004", "pkg000005", "pkg000006", "pkg000007", "pkg000008"].map((n) => `${n}-0:1.0-1.noarch`),
    );
  }, 120_000);
});
