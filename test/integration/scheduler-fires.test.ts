// Several scheduler daemons on one database (in-process, each with its own host lock session and a hand-moved clock):
// every fire of a schedule runs at most once: a fire claimed by a daemon that died mid-run is closed, not run again; one a
// shutdown aborted is taken over once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { jobHandlers } from "../../functions/scheduler.js";
import { loadConfig, type LoadedConfig } from "../../core/config/load.js";
import { openDatabase, type Database } from "../../core/db/client.js";
import { acquireLock, type HeldLock } from "../../core/db/locks.js";
import { migrate } from "../../core/db/migrate.js";
import { ScheduleFires } from "../../core/db/schedule-fires.js";
import { silentLogger } from "../../core/log.js";
import { ManualClock } from "../../core/schedule/clock.js";
import { Scheduler, type JobRunner, type JobRunRequest, type JobRunResult } from "../../core/schedule/daemon.js";
import { hostLockKey, ScheduleStateStore, schedulerLockRequest } from "../../core/schedule/state.js";
import { makeConfigDir } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

const held: HeldLock[] = [];
const running: Scheduler[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop(0);
  for (const l of held.splice(0)) await l.release();
});

interface Daemon {
  host: string;
  scheduler: Scheduler;
  clock: ManualClock;
  /** The daemon's scheduler-lock session (its host lock in production): released = the daemon is gone. */
  lock: HeldLock;
}

/** One daemon: its own host lock session, state store and fire claims on the shared database. */
async function daemon(
  url: string,
  pool: pg.Pool,
  opts: { host: string; loaded: LoadedConfig; start: string; random: () => number; runJob: (clock: ManualClock) => JobRunner },
): Promise<Daemon> {
  const lock = await acquireLock(url, schedulerLockRequest(opts.host));
  held.push(lock);
  const clock = new ManualClock(new Date(opts.start));
  const fires = new ScheduleFires(pool, { host: opts.host, pid: process.pid, lockKey: hostLockKey(opts.host), backendPid: lock.backendPid, instanceId: null });
  const scheduler = new Scheduler({
    loaded: opts.loaded,
    clock,
    log: silentLogger(),
    store: new ScheduleStateStore(pool, null),
    fires,
    runJob: opts.runJob(clock),
    random: opts.random,
  });
  running.push(scheduler);
  await scheduler.start();
  return { host: opts.host, scheduler, clock, lock };
}

/**
 * Moves the clocks of live daemons to `target` in global time order, one timer at a time, waiting for each daemon's
 * claims (database round trips) before time moves on — as hosts with synchronized clocks.
 */
async function advance(target: string, ...daemons: Daemon[]): Promise<void> {
  const idle = () => Promise.all(daemons.map((d) => d.scheduler.idle()));
  for (;;) {
    await idle();
    const next = daemons
      .map((d) => ({ d, at: d.clock.nextTimerAt() }))
      .filter((x): x is { d: Daemon; at: number } => x.at !== null && x.at <= Date.parse(target))
      .sort((a, b) => a.at - b.at)[0];
    if (!next) break;
    next.d.clock.advanceTo(new Date(next.at));
  }
  for (const d of daemons) d.clock.advanceTo(new Date(target));
  await idle();
}

