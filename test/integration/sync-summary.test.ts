// repo sync's summary through the real CLI: a no-op counts the packages the repository holds, not 0, here and in its run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let env: SyncEnvironment | undefined;
let upstream: string | undefined;
afterAll(async () => {
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

it("a no-op sync of 25 packages says 25 packages, and records them in its run", async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
  await generateRpmRepo(upstream, 25, 1024);
  env = await startSyncEnvironment({ upstream });
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  const again = await env.cli("repo", "sync", "--repo-id", "r1");
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout).toMatch(/^r1: noop — 25 packages, unchanged upstream, in [\d.]+ s$/m);
  const json = JSON.parse((await env.cli("repo", "sync", "--repo-id", "r1", "--json")).stdout) as { status: string; counts: { packages_total: number } };
  expect(json).toMatchObject({ status: "noop", counts: { packages_total: 25 } });
  const runs = (await env.pg.query(`SELECT status, packages_total FROM chantal.sync_runs ORDER BY id`)).rows;
  expect(runs).toEqual([
    { status: "success", packages_total: 25 },
    { status: "noop", packages_total: 25 },
    { status: "noop", packages_total: 25 },
  ]);
});
