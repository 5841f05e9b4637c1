// The real scheduler process: SIGTERM with a sync in flight (within and past the grace period), --daemon with
// `scheduler stop`, and catch-up across restarts. Its clock starts at a chosen instant (CHANTAL_SCHEDULER_TEST_START).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { migrate } from "../../core/db/migrate.js";
import { isAlive } from "../../core/schedule/pidfile.js";
import { runCli } from "../helpers/cli.js";
import type { FaultPlan } from "../helpers/http-server.js";
import { logLines, SchedulerDaemons } from "../helpers/scheduler-daemon.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

const COUNT = 60;
let upstream: string;
const envs: SyncEnvironment[] = [];
const daemons = new SchedulerDaemons();
const strayPids: number[] = [];

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-sched-sig-up-"));
  await generateRpmRepo(upstream, COUNT, 16_384);
});
afterEach(async () => {
  await daemons.killAll();
  for (const pid of strayPids.splice(0)) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  for (const e of envs.splice(0)) await e.close();
});
afterAll(() => rmSync(upstream, { recursive: true, force: true }));

/** Packages trickle in: 4 KiB every `delayMs`, so a sync takes seconds. */
const slow =
  (delayMs: number): FaultPlan =>
  (req) =>
    req.path.endsWith(".rpm") ? { chunkBytes: 4096, chunkDelayMs: delayMs } : undefined;

