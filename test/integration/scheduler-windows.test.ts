// The real scheduler process and maintenance windows (scheduler.windows): a due sync waits for its window (`scheduler list`
// says so), on_close: abort stops a long sync cleanly and the default lets it finish, and `repo sync --respect-windows`.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { migrate } from "../../core/db/migrate.js";
import { freePort } from "../../core/free-port.js";
import type { FaultPlan } from "../helpers/http-server.js";
import { logLines, SchedulerDaemons } from "../helpers/scheduler-daemon.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

const COUNT = 60;
let upstream: string;
const envs: SyncEnvironment[] = [];
const daemons = new SchedulerDaemons();

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-sched-win-up-"));
  await generateRpmRepo(upstream, COUNT, 16_384);
});
afterEach(async () => {
  await daemons.killAll();
  for (const e of envs.splice(0)) await e.close();
});
afterAll(() => rmSync(upstream, { recursive: true, force: true }));

/** Packages trickle in: 4 KiB every `delayMs`, so a sync takes seconds. */
const slow =
  (delayMs: number): FaultPlan =>
  (req) =>
    req.path.endsWith(".rpm") ? { chunkBytes: 4096, chunkDelayMs: delayMs } : undefined;

/** r1 syncs at `cron` (UTC); r2 has no schedule. `windows` is the YAML list under scheduler.windows. */
async function environment(cron: string, windows: string, faults?: FaultPlan): Promise<SyncEnvironment> {
  const repo = (id: string, url: string, schedule: string) =>
    `  - id: ${id}\n    type: rpm\n    upstream_url: ${url}/\n    download_concurrency: 4\n${schedule}`;
  const env = await startSyncEnvironment({
    upstream,
    ...(faults ? { faults } : {}),
    repoYaml: (url) => repo("r1", url, `    schedule:\n      cron: "${cron}"\n      timezone: UTC\n`) + repo("r2", url, ""),
  });
  envs.push(env);
  env.pg.on("error", () => undefined);
  await migrate(env.pg);
  mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
  writeFileSync(join(env.configDir, "conf.d", "windows.yaml"), `scheduler:\n  timezone: UTC\n  windows:\n${windows}`);
  return env;
}

const startDaemon = (env: SyncEnvironment, start: string, speed: number, args: string[] = []) => daemons.start(env.configDir, { start, speed }, { args });

async function runs(env: SyncEnvironment) {
  return (await env.pg.query(`SELECT * FROM chantal.sync_runs WHERE trigger = 'schedule' ORDER BY id`)).rows;
}

