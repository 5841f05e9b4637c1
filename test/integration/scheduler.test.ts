// The real scheduler daemon (`scheduler start` as a child process) against a generated RPM repository on 127.0.0.1.
// Its clock starts at a chosen instant (CHANTAL_SCHEDULER_TEST_START, optionally faster): nothing waits for wall-clock minutes.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { acquireLock, repositoryLockRequest } from "../../core/db/locks.js";
import { migrate } from "../../core/db/migrate.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { formatInZone } from "../../core/schedule/zone.js";
import { formatLocalTime, localTimeZone } from "../../bin/output.js";
import type { RepositoryConfig } from "../../core/config/schema.js";
import { logLines, SchedulerDaemons, type TestClock } from "../helpers/scheduler-daemon.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

let upstream: string;
const envs: SyncEnvironment[] = [];
const daemons = new SchedulerDaemons();

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-sched-up-"));
  await generateRpmRepo(upstream, 12, 1024);
});
afterEach(async () => {
  await daemons.killAll();
  for (const e of envs.splice(0)) await e.close();
});
afterAll(() => rmSync(upstream, { recursive: true, force: true }));

async function environment(repos: (url: string) => string, scheduler = ""): Promise<SyncEnvironment> {
  const env = await startSyncEnvironment({ upstream, repoYaml: repos });
  envs.push(env);
  env.pg.on("error", () => undefined); // pool.end() does not wait for sockets to close: DROP DATABASE ... FORCE may still hit one
  await migrate(env.pg);
  if (scheduler) writeConfig(env, "conf.d/scheduler.yaml", `scheduler:\n${scheduler}`);
  return env;
}

function writeConfig(env: SyncEnvironment, file: string, text: string): void {
  mkdirSync(dirname(join(env.configDir, file)), { recursive: true });
  writeFileSync(join(env.configDir, file), text);
}

function mainConfig(env: SyncEnvironment, repos: string): string {
  return `storage:\n  base_path: ${env.base}\ndatabase:\n  url: ${env.db.url}\nrepositories:\n${repos}`;
}

const repo = (id: string, url: string, schedule?: string) =>
  `  - id: ${id}\n    type: rpm\n    upstream_url: ${url}/\n${schedule ? `    schedule:\n${schedule}` : ""}`;

const startDaemon = (env: SyncEnvironment, clock: TestClock, args: string[] = []) => daemons.start(env.configDir, clock, { args });

async function scheduledRuns(env: SyncEnvironment, repoId?: string) {
  const r = await env.pg.query(
    `SELECT s.*, r.repo_id FROM chantal.sync_runs s JOIN chantal.repositories r ON r.id = s.repository_id
     WHERE s.trigger = 'schedule' AND ($1::text IS NULL OR r.repo_id = $1) ORDER BY s.id`,
    [repoId ?? null],
  );
  return r.rows;
}

