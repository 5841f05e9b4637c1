// groups[].schedule in the scheduler loop (hand-moved clock, real handlers, real database, upstreams on 127.0.0.1): the
// group snapshot of a fire time starts only after its members' syncs of that time finished; a failed member skips it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config/load.js";
import { openDatabase, type Database } from "../../core/db/client.js";
import { acquireLock, type HeldLock } from "../../core/db/locks.js";
import { ScheduleFires } from "../../core/db/schedule-fires.js";
import { silentLogger } from "../../core/log.js";
import { ManualClock } from "../../core/schedule/clock.js";
import { Scheduler } from "../../core/schedule/daemon.js";
import { hostLockKey, ScheduleStateStore, schedulerLockRequest } from "../../core/schedule/state.js";
import { runScheduledGroupSnapshot } from "../../functions/group-snapshot.js";
import { jobHandlers } from "../../functions/scheduler.js";
import { runSync } from "../../functions/sync.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { until } from "../helpers/wait.js";

let upstream: string;
let server: StaticServer;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-group-up-"));
  await generateRpmRepo(join(upstream, "a"), 3, 256);
  await generateRpmRepo(join(upstream, "b"), 2, 256);
  server = await startStaticServer({ root: upstream });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await server.close();
  rmSync(upstream, { recursive: true, force: true });
});

const HOST = "group-schedule-test-host";