/** A random source that returns these values in turn: the jitter of each run, chosen by the test. */
const sequence = (values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe("two scheduler daemons with real syncs", () => {
  let upstream: string;
  let env: SyncEnvironment;
  let database: Database;

  beforeAll(async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-fires-up-"));
    await generateRpmRepo(upstream, 12, 1024);
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n    schedule:\n      cron: "*/5 * * * *"\n      timezone: UTC\n      jitter_seconds: 60\n      create_snapshot: true\n      snapshot_name_template: "{repo_id}-{date}"\n`,
    });
    env.pg.on("error", () => undefined);
    await migrate(env.pg);
  });
  afterAll(async () => {
    await database?.close();
    await env.close();
    rmSync(upstream, { recursive: true, force: true });
  });

  it("with jitter, over four fire times: each fire runs once (one sync run, one snapshot), on whichever daemon claims it first", async () => {
    const loaded = await loadConfig({ configDir: env.configDir, env: {} });
    database = await openDatabase({ config: loaded.config, log: silentLogger(), env: {} });
    const runJob = (clock: ManualClock): JobRunner => {
      const handlers = jobHandlers(database, silentLogger(), clock);
      return (req) => handlers[req.job.kind](req);
    };
    // Host a is early at the first and third fire (6 s of 60 s jitter), host b at the second and fourth.
    const a = await daemon(env.db.url, env.pg, { host: "host-a", loaded, start: "2026-06-01T01:59:00Z", random: sequence([0.1, 0.9]), runJob });
    const b = await daemon(env.db.url, env.pg, { host: "host-b", loaded, start: "2026-06-01T01:59:00Z", random: sequence([0.9, 0.1]), runJob });
    const fireTimes = ["02:00", "02:05", "02:10", "02:15"];
    for (const hm of fireTimes) {
      await advance(`2026-06-01T${hm}:30Z`, a, b); // the early daemon's run started; the late one's jitter is not over
      await advance(`2026-06-01T${hm}:59Z`, a, b); // both jitters are over
      await until(`the runs of ${hm} to end`, () => a.scheduler.runningKeys.length === 0 && b.scheduler.runningKeys.length === 0);
    }
    await Promise.all([a.scheduler.flush(), b.scheduler.flush()]);

    const runs = (await env.pg.query(`SELECT status, snapshot_name FROM chantal.sync_runs WHERE trigger = 'schedule' ORDER BY id`)).rows;
    expect(runs.map((r) => r.status)).toEqual(["success", "noop", "noop", "noop"]);
    const snapshots = (await env.pg.query(`SELECT name FROM chantal.snapshots ORDER BY id`)).rows.map((r) => r.name);
    expect(snapshots).toEqual(["r1-20260601", "r1-20260601-2", "r1-20260601-3", "r1-20260601-4"]);
    const fires = (
      await env.pg.query(
        `SELECT to_char(fire_at AT TIME ZONE 'UTC', 'HH24:MI') AS at, host, attempt, status, finished_at FROM chantal.schedule_fires ORDER BY fire_at`,
      )
    ).rows;
    expect(fires.map((f) => [f.at, f.host, f.attempt, f.status])).toEqual([
      ["02:00", "host-a", 1, "success"],
      ["02:05", "host-b", 1, "noop"],
      ["02:10", "host-a", 1, "noop"],
      ["02:15", "host-b", 1, "noop"],
    ]);
    expect(fires.every((f) => f.finished_at instanceof Date)).toBe(true);
  });
});

describe("fire claims (recording job runners)", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const dirs: string[] = [];
  let loaded: LoadedConfig;

  beforeAll(async () => {
    db = await createTestDatabase("sched_fires");
    pool = new pg.Pool({ connectionString: db.url, max: 6 });
    pool.on("error", () => undefined);
    await migrate(pool);
    const dir = makeConfigDir({
      "config.yaml": `storage:\n  base_path: /tmp/chantal-fires-unused\ndatabase:\n  url: ${db.url}\nrepositories:\n  - id: r\n    type: rpm\n    upstream_url: http://127.0.0.1:9/r/\n    schedule:\n      cron: "*/5 * * * *"\n      timezone: UTC\n      jitter_seconds: 60\n`,
    });
    dirs.push(dir);
    loaded = await loadConfig({ configDir: dir, env: {} });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  beforeEach(async () => {
    await pool.query("TRUNCATE chantal.schedule_state, chantal.schedule_fires"); // before: the last test's daemons stop (and write) after its afterEach
  });

  /** Runs that the test finishes by hand (or never: a daemon that dies mid-run). */
  const calls: { host: string; scheduledAt: string; at: string; finish(r?: Partial<JobRunResult>): void }[] = [];
  const recording = (host: string) => (clock: ManualClock) => (req: JobRunRequest) =>
    new Promise<JobRunResult>((resolve) => {
      calls.push({
        host,
        scheduledAt: req.scheduledAt.toISOString().slice(11, 19),
        at: clock.now().toISOString().slice(11, 19),
        finish: (r = {}) => resolve({ status: "success", runId: null, ...r }),
      });
      req.signal.addEventListener("abort", () => resolve({ status: "interrupted", runId: null }));
    });
  afterEach(() => {
    calls.forEach((c) => c.finish());
    calls.splice(0);
  });
  const start = (host: string, random: number, at = "2026-06-01T01:59:00Z") =>
    daemon(db.url, pool, { host, loaded, start: at, random: () => random, runJob: recording(host) });
  const fireRow = async (at: string) =>
    (await pool.query(`SELECT host, attempt, taken_over_from, status, finished_at FROM chantal.schedule_fires WHERE fire_at = $1`, [at])).rows[0];

  it("the later daemon finds the fire claimed by a live daemon and does not run it", async () => {
    const a = await start("host-a", 0.1);
    const b = await start("host-b", 0.9);
    await advance("2026-06-01T02:01:30Z", a, b);
    expect(calls.map((c) => [c.host, c.scheduledAt, c.at])).toEqual([["host-a", "02:00:00", "02:00:06"]]);
    expect(await fireRow("2026-06-01T02:00:00Z")).toMatchObject({ host: "host-a", attempt: 1, finished_at: null });
    calls[0]!.finish();
    await a.scheduler.flush();
    expect(await fireRow("2026-06-01T02:00:00Z")).toMatchObject({ host: "host-a", status: "success", finished_at: expect.any(Date) });
  });

  it("a daemon that claimed a fire and died mid-run: no other daemon runs it again; the scan closes it as interrupted", async () => {
    const a = await start("host-a", 0.1);
    const b = await start("host-b", 0.9);
    await advance("2026-06-01T02:00:30Z", a, b);
    expect(calls.map((c) => c.host)).toEqual(["host-a"]);
    await a.lock.release(); // host a dies mid-run: its session is gone, its clock stops
    await advance("2026-06-01T02:04:30Z", b); // b asks at 02:00:54 and finds the claim; its scans run every 30 s
    expect(calls.map((c) => [c.host, c.scheduledAt, c.at])).toEqual([["host-a", "02:00:00", "02:00:06"]]);
    expect(await fireRow("2026-06-01T02:00:00Z")).toMatchObject({
      host: "host-a",
      attempt: 1,
      taken_over_from: null,
      status: "interrupted",
      finished_at: expect.any(Date),
    });
    // Its next fire time runs as usual.
    await advance("2026-06-01T02:05:59Z", b);
    expect(calls.map((x) => [x.host, x.scheduledAt, x.at]).slice(1)).toEqual([["host-b", "02:05:00", "02:05:54"]]);
  });

  it("a daemon dies after the others lost the claim to it: their scan closes the fire, nobody runs it again", async () => {
    const a = await start("host-a", 0.1);
    const b = await start("host-b", 0.9);
    await advance("2026-06-01T02:01:30Z", a, b); // b asked at 02:00:54 and lost to a, which is still running
    expect(calls.map((c) => c.host)).toEqual(["host-a"]);
    await a.lock.release();
    await advance("2026-06-01T02:03:30Z", b); // within 30 s b's scan finds the fire whose daemon is gone
    expect(calls.map((c) => [c.host, c.scheduledAt])).toEqual([["host-a", "02:00:00"]]);
    expect(await fireRow("2026-06-01T02:00:00Z")).toMatchObject({ host: "host-a", attempt: 1, status: "interrupted", finished_at: expect.any(Date) });
  });

  it("a fire whose daemon died is not run by a daemon started later either; the missed next fire time runs (catch_up)", async () => {
    const a = await start("host-a", 0.1);
    await advance("2026-06-01T02:00:30Z", a);
    await a.lock.release();
    // host b starts after 02:05: the 02:00 claim is its dead daemon's; the missed 02:05 runs (catch_up).
    const b = await start("host-b", 0, "2026-06-01T02:05:10Z");
    await advance("2026-06-01T02:09:00Z", b);
    expect(calls.map((c) => [c.host, c.scheduledAt])).toEqual([
      ["host-a", "02:00:00"],
      ["host-b", "02:05:00"],
    ]);
    expect(await fireRow("2026-06-01T02:00:00Z")).toMatchObject({ host: "host-a", attempt: 1, status: "interrupted", finished_at: expect.any(Date) });
  });

  it("a fire whose previous run is still going on another live daemon is skipped there too, and recorded so", async () => {
    const a = await start("host-a", 0.1);
    const b = await start("host-b", 0.9);
    await advance("2026-06-01T02:06:30Z", a, b); // a's 02:00 run goes on; a skips 02:05 itself; b asks at 02:05:54
    expect(calls.map((c) => [c.host, c.scheduledAt])).toEqual([["host-a", "02:00:00"]]);
    expect(await fireRow("2026-06-01T02:05:00Z")).toMatchObject({ host: "host-b", status: "skipped", finished_at: expect.any(Date) });
  });

  it("a run aborted by a shutdown leaves its fire open: another daemon takes it over", async () => {
    const a = await start("host-a", 0.1);
    const b = await start("host-b", 0.9);
    await advance("2026-06-01T02:01:30Z", a, b);
    await a.scheduler.stop(0); // grace period over at once: the run is aborted
    expect(await fireRow("2026-06-01T02:00:00Z")).toMatchObject({ host: "host-a", status: "interrupted", finished_at: null });
    await a.lock.release();
    await advance("2026-06-01T02:03:30Z", b); // b's next scan finds it; its jitter runs it 54 s later
    expect(calls.map((c) => [c.host, c.scheduledAt])).toEqual([
      ["host-a", "02:00:00"],
      ["host-b", "02:00:00"],
    ]);
    expect(await fireRow("2026-06-01T02:00:00Z")).toMatchObject({ host: "host-b", attempt: 2, status: null });
  });
});