describe("scheduler daemon", () => {
  it("fires at the first minute after a skipped DST hour, syncs with trigger 'schedule', creates and publishes the snapshot; status, list, history; SIGTERM exits 0", async () => {
    const env = await environment(
      (url) =>
        repo(
          "r1",
          url,
          `      cron: "30 2 * * *"\n      timezone: Europe/Berlin\n      create_snapshot: true\n      snapshot_name_template: "{repo_id}-{date}"\n`,
        ) + repo("r2", url),
    );
    // 01:59:57 CET on 2026-03-29: 02:30 does not exist that night in Berlin; the run is due at 03:00 CEST (01:00:00Z).
    const daemon = startDaemon(env, { start: "2026-03-29T00:59:57Z" });
    const [run] = await until(
      "the scheduled run",
      async () => (await scheduledRuns(env)).filter((r) => r.status !== "running").length > 0 && scheduledRuns(env),
    );
    expect(run.repo_id).toBe("r1");
    expect(run.status).toBe("success");
    expect(run.packages_total).toBe(12);
    expect(run.started_at.getTime()).toBeGreaterThanOrEqual(Date.parse("2026-03-29T01:00:00Z"));
    expect(run.started_at.getTime()).toBeLessThan(Date.parse("2026-03-29T01:00:30Z"));
    expect(run.snapshot_name).toBe("r1-20260329");
    const snap = (await env.pg.query(`SELECT name, published_at, package_count FROM chantal.snapshots`)).rows;
    expect(snap).toEqual([{ name: "r1-20260329", published_at: expect.any(Date), package_count: 12 }]);
    expect(existsSync(join(env.published("r1"), "repodata", "repomd.xml"))).toBe(true);
    expect(existsSync(join(env.published("r1", "snapshots/r1-20260329"), "repodata", "repomd.xml"))).toBe(true);

    // A manual sync of another repository works while the scheduler runs.
    expect((await env.cli("repo", "sync", "--repo-id", "r2")).code).toBe(0);

    // Read-only views, side by side.
    const [status, statusJsonRun, list, listJsonRun, history] = await Promise.all([
      env.cli("scheduler", "status"),
      env.cli("scheduler", "status", "--json"),
      env.cli("scheduler", "list"),
      env.cli("scheduler", "list", "--json"),
      env.cli("repo", "history", "--repo-id", "r1"),
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Status: +Running$/m);
    expect(status.stdout).toMatch(new RegExp(`^Host: +${hostname()}$`, "m"));
    expect(status.stdout).toMatch(new RegExp(`^PID: +${daemon.child.pid}$`, "m"));
    expect(status.stdout).toMatch(/^Uptime: +\d+m \d+s/m);
    expect(status.stdout).toMatch(/^Schedules: +1 repository$/m);
    // Terminal times are local (this process's zone, which the CLI inherits), to the second, the zone named once.
    const firstSyncMinute = formatLocalTime(new Date("2026-03-29T01:00:00Z")).slice(0, 17);
    expect(status.stdout).toMatch(new RegExp(`^Last sync: +r1 at ${firstSyncMinute}\\d\\d: success \\(snapshot r1-20260329\\)$`, "m"));
    expect(status.stdout).toContain(`Next sync:  r1 at ${formatLocalTime(new Date("2026-03-30T00:30:00Z"))} (schedule in Europe/Berlin)\n`);
    expect(status.stdout.match(/^times are in (.+)$/gm)).toEqual([expect.stringContaining(`times are in ${localTimeZone()} (UTC`)]);
    const statusJson = JSON.parse(statusJsonRun.stdout);
    expect(statusJson).toMatchObject({
      status: "running",
      scheduled_repositories: 1,
      instances: [{ host: hostname(), pid: daemon.child.pid, running: true }],
      last_sync: { repository: "r1", status: "success" },
      next_sync: { repository: "r1", at: "2026-03-30T00:30:00.000Z", timezone: "Europe/Berlin" },
    });

    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^REPOSITORY +SCHEDULE +TIMEZONE +NEXT RUN +LAST RUN \(RESULT\)$/);
    const listJson = JSON.parse(listJsonRun.stdout);
    expect(formatInZone(new Date(listJson[0].next_run), "Europe/Berlin")).toMatch(/^\d{4}-\d\d-\d\dT02:30:00\+0[12]:00$/);
    expect(lines.find((l) => l.startsWith("r1 "))).toMatch(
      new RegExp(`^r1 +30 2 \\* \\* \\* +Europe/Berlin +${formatLocalTime(new Date(listJson[0].next_run))} +${firstSyncMinute}\\d\\d \\(success\\)$`),
    );
    expect(lines.find((l) => l.startsWith("r2 "))).toMatch(/^r2 +\(manual only\) +- +- +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(success, manual\)$/);
    expect(listJson).toMatchObject([
      {
        repository: "r1",
        scheduled: true,
        schedule: "30 2 * * *",
        timezone: "Europe/Berlin",
        create_snapshot: true,
        snapshot_name_template: "{repo_id}-{date}",
        last_run: { status: "success", trigger: "schedule" },
      },
      {
        repository: "r2",
        scheduled: false,
        schedule: null,
        unscheduled_reason: "manual only",
        next_run: null,
        last_run: { status: "success", trigger: "manual" },
      },
    ]);

    expect(history.stdout).toMatch(new RegExp(`r1 +${firstSyncMinute}\\d\\d +\\S+ +schedule +success`));

    daemon.child.kill("SIGTERM");
    const exit = await daemon.result;
    expect(exit.code).toBe(0);
    expect(existsSync(join(env.base, "scheduler.pid"))).toBe(false);
    const after = await env.cli("scheduler", "status");
    expect(after.stdout).toMatch(/^Status: +Stopped$/m);
    expect(after.stdout).toMatch(new RegExp(`^Last run: +${hostname()} pid ${daemon.child.pid}, .*\\(stopped by SIGTERM\\)$`, "m"));
  });

  it("a run that falls due while the repository is locked is recorded as skipped, once per fire time; it runs again once the lock is free", async () => {
    const env = await environment((url) => repo("r1", url, `      cron: "* * * * *"\n      timezone: UTC\n`));
    const { id: key } = await ensureRepository(env.pg, { id: "r1", type: "rpm", upstream_url: `${env.server.url}/` } as RepositoryConfig);
    const lock = await acquireLock(env.db.url, repositoryLockRequest(key, "test: a manual sync elsewhere"));
    let released = false;
    try {
      // 20x: a minute passes every 3 s; the first fire time is 0.15 s after start.
      const started = Date.now();
      const daemon = startDaemon(env, { start: "2026-06-01T09:59:57Z", speed: 20 });
      await until("two skipped runs", async () => (await scheduledRuns(env)).length >= 2);
      await new Promise((r) => setTimeout(r, 1500));
      const skipped = await scheduledRuns(env);
      const elapsedVirtualMinutes = ((Date.now() - started) * 20) / 60_000;
      expect(skipped.every((r) => r.status === "skipped-locked")).toBe(true);
      expect(skipped.length).toBeLessThanOrEqual(Math.floor(elapsedVirtualMinutes) + 1); // one per fire time: no retry storm
      expect(skipped[0].error).toMatch(new RegExp(`repository r1 is already being synced by ${hostname()} pid ${process.pid}`));
      expect(new Set(skipped.map((r) => r.started_at.toISOString().slice(0, 16))).size).toBe(skipped.length);
      expect(logLines(daemon).some((l) => l.msg === "scheduled run skipped-locked" && l.level === 40)).toBe(true);

      await lock.release();
      released = true;
      await until("a successful scheduled run", async () => (await scheduledRuns(env)).some((r) => r.status === "success" || r.status === "noop"));
      daemon.child.kill("SIGTERM");
      expect((await daemon.result).code).toBe(0);
    } finally {
      if (!released) await lock.release();
    }
  });

  it("SIGHUP: new, changed and removed schedules take effect; an invalid configuration is logged and the old one kept", async () => {
    const env = await environment((url) => repo("r1", url, `      cron: "0 3 * * *"\n      timezone: UTC\n`) + repo("r2", url));
    const daemon = startDaemon(env, { start: "2026-06-01T10:00:00Z", speed: 20 });
    const state = async (k: string) => (await env.pg.query(`SELECT next_run_at FROM chantal.schedule_state WHERE job_key = $1`, [k])).rows[0];
    await until("the first plan", async () => (await state("sync:r1"))?.next_run_at);
    expect((await state("sync:r1")).next_run_at.toISOString()).toBe("2026-06-02T03:00:00.000Z");
    expect(await state("sync:r2")).toBeUndefined();

    // r1 loses its schedule, r2 gets one that fires every (virtual) minute, with a snapshot named by the day.
    writeConfig(
      env,
      "config.yaml",
      mainConfig(
        env,
        repo("r1", env.server.url) +
          repo(
            "r2",
            env.server.url,
            `      cron: "* * * * *"\n      timezone: UTC\n      create_snapshot: true\n      snapshot_name_template: "{repo_id}-{date}"\n`,
          ),
      ),
    );
    daemon.child.kill("SIGHUP");
    await until("the reload", () => logLines(daemon).find((l) => l.msg === "configuration reloaded"));
    expect(logLines(daemon).find((l) => l.msg === "configuration reloaded")).toMatchObject({ added: ["sync:r2"], removed: ["sync:r1"] });
    expect((await state("sync:r1")).next_run_at).toBeNull();
    await until("a scheduled run of r2", async () => (await scheduledRuns(env, "r2")).some((r) => r.status === "success"));
    expect(await scheduledRuns(env, "r1")).toEqual([]);

    // A broken file: logged with file and key path, and the running configuration stays.
    writeConfig(
      env,
      "config.yaml",
      mainConfig(env, repo("r1", env.server.url) + repo("r2", env.server.url, `      cron: "61 * * * *"\n      timezone: UTC\n`)),
    );
    daemon.child.kill("SIGHUP");
    const rejected = await until("the rejected reload", () => logLines(daemon).find((l) => String(l.msg).startsWith("configuration not reloaded")));
    expect(rejected.msg).toMatch(
      /config\.yaml:\d+: repository r2: schedule\.cron: "61 \* \* \* \*" is not a valid cron expression \(minute 61 is out of range 0-59\)/,
    );
    const before = (await scheduledRuns(env, "r2")).length;
    await until("r2 still running on its old schedule", async () => (await scheduledRuns(env, "r2")).filter((r) => r.status !== "running").length > before);
    expect(daemon.child.exitCode).toBeNull();

    // Two runs on one day: the second snapshot gets a suffix, the first is untouched, both are published.
    const snaps = (await env.pg.query(`SELECT name, published_at FROM chantal.snapshots ORDER BY id`)).rows;
    expect(snaps.slice(0, 2).map((r) => r.name)).toEqual(["r2-20260601", "r2-20260601-2"]);
    expect(snaps.every((r) => r.published_at !== null)).toBe(true);
    expect(existsSync(join(env.published("r2", "snapshots/r2-20260601-2"), "repodata", "repomd.xml"))).toBe(true);
    expect(
      (await scheduledRuns(env, "r2"))
        .filter((r) => r.snapshot_name)
        .map((r) => r.snapshot_name)
        .slice(0, 2),
    ).toEqual(["r2-20260601", "r2-20260601-2"]);

    daemon.child.kill("SIGTERM");
    expect((await daemon.result).code).toBe(0);
  });

  it("an invalid cron expression or time zone stops `scheduler start` (and --daemon) with exit 78, the file and the key path", async () => {
    const env = await environment((url) => repo("r1", url, `      cron: "0 25 * * *"\n`), "  timezone: Mars/Olympus\n");
    for (const args of [[], ["--daemon"]]) {
      const r = await env.cli("scheduler", "start", ...args);
      expect(r.code).toBe(78);
      expect(r.stderr).toContain('config.yaml:10: repository r1: schedule.cron: "0 25 * * *" is not a valid cron expression (hour 25 is out of range 0-23)');
      expect(r.stderr).toContain('conf.d/scheduler.yaml:2: scheduler.timezone: "Mars/Olympus" is not a known IANA time zone');
    }
    expect(existsSync(join(env.base, "scheduler.pid"))).toBe(false);
    expect((await env.cli("config", "validate")).code).toBe(78);
  });
});