/** A database, a config with members a and b scheduled at 03:00 UTC and group el9 at the same time, and a scheduler on a ManualClock. */
async function setUp(bPath: string) {
  const db: TestDatabase = await createTestDatabase("sched_group");
  const base = mkdtempSync(join(tmpdir(), "chantal-group-base-"));
  const repo = (id: string, path: string) =>
    `  - id: ${id}\n    type: rpm\n    upstream_url: ${server.url}/${path}/\n    schedule: { cron: "0 3 * * *", timezone: UTC }\n`;
  const dir = makeConfigDir({
    "config.yaml": [
      `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\nscheduler:\n  max_concurrent_syncs: 3\n`,
      `repositories:\n${repo("a", "a")}${repo("b", bPath)}  - id: c\n    type: rpm\n    upstream_url: ${server.url}/a/\n`,
      `groups:\n  - id: el9\n    repositories: [a, b, c]\n    schedule: { cron: "0 3 * * *", timezone: UTC, name: "el9-{date}" }\n`,
    ].join(""),
  });
  const loaded = await loadConfig({ configDir: dir, env: {} });
  const database: Database = await openDatabase({ config: loaded.config, log: silentLogger(), env: {} });
  const hostLock: HeldLock = await acquireLock(db.url, schedulerLockRequest(HOST));
  cleanups.push(async () => {
    await hostLock.release();
    await database.close();
    await db.drop();
    rmSync(base, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const clock = new ManualClock(new Date("2026-06-01T02:59:58Z"));
  const handlers = jobHandlers(database, log, clock);
  // c has no schedule of its own: synced by hand before, never waited for.
  const manual = await runSync(
    { repoId: "c", trigger: "manual" },
    { loaded, database, log: silentLogger(), signal: new AbortController().signal, now: () => clock.now() },
  );
  expect(manual.status).toBe("success");
  const events: string[] = [];
  const scheduler = new Scheduler({
    loaded,
    clock,
    log,
    store: new ScheduleStateStore(database.pool, null),
    fires: new ScheduleFires(database.pool, { host: HOST, pid: process.pid, lockKey: hostLockKey(HOST), backendPid: hostLock.backendPid, instanceId: null }),
    runJob: async (req) => {
      events.push(`start ${req.job.key}`);
      const r = await handlers[req.job.kind](req);
      events.push(`end ${req.job.key} ${r.status}`);
      return r;
    },
  });
  cleanups.push(() => void scheduler.stop(0));
  await scheduler.start();
  clock.advanceTo(new Date("2026-06-01T03:00:00Z"));
  const finished = async () =>
    (await database.pool.query(`SELECT last_status FROM chantal.schedule_state WHERE job_key = 'group-snapshot:el9' AND last_finished_at IS NOT NULL`)).rows[0]
      ?.last_status as string | undefined;
  const status = await until("the group snapshot's run", finished, 60_000);
  await scheduler.stop(1000);
  return { database, events, lines, status, dir };
}

describe("scheduled group snapshots", () => {
  it("freezes the group after both members' syncs of the same fire time, not before; the unscheduled member is not waited for", async () => {
    const { database, events, status, dir } = await setUp("b");
    expect(status).toBe("success");
    const startGroup = events.indexOf("start group-snapshot:el9");
    // a and b run at once (max_concurrent_syncs 3: a free slot for the group too); the group waits and starts once both ended.
    expect(events.slice(0, 2).sort()).toEqual(["start sync:a", "start sync:b"]);
    expect(startGroup).toBeGreaterThan(events.indexOf("end sync:a success"));
    expect(startGroup).toBeGreaterThan(events.indexOf("end sync:b success"));
    expect(events.at(-1)).toBe("end group-snapshot:el9 success");
    const members = await database.pool.query(
      `SELECT r.repo_id, s.name, s.package_count FROM chantal.group_snapshots g
         JOIN chantal.group_snapshot_members m ON m.group_snapshot_id = g.id
         JOIN chantal.snapshots s ON s.id = m.snapshot_id JOIN chantal.repositories r ON r.id = s.repository_id
       WHERE g.group_id = 'el9' ORDER BY r.repo_id`,
    );
    // The members' snapshots hold what their syncs of 03:00 brought (c: its manual sync).
    expect(members.rows).toEqual([
      { repo_id: "a", name: "el9-20260601", package_count: 3 },
      { repo_id: "b", name: "el9-20260601", package_count: 2 },
      { repo_id: "c", name: "el9-20260601", package_count: 3 },
    ]);
    const fire = await database.pool.query(`SELECT status, finished_at FROM chantal.schedule_fires WHERE job_key = 'group-snapshot:el9'`);
    expect(fire.rows).toEqual([{ status: "success", finished_at: expect.any(Date) }]);

    // scheduler list and status show the group's schedule and its last outcome.
    const cli = (...args: string[]) => runCli(["--config-dir", dir, ...args], { env: { CHANTAL_LOG_LEVEL: "warn" } });
    const list = JSON.parse((await cli("scheduler", "list", "--json")).stdout) as Record<string, unknown>[];
    expect(list.find((r) => r.repository === "(group el9)")).toMatchObject({
      schedule: "0 3 * * *",
      timezone: "UTC",
      snapshot_name_template: "el9-{date}",
      last_run: { status: "success", trigger: "schedule" },
    });
    const status2 = JSON.parse((await cli("scheduler", "status", "--json")).stdout) as { group_snapshots: Record<string, unknown>[] };
    expect(status2.group_snapshots).toEqual([expect.objectContaining({ group: "el9", last_status: "success", next_run: "2026-06-02T03:00:00.000Z" })]);
    const text = (await cli("scheduler", "status")).stdout;
    expect(text).toMatch(/^Group: {6}el9: next .*, after its members' syncs of that time; last success at /m);
  });

  it("skips the group snapshot of a fire time whose member sync failed, with a warning and a recorded outcome", async () => {
    const { database, events, lines, status } = await setUp("missing");
    expect(status).toBe("skipped-member-failed");
    expect(events).toContain("end sync:b failed");
    expect(events.indexOf("start group-snapshot:el9")).toBeGreaterThan(events.indexOf("end sync:b failed"));
    expect((await database.pool.query(`SELECT count(*)::int AS n FROM chantal.group_snapshots`)).rows[0].n).toBe(0);
    const warning = lines.find((l) => l.level === 40 && l.group === "el9");
    expect(warning?.msg).toMatch(/^group el9: no snapshot for the fire time 2026-06-01T03:00:00.000Z: the scheduled sync of b \(failed\) did not succeed/);
    const state = (await database.pool.query(`SELECT last_status, last_error FROM chantal.schedule_state WHERE job_key = 'group-snapshot:el9'`)).rows[0];
    expect(state.last_status).toBe("skipped-member-failed");
    expect(state.last_error).toMatch(/b \(failed\)/);
    const fire = await database.pool.query(`SELECT status FROM chantal.schedule_fires WHERE job_key = 'group-snapshot:el9'`);
    expect(fire.rows).toEqual([{ status: "skipped-member-failed" }]);
  });
});

describe("a group snapshot whose members another daemon syncs (chantal.schedule_fires)", () => {
  const slot = new Date("2026-06-01T03:00:00Z");
  const fireRow = (db: Database, status: string | null, finished: boolean) =>
    db.pool.query(
      `INSERT INTO chantal.schedule_fires (job_key, fire_at, host, pid, lock_key, backend_pid, status, finished_at)
       VALUES ('sync:a', $1, 'other-host', 1, 1, 1, $2, ${finished ? "now()" : "NULL"})`,
      [slot, status],
    );

  async function synced() {
    const db: TestDatabase = await createTestDatabase("sched_group_other");
    const base = mkdtempSync(join(tmpdir(), "chantal-group-base-"));
    const dir = makeConfigDir({
      "config.yaml": `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\nrepositories:\n  - id: a\n    type: rpm\n    upstream_url: ${server.url}/a/\n    schedule: { cron: "0 3 * * *", timezone: UTC }\ngroups:\n  - id: el9\n    repositories: [a]\n    schedule: { cron: "0 3 * * *", timezone: UTC, name: "el9-{datetime}" }\n`,
    });
    const loaded = await loadConfig({ configDir: dir, env: {} });
    const database = await openDatabase({ config: loaded.config, log: silentLogger(), env: {} });
    cleanups.push(async () => {
      await database.close();
      await db.drop();
      rmSync(base, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    });
    const env = { config: loaded.config, database, log: silentLogger(), signal: new AbortController().signal, now: () => new Date("2026-06-01T03:10:00Z") };
    expect((await runSync({ repoId: "a", trigger: "manual" }, { ...env, loaded })).status).toBe("success");
    const task = {
      groupId: "el9",
      nameTemplate: "el9-{datetime}",
      timeZone: "UTC",
      slot: { at: slot, memberFires: [{ repoId: "a", fire: { state: "none" as const } }] },
    };
    return { database, env, task };
  }

  it("waits while the other daemon's sync of the fire time runs, then freezes the group", async () => {
    const { database, env, task } = await synced();
    await fireRow(database, null, false);
    const run = runScheduledGroupSnapshot(task, env);
    let settled = false;
    void run.finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 1000));
    expect(settled).toBe(false);
    await database.pool.query(`UPDATE chantal.schedule_fires SET status = 'success', finished_at = now() WHERE job_key = 'sync:a'`);
    expect(await run).toEqual({ status: "success", snapshot: "el9-20260601-031000", members: ["a"] });
  }, 30_000);

  it("skips when the other daemon's sync of the fire time failed, and gives up waiting after its limit", async () => {
    const { database, env, task } = await synced();
    await fireRow(database, "failed", true);
    expect(await runScheduledGroupSnapshot(task, env)).toMatchObject({ status: "skipped-member-failed", error: expect.stringMatching(/a \(failed\)/) });
    await database.pool.query(`UPDATE chantal.schedule_fires SET status = NULL, finished_at = NULL`);
    expect(await runScheduledGroupSnapshot(task, { ...env, waitSeconds: 0 })).toMatchObject({
      status: "skipped-locked",
      error: expect.stringMatching(/members still being synced by another scheduler after 0 s: a/),
    });
    await database.pool.query(`DELETE FROM chantal.schedule_fires`);
    // No fire of that time anywhere (the scheduler was down): not waited for.
    expect(await runScheduledGroupSnapshot(task, env)).toMatchObject({ status: "success", snapshot: "el9-20260601-031000" });
    // The same name again (a template that repeats within its period): a suffix, as for sync snapshots.
    expect(await runScheduledGroupSnapshot(task, env)).toMatchObject({ status: "success", snapshot: "el9-20260601-031000-2" });
  });
});
