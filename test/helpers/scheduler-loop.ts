// The scheduler loop in-process (core/schedule/daemon.ts) on a hand-moved clock: a real database for its state and fire
// claims with one daemon's host lock session, configurations of scheduled repositories, a recording job runner.
import { rmSync } from "node:fs";
import pg from "pg";
import { afterAll, afterEach, beforeAll } from "vitest";
import { loadConfig, type LoadedConfig } from "../../core/config/load.js";
import { acquireLock, type HeldLock } from "../../core/db/locks.js";
import { migrate } from "../../core/db/migrate.js";
import { ScheduleFires } from "../../core/db/schedule-fires.js";
import type { ManualClock } from "../../core/schedule/clock.js";
import type { JobRunRequest, JobRunResult, Scheduler } from "../../core/schedule/daemon.js";
import { hostLockKey, schedulerLockRequest } from "../../core/schedule/state.js";
import { makeConfigDir } from "./cli.js";
import { createTestDatabase, type TestDatabase } from "./db.js";

export interface LoopRepo {
  id: string;
  cron: string;
  jitter?: number;
  tz?: string;
}

/**
 * Registers the test file's hooks: a database `name` created and migrated before all, its schedule state and fire
 * claims emptied after each test, all dropped after all. `host` is the one daemon's name (its lock is held throughout).
 */
export function useSchedulerLoopDatabase(name: string, host: string) {
  let db: TestDatabase;
  let pool: pg.Pool;
  let hostLock: HeldLock;
  const dirs: string[] = [];
  beforeAll(async () => {
    db = await createTestDatabase(name);
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    pool.on("error", () => undefined); // pool.end() does not wait for sockets to close: the DROP DATABASE ... FORCE may still hit one
    await migrate(pool);
    hostLock = await acquireLock(db.url, schedulerLockRequest(host)); // the daemon's session: its fire claims live as long as it
  });
  afterAll(async () => {
    await hostLock.release();
    await pool.end();
    await db.drop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  afterEach(async () => {
    await pool.query("TRUNCATE chantal.schedule_state, chantal.schedule_fires");
  });
  return {
    get pool(): pg.Pool {
      return pool;
    },
    /** The fire claims of the one daemon of these tests. */
    fires: () => new ScheduleFires(pool, { host, pid: process.pid, lockKey: hostLockKey(host), backendPid: hostLock.backendPid, instanceId: null }),
    /** A configuration of these scheduled repositories (upstreams never reached) and this scheduler block. */
    async config(repos: LoopRepo[], scheduler: string): Promise<LoadedConfig> {
      const yaml = repos
        .map(
          (r) =>
            `  - id: ${r.id}\n    type: rpm\n    upstream_url: http://127.0.0.1:9/${r.id}/\n    schedule:\n      cron: "${r.cron}"\n      timezone: ${r.tz ?? "UTC"}\n      jitter_seconds: ${r.jitter ?? 0}\n`,
        )
        .join("");
      const dir = makeConfigDir({
        "config.yaml": `storage:\n  base_path: /tmp/chantal-${name}-unused\ndatabase:\n  url: ${db.url}\nscheduler:\n${scheduler}\nrepositories:\n${yaml}`,
      });
      dirs.push(dir);
      return loadConfig({ configDir: dir, env: {} });
    },
    async stateRow(key: string) {
      return (await pool.query(`SELECT * FROM chantal.schedule_state WHERE job_key = $1`, [key])).rows[0];
    },
  };
}

/** A job runner whose runs the test finishes by hand. */
export function recordingRunner(clock: ManualClock) {
  const calls: { key: string; at: string; catchUp: boolean; scheduledAt: string; finish(r?: Partial<JobRunResult>): void; signal: AbortSignal }[] = [];
  const run = (req: JobRunRequest) =>
    new Promise<JobRunResult>((resolve) => {
      const finish = (r: Partial<JobRunResult> = {}) => resolve({ status: "success", runId: null, ...r });
      calls.push({
        key: req.job.key,
        at: clock.now().toISOString(),
        catchUp: req.catchUp,
        scheduledAt: req.scheduledAt.toISOString(),
        finish,
        signal: req.signal,
      });
      req.signal.addEventListener("abort", () => resolve({ status: "interrupted", runId: null, error: String((req.signal.reason as Error).message) }));
    });
  return { calls, run };
}

/** Lets finished runs hand back and the claims of the runs they unblock reach the database. */
export const settle = async (...schedulers: Scheduler[]) => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await Promise.all(schedulers.map((s) => s.idle()));
};

/** Moves the clock to `target` one timer at a time; each run's claim (a database round trip) completes before time moves on. */
export async function advance(clock: ManualClock, target: string, ...schedulers: Scheduler[]): Promise<void> {
  for (;;) {
    await Promise.all(schedulers.map((s) => s.idle()));
    const at = clock.nextTimerAt();
    if (at === null || at > Date.parse(target)) break;
    clock.advanceTo(new Date(at));
  }
  clock.advanceTo(new Date(target));
  await Promise.all(schedulers.map((s) => s.idle()));
}
