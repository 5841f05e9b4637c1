// A kill -9 during import: nothing is visible but pooled blobs; the same command then completes without copying them again (and copies again one a power loss damaged).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { acquireLock, importLockRequest } from "../../core/db/locks.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let a: SyncEnvironment;
let b: SyncEnvironment;
let scratch: string;
const COUNT = 400;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "chantal-import-resume-"));
  await generateRpmRepo(join(scratch, "upstream"), COUNT, 100_000, { version: "1.0" });
  a = await startSyncEnvironment({ upstream: join(scratch, "upstream") });
  b = await startSyncEnvironment({ upstream: join(scratch, "nothing") });
  expect((await b.cli("db", "migrate")).code).toBe(0);
  expect((await a.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  expect((await a.cli("snapshot", "create", "r1", "--name", "s1")).code).toBe(0);
}, 300_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

it("resumes after kill -9 without copying again the blobs already in the pool", async () => {
  const bundle = join(scratch, "bundle");
  const e = await a.cli("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--output", bundle, "--unsigned");
  expect(e.stderr).toBe("");
  expect(e.code).toBe(0);

  const run = b.spawn("import", bundle, "--insecure-skip-signature", "--json");
  let seen = 0;
  for (let i = 0; i < 6000 && seen < 40; i++) {
    await new Promise((r) => setTimeout(r, 10));
    seen = b.poolFiles().length;
  }
  run.child.kill("SIGKILL");
  const killed = await run.result;
  expect(killed.signal ?? killed.code).toBe("SIGKILL");
  const pooled = b.poolFiles().length;
  expect(pooled).toBeGreaterThanOrEqual(40);
  expect(pooled).toBeLessThan(COUNT);
  expect((await b.pg.query("SELECT count(*)::int AS n FROM chantal.snapshots")).rows[0].n).toBe(0);
  // The import flushes its blobs once, before the database records them: a power loss before that flush can leave a
  // pooled file empty or short. One such file: the resume must hash what no row records, and copy it again.
  const damaged = b.poolFiles()[0]!;
  truncateSync(damaged, 10);

  const r = await b.cli("import", bundle, "--insecure-skip-signature", "--json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as { blobs_copied: number; blobs_present: number; snapshots_created: string[] };
  expect(out.blobs_present).toBe(pooled - 1);
  expect(out.blobs_copied + out.blobs_present).toBeGreaterThan(COUNT);
  expect(out.snapshots_created).toEqual(["r1/s1"]);
  expect(b.tempFiles()).toEqual([]);
  expect((await b.cli("pool", "verify", "--deep")).code).toBe(0);
  expect(createHash("sha256").update(readFileSync(damaged)).digest("hex")).toBe(basename(damaged));
  const list = JSON.parse((await b.cli("import", "list", "--json")).stdout) as { status: string }[];
  expect(list.map((x) => x.status)).toEqual(["complete"]);
}, 300_000);

it("import list shows a 'running' row whose process is gone as interrupted, a live import's as running", async () => {
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  const row = (id: string, host: string, pid: number) =>
    b.pg.query(
      `INSERT INTO chantal.imports (export_id, source_instance, kind, manifest_sha256, status, blob_count, blob_bytes, exported_at, host, pid)
       VALUES ($1, gen_random_uuid(), 'full', $2, 'running', 1, 1, now(), $3, $4)`,
      [id, "0".repeat(64), host, pid],
    );
  await row("20261201T000000Z-0000dead", hostname(), Number(dead.stdout));
  await row("20261201T000000Z-0000live", hostname(), process.pid);
  // Another host's import, its process unknown here: interrupted unless it holds the import lock.
  await row("20261201T000000Z-000other", "elsewhere.example", 4242);
  const states = async () =>
    Object.fromEntries(
      (JSON.parse((await b.cli("import", "list", "--json")).stdout) as { export_id: string; status: string }[]).map((x) => [x.export_id, x.status]),
    );
  expect(await states()).toMatchObject({
    "20261201T000000Z-0000dead": "interrupted",
    "20261201T000000Z-0000live": "interrupted",
    "20261201T000000Z-000other": "interrupted",
  });
  const lock = await acquireLock(b.db.url, importLockRequest("import /media/live"));
  try {
    expect(await states()).toMatchObject({
      "20261201T000000Z-0000dead": "interrupted",
      "20261201T000000Z-0000live": "running",
      "20261201T000000Z-000other": "interrupted",
    });
    const table = (await b.cli("import", "list")).stdout;
    expect(table).toMatch(/20261201T000000Z-0000dead.*interrupted/);
  } finally {
    await lock.release();
  }
}, 60_000);