async function environment(schedule: string, scheduler: string, faults?: FaultPlan): Promise<SyncEnvironment> {
  const env = await startSyncEnvironment({
    upstream,
    ...(faults ? { faults } : {}),
    repoYaml: (url) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n    download_concurrency: 4\n    schedule:\n${schedule}`,
  });
  envs.push(env);
  env.pg.on("error", () => undefined); // pool.end() does not wait for sockets to close: DROP DATABASE ... FORCE may still hit one
  await migrate(env.pg);
  mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
  writeFileSync(join(env.configDir, "conf.d", "scheduler.yaml"), `scheduler:\n${scheduler}`);
  return env;
}

const startDaemon = (env: SyncEnvironment, start: string, args: string[] = []) => daemons.start(env.configDir, { start }, { args });

async function runs(env: SyncEnvironment) {
  return (await env.pg.query(`SELECT * FROM chantal.sync_runs WHERE trigger = 'schedule' ORDER BY id`)).rows;
}

describe("scheduler signals", () => {
  it("SIGTERM while a sync runs: no new runs, the sync finishes within the grace period, exit 0", async () => {
    const env = await environment(`      cron: "* * * * *"\n      timezone: UTC\n`, "  grace_period_seconds: 60\n", slow(10));
    const daemon = startDaemon(env, "2026-06-01T09:59:58Z");
    await until("a running scheduled sync", async () => (await runs(env)).some((r) => r.status === "running") && env.poolFiles().length > 4);
    daemon.child.kill("SIGTERM");
    const exit = await daemon.result;
    expect(exit.code).toBe(0);
    const all = await runs(env);
    expect(all.map((r) => r.status)).toEqual(["success"]);
    expect(all[0].packages_total).toBe(COUNT);
    expect(existsSync(join(env.published("r1"), "repodata", "repomd.xml"))).toBe(true);
    expect(logLines(daemon).find((l) => l.msg === "scheduler stopped")).toMatchObject({ finished: 1, aborted: 0 });
  });

  it("SIGTERM past the grace period: the sync is aborted cleanly (interrupted, no temp files, nothing published, lock released), exit 0", async () => {
    const env = await environment(`      cron: "* * * * *"\n      timezone: UTC\n`, "  grace_period_seconds: 1\n", slow(60));
    const daemon = startDaemon(env, "2026-06-01T09:59:58Z");
    await until("a running scheduled sync", async () => (await runs(env)).some((r) => r.status === "running") && env.poolFiles().length > 4);
    const signalled = Date.now();
    daemon.child.kill("SIGTERM");
    const exit = await daemon.result;
    expect(exit.code).toBe(0);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - signalled).toBeLessThan(15_000);
    const [run] = await runs(env);
    expect(run.status).toBe("interrupted");
    expect(run.error).toMatch(/grace period of 1 s over/);
    expect(env.tempFiles()).toEqual([]);
    expect(existsSync(env.published("r1"))).toBe(false);
    const locks = await env.pg.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(locks.rows[0].n).toBe(0);
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  });

  it("--daemon detaches with a pid file and a log file; status sees it; stop sends SIGTERM and waits; a second start is refused", async () => {
    const env = await environment(`      cron: "0 3 * * *"\n      timezone: UTC\n`, "  max_concurrent_syncs: 1\n");
    const pidFile = join(env.base, "scheduler.pid");
    const logFile = join(env.base, "scheduler.log");
    const start = await runCli(["--config-dir", env.configDir, "scheduler", "start", "--daemon"], { env: { CHANTAL_LOG_LEVEL: "info" } });
    expect(start.stderr).toBe("");
    expect(start.code).toBe(0);
    const pid = Number(/pid (\d+)/.exec(start.stdout)?.[1]);
    strayPids.push(pid);
    expect(start.stdout).toBe(`scheduler started in the background: pid ${pid}\nlog: ${logFile}\npid file: ${pidFile}\n`);
    expect(readFileSync(pidFile, "utf8")).toBe(`${pid}\n`);
    expect(isAlive(pid)).toBe(true);
    await until("the start in the log file", () => readFileSync(logFile, "utf8").includes('"msg":"scheduler started"'));

    const [again, foreground, status] = await Promise.all([
      env.cli("scheduler", "start", "--daemon"),
      env.cli("scheduler", "start"),
      env.cli("scheduler", "status"),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`the scheduler is already running on this host (pid ${pid}, pid file ${pidFile})`);
    expect(foreground.code).toBe(1);
    expect(foreground.stderr).toContain(`the scheduler is already running on this host (pid ${pid}`);

    expect(status.stdout).toMatch(/^Status: +Running$/m);
    expect(status.stdout).toMatch(new RegExp(`^PID: +${pid}$`, "m"));

    const stop = await env.cli("scheduler", "stop");
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe(`scheduler stopped (pid ${pid})\n`);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    expect(readFileSync(logFile, "utf8")).toContain('"msg":"scheduler stopped"');
    const [stopped, stopAgain] = await Promise.all([env.cli("scheduler", "status"), env.cli("scheduler", "stop")]);
    expect(stopped.stdout).toMatch(/^Status: +Stopped$/m);
    expect(stopAgain.code).toBe(0);
    expect(stopAgain.stdout).toBe(`scheduler is not running on this host (no pid file ${pidFile})\n`);
  });

  it("a schedule missed while the daemon was down runs once at start with catch_up, and waits for its next time without", async () => {
    const env = await environment(`      cron: "0 2 * * *"\n      timezone: UTC\n`, "  catch_up: true\n");
    const first = startDaemon(env, "2026-06-01T01:59:58Z");
    await until("the 02:00 run", async () => (await runs(env)).some((r) => r.status === "success"));
    first.child.kill("SIGTERM");
    expect((await first.result).code).toBe(0);

    // Down from June 1st to June 3rd 05:00: the runs of June 2nd and 3rd were missed; catch_up runs once.
    const second = startDaemon(env, "2026-06-03T05:00:00Z");
    await until("the catch-up run", async () => (await runs(env)).filter((r) => r.status !== "running").length === 2);
    const caught = (await runs(env))[1];
    expect(caught.status).toMatch(/^(success|noop)$/);
    expect(caught.started_at.getTime()).toBeGreaterThanOrEqual(Date.parse("2026-06-03T05:00:00Z"));
    expect(caught.started_at.getTime()).toBeLessThan(Date.parse("2026-06-03T05:01:00Z"));
    expect(logLines(second).find((l) => String(l.msg).startsWith("missed while the scheduler was down"))).toMatchObject({
      missed: "2026-06-02T02:00:00.000Z",
      missedRuns: 2,
    });
    second.child.kill("SIGTERM");
    expect((await second.result).code).toBe(0);

    // Without catch_up, a restart two days later only plans the next time.
    writeFileSync(join(env.configDir, "conf.d", "scheduler.yaml"), "scheduler:\n  catch_up: false\n");
    const third = startDaemon(env, "2026-06-05T05:00:00Z");
    await until("the start", () => logLines(third).some((l) => l.msg === "scheduler started"));
    expect(logLines(third).find((l) => String(l.msg).startsWith("missed while the scheduler was down"))).toMatchObject({
      missed: "2026-06-04T02:00:00.000Z",
      missedRuns: 2,
      msg: expect.stringContaining("catch_up is off"),
    });
    const state = (await env.pg.query(`SELECT next_run_at, last_fire_at FROM chantal.schedule_state WHERE job_key = 'sync:r1'`)).rows[0];
    expect(state.next_run_at.toISOString()).toBe("2026-06-06T02:00:00.000Z");
    third.child.kill("SIGTERM");
    expect((await third.result).code).toBe(0);
    expect(await runs(env)).toHaveLength(2);
  });
});
