// pool.gc.schedule runs pool gc from the real scheduler daemon (test clock: no wall-clock waiting); scheduler list shows it.
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { SchedulerDaemons } from "../helpers/scheduler-daemon.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

let env: SyncEnvironment | undefined;
let upstream: string | undefined;
const daemons = new SchedulerDaemons();
afterAll(async () => {
  await daemons.killAll();
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

describe("scheduled pool gc", () => {
  it("runs at its cron time, deletes an old stray blob, records its state and shows in scheduler list", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 3, 512);
    env = await startSyncEnvironment({ upstream });
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(join(env.configDir, "conf.d/gc.yaml"), `pool:\n  gc:\n    schedule:\n      cron: "0 4 * * 0"\n      timezone: UTC\n`);
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    const stray = join(env.base, "pool", "fe", "fe".repeat(32));
    mkdirSync(join(stray, ".."), { recursive: true });
    writeFileSync(stray, "stray");
    const old = new Date(Date.now() - 3 * 3_600_000);
    utimesSync(stray, old, old);

    const list = JSON.parse((await env.cli("scheduler", "list", "--json")).stdout) as {
      repository: string;
      schedule: string | null;
      timezone: string | null;
    }[];
    expect(list.find((r) => r.repository === "(pool gc)")).toMatchObject({ schedule: "0 4 * * 0", timezone: "UTC" });

    // Sunday 2026-01-18 03:59:57 UTC: the gc is due three seconds later.
    const daemon = daemons.start(env.configDir, { start: "2026-01-18T03:59:57Z" });
    const done = await until("the run's log line", () =>
      daemon
        .output()
        .split("\n")
        .find((l) => l.includes('"job":"pool-gc"') && l.includes('"status"') && l.includes("scheduled run")),
    );
    expect(JSON.parse(done)).toMatchObject({ status: "success" });
    daemon.child.kill("SIGTERM");
    expect((await daemon.result).code).toBe(0);
    expect(existsSync(stray)).toBe(false);
    expect((await env.cli("pool", "verify")).code).toBe(0);
    const state = (await env.pg.query(`SELECT kind, last_status FROM chantal.schedule_state WHERE job_key = 'pool-gc'`)).rows[0];
    expect(state).toEqual({ kind: "pool-gc", last_status: "success" });
  });
});
