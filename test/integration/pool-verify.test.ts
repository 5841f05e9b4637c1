// pool verify finds missing and damaged blobs; --fix removes the damaged ones and makes the next sync fetch them again.
import { appendFileSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { acquireLock, maintenanceLockRequest } from "../../core/db/locks.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let env: SyncEnvironment | undefined;
let upstream: string | undefined;
afterAll(async () => {
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

const packageBlob = async (e: SyncEnvironment, name: string) => {
  const r = await e.pg.query(`SELECT sha256 FROM chantal.packages WHERE name = $1`, [name]);
  const sha = r.rows[0].sha256 as string;
  return join(e.base, "pool", sha.slice(0, 2), sha);
};

describe("pool verify", () => {
  it("reports, refuses --fix while a sync runs, fixes, and the next sync restores the pool", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 6, 2_048);
    env = await startSyncEnvironment({ upstream });
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    expect((await env.cli("pool", "verify")).code).toBe(0);

    unlinkSync(await packageBlob(env, "pkg000001"));
    appendFileSync(await packageBlob(env, "pkg000002"), "junk");
    const report = await env.cli("pool", "verify");
    expect(report.code).toBe(1);
    expect(report.stdout).toMatch(/✗ 1 missing, 1 with the wrong size, 0 with the wrong sha256/);
    expect(report.stdout).toMatch(/repositories affected: r1/);
    // an unchanged upstream is a no-op: nothing heals before --fix
    expect(JSON.parse((await env.cli("repo", "sync", "--repo-id", "r1", "--json", "--no-publish")).stdout).status).toBe("noop");

    const sync = await acquireLock(env.db.url, maintenanceLockRequest("shared", "sync r1"));
    const busy = await env.cli("pool", "verify", "--fix");
    await sync.release();
    expect(busy.code).toBe(75);
    expect(busy.stderr).toMatch(/syncs are running \(\S+ pid \d+ since .*\): run pool verify --fix when they have finished/);

    const fixed = await env.cli("pool", "verify", "--fix");
    expect(fixed.stdout).toMatch(/fixed: removed 1 bad blobs; the next sync of r1 re-reads upstream/);
    const again = JSON.parse((await env.cli("repo", "sync", "--repo-id", "r1", "--json")).stdout);
    expect(again).toMatchObject({ status: "success", counts: { packages_downloaded: 2 } });
    expect((await env.cli("pool", "verify", "--deep")).code).toBe(0);
  });
});