describe("scheduler: maintenance windows", () => {
  it("a run due outside its only window waits for it (scheduler list: waiting for window), then runs; --respect-windows refuses a manual sync, a plain one runs", async () => {
    // r2 sits in a never window that is always open (every minute, for an hour): refused whatever the real time.
    const env = await environment(
      "59 0 * * *",
      '    - cron: "0 1 * * *"\n      duration: 1h\n      repositories: [r1]\n    - cron: "* * * * *"\n      duration: 1h\n      mode: never\n      repositories: [r2]\n',
    );
    const port = await freePort();
    const daemon = startDaemon(env, "2026-06-01T00:58:58Z", 2, ["--http", `127.0.0.1:${port}`]);
    await until("r1 waits for its window", () => logLines(daemon).some((l) => l.msg === "waiting for its maintenance window"));
    expect(logLines(daemon).find((l) => l.msg === "waiting for its maintenance window")).toMatchObject({
      job: "sync:r1",
      due: "2026-06-01T00:59:00.000Z",
      opens: "2026-06-01T01:00:00.000Z",
    });
    const list = await env.cli("scheduler", "list", "--json");
    expect(list.code).toBe(0);
    const r1 = (JSON.parse(list.stdout) as { repository: string; waiting_for_window: { opens_at: string } | null }[]).find((r) => r.repository === "r1");
    expect(r1?.waiting_for_window).toEqual({ opens_at: "2026-06-01T01:00:00.000Z" });
    const table = await env.cli("scheduler", "list");
    expect(table.stdout).toMatch(/^r1 +59 0 \* \* \* +UTC +waiting for window \(opens /m);
    // scheduler status and the dashboard say so too.
    const status = JSON.parse((await env.cli("scheduler", "status", "--json")).stdout) as { waiting_for_window: unknown };
    expect(status.waiting_for_window).toEqual([{ repository: "r1", opens_at: "2026-06-01T01:00:00.000Z" }]);
    expect((await env.cli("scheduler", "status")).stdout).toMatch(/^Waiting: +r1: due, waiting for window \(opens .+\)$/m);
    const api = (await (await fetch(`http://127.0.0.1:${port}/api/repositories`)).json()) as { id: string; waiting_for_window: unknown }[];
    expect(api.map((r) => [r.id, r.waiting_for_window])).toEqual([
      ["r1", { opens_at: "2026-06-01T01:00:00.000Z" }],
      ["r2", null],
    ]);
    for (const page of ["/", "/repositories/r1"])
      expect(await (await fetch(`http://127.0.0.1:${port}${page}`)).text()).toContain(
        '<span class="waiting" data-waiting-for-window="2026-06-01T01:00:00.000Z">waiting for window (opens 2026-06-01 01:00 UTC)</span>',
      );
    expect(await runs(env)).toEqual([]);

    const refused = await env.cli("repo", "sync", "r2", "--respect-windows");
    expect(refused.code).toBe(75);
    expect(refused.stderr).toMatch(
      /repository r2 is inside its maintenance window scheduler\.windows\[1\] \(never, "\* \* \* \* \*" for 1h, UTC\): no start is allowed within a year \(see scheduler\.windows\); sync without --respect-windows to run it anyway/,
    );
    expect((await env.pg.query(`SELECT count(*)::int AS n FROM chantal.sync_runs`)).rows[0].n).toBe(0);
    const manual = await env.cli("repo", "sync", "r2");
    expect(manual.code).toBe(0);

    await until("the run at the window's opening", async () => (await runs(env)).some((r) => r.status === "success"), 60_000);
    const [run] = await runs(env);
    expect(run.started_at.getTime()).toBeGreaterThanOrEqual(Date.parse("2026-06-01T01:00:00Z"));
    expect(run.packages_total).toBe(COUNT);
    const after = JSON.parse((await env.cli("scheduler", "list", "--json")).stdout) as { repository: string; waiting_for_window: unknown }[];
    expect(after.find((r) => r.repository === "r1")?.waiting_for_window).toBeNull();
    expect(JSON.parse((await env.cli("scheduler", "status", "--json")).stdout).waiting_for_window).toEqual([]);
    daemon.child.kill("SIGTERM");
    expect((await daemon.result).code).toBe(0);
  });

  it("on_close: abort stops a sync still running when the window closes: interrupted, cleanly, and one run waits for the next window", async () => {
    const env = await environment("0 1 * * *", '    - cron: "0 1 * * *"\n      duration: 1m\n      on_close: abort\n', slow(300));
    const daemon = startDaemon(env, "2026-06-01T00:59:00Z", 20);
    await until("the aborted run", async () => (await runs(env)).some((r) => r.status === "interrupted"), 40_000);
    const [run] = await runs(env);
    expect(run.error).toMatch(/maintenance window scheduler\.windows\[0\] \(only, "0 1 \* \* \*" for 1m, UTC\) closed \(on_close: abort\)/);
    expect(run.finished_at.getTime()).toBeGreaterThanOrEqual(Date.parse("2026-06-01T01:01:00Z"));
    expect(run.packages_downloaded).toBeLessThan(COUNT);
    await until("the retry waits for the next window", () => logLines(daemon).some((l) => l.msg === "waiting for its maintenance window"));
    expect(logLines(daemon).find((l) => l.msg === "waiting for its maintenance window")).toMatchObject({ opens: "2026-06-02T01:00:00.000Z" });
    expect(env.tempFiles()).toEqual([]);
    expect(existsSync(env.published("r1"))).toBe(false); // nothing half-published
    // The fire's outcome is written after the run's, in the daemon's write queue: it may land after the retry's log line.
    const fire = async () => (await env.pg.query(`SELECT status, finished_at FROM chantal.schedule_fires WHERE job_key = 'sync:r1'`)).rows;
    await until("the fire is closed", async () => (await fire())[0]?.status != null);
    expect(await fire()).toEqual([{ status: "aborted", finished_at: expect.any(Date) }]);
    daemon.child.kill("SIGTERM");
    expect((await daemon.result).code).toBe(0);
    const locks = await env.pg.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(locks.rows[0].n).toBe(0);
  });

  it("on_close default: a sync still running when the window closes finishes", async () => {
    const env = await environment("0 1 * * *", '    - cron: "0 1 * * *"\n      duration: 1m\n', slow(150));
    const daemon = startDaemon(env, "2026-06-01T00:59:00Z", 20);
    await until("the finished run", async () => (await runs(env)).some((r) => r.status === "success"), 90_000);
    const [run] = await runs(env);
    expect(run.packages_total).toBe(COUNT);
    expect(run.finished_at.getTime()).toBeGreaterThan(Date.parse("2026-06-01T01:01:00Z")); // after the close
    expect(existsSync(join(env.published("r1"), "repodata", "repomd.xml"))).toBe(true);
    daemon.child.kill("SIGTERM");
    expect((await daemon.result).code).toBe(0);
  });
});
