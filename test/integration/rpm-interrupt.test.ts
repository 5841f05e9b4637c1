// kill -9 and SIGTERM in the middle of a sync: the next run completes without downloading pooled blobs again.
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

const COUNT = 120;
const METADATA_BLOBS = 4; // primary, filelists, other, repomd.xml
let upstream: string;
const envs: SyncEnvironment[] = [];

async function slowEnvironment(): Promise<SyncEnvironment> {
  upstream ??= mkdtempSync(join(tmpdir(), "chantal-up-"));
  await generateRpmRepo(upstream, COUNT, 16_384);
  const env = await startSyncEnvironment({ upstream, faults: (req) => (req.path.endsWith(".rpm") ? { chunkBytes: 4096, chunkDelayMs: 15 } : undefined) });
  envs.push(env);
  return env;
}

const packageBlobs = (env: SyncEnvironment) => env.poolFiles().length - METADATA_BLOBS;

afterEach(async () => {
  for (const e of envs.splice(0)) await e.close();
});
afterAll(() => {
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

describe("interrupted syncs", () => {
  it("after kill -9 the next run completes and downloads only what is not pooled", async () => {
    const env = await slowEnvironment();
    const run = env.spawn("repo", "sync", "--repo-id", "r1");
    await until("20 pooled packages", () => packageBlobs(env) >= 20);
    run.child.kill("SIGKILL");
    await run.result;
    const pooled = packageBlobs(env);
    expect(pooled).toBeGreaterThanOrEqual(20);
    expect(pooled).toBeLessThan(COUNT);
    expect(existsSync(env.published("r1"))).toBe(false);

    const again = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout);
    expect(result.status).toBe("success");
    expect(result.counts.packages_downloaded).toBe(COUNT - pooled);
    expect(packageBlobs(env)).toBe(COUNT);
    expect(env.tempFiles()).toEqual([]);
    const statuses = (await env.pg.query(`SELECT status FROM chantal.sync_runs ORDER BY id`)).rows.map((r) => r.status);
    expect(statuses).toEqual(["interrupted", "success"]);
  });

  it("SIGTERM stops cleanly: exit 143, run recorded as interrupted, temp files removed, lock released", async () => {
    const env = await slowEnvironment();
    const run = env.spawn("repo", "sync", "--repo-id", "r1");
    await until("10 pooled packages", () => packageBlobs(env) >= 10);
    run.child.kill("SIGTERM");
    const r = await run.result;
    expect(r.code).toBe(143);
    expect(env.tempFiles()).toEqual([]);
    expect(existsSync(env.published("r1"))).toBe(false);
    const row = (await env.pg.query(`SELECT status, error, packages_downloaded, bytes_downloaded FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(row.status).toBe("interrupted");
    expect(row.error).toMatch(/SIGTERM/);
    // What it did download before the signal is reported, not zero.
    expect(row.packages_downloaded).toBe(packageBlobs(env));
    expect(Number(row.bytes_downloaded)).toBeGreaterThanOrEqual(row.packages_downloaded * 16_384);
    const again = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(again.code).toBe(0);
  });
});
