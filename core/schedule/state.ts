// The scheduler's state in PostgreSQL (0002_scheduler.sql): daemon instances with heartbeats, and each schedule's
// last and next run, so that `scheduler status` and `scheduler list` work from any shell on any host.
import { hostname } from "node:os";
import type { QueryResultRow } from "pg";
import { and, asc, desc, eq, isNotNull, isNull, notInArray, sql } from "../db/drizzle.js";
import { LockClass } from "../db/lock-ids.js";
import type { LockRequest } from "../db/locks.js";
import { orm, type Queryable } from "../db/orm.js";
import { repositories, scheduleState, schedulerInstances, syncRuns } from "../db/schema.js";
import type { StoredTiming } from "./catchup.js";
import { HOSTS_LISTED_DAYS, hostVerdict, type HostVerdict } from "./hosts.js";
import type { ScheduledJob } from "./plan.js";

type Q = Queryable;

/** The advisory-lock key of this host's scheduler: one daemon per host, any number of hosts per database. */
export function hostLockKey(host: string = hostname()): number {
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (const byte of Buffer.from(host, "utf8")) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h & 0x7fffffff;
}

export function schedulerLockRequest(host: string = hostname()): LockRequest {
  return { lockClass: LockClass.scheduler, key: hostLockKey(host), purpose: `scheduler on ${host}` };
}

export interface InstanceInfo {
  host: string;
  pid: number;
  lockKey: number;
  backendPid: number;
  version: string;
  configDir: string;
  scheduleCount: number;
}

/** Records a daemon start; earlier instances of this host that never stopped are closed (we hold the host lock now). */
export async function registerInstance(q: Q, info: InstanceInfo): Promise<number> {
  await orm(q, (db) =>
    db
      .update(schedulerInstances)
      .set({ stoppedAt: sql`${schedulerInstances.heartbeatAt}`, stopReason: "died without stopping (found at the next start)" })
      .where(and(eq(schedulerInstances.host, info.host), isNull(schedulerInstances.stoppedAt))),
  );
  const { host, pid, lockKey, backendPid, version, configDir, scheduleCount } = info;
  const [row] = await orm(q, (db) =>
    db.insert(schedulerInstances).values({ host, pid, lockKey, backendPid, version, configDir, scheduleCount }).returning({ id: schedulerInstances.id }),
  );
  return row!.id;
}

export async function heartbeat(q: Q, instanceId: number, scheduleCount?: number): Promise<void> {
  await orm(q, (db) =>
    db
      .update(schedulerInstances)
      .set({ heartbeatAt: sql`now()`, ...(scheduleCount !== undefined ? { scheduleCount } : {}) })
      .where(eq(schedulerInstances.id, instanceId)),
  );
}

export async function markStopped(q: Q, instanceId: number, reason: string): Promise<void> {
  await orm(q, (db) =>
    db.update(schedulerInstances).set({ stoppedAt: sql`now()`, heartbeatAt: sql`now()`, stopReason: reason }).where(eq(schedulerInstances.id, instanceId)),
  );
}

export interface RunOutcome {
  status: string;
  runId: number | null;
  error?: string | undefined;
}

/** Per-schedule rows, written by one daemon instance. Times come from the daemon's clock. */
export class ScheduleStateStore {
  constructor(
    private readonly q: Q,
    private readonly instanceId: number | null,
  ) {}

  async loadTimings(): Promise<Map<string, StoredTiming>> {
    const rows = await orm(this.q, (db) =>
      db
        .select({ jobKey: scheduleState.jobKey, cron: scheduleState.cron, timeZone: scheduleState.timezone, nextRunAt: scheduleState.nextRunAt })
        .from(scheduleState),
    );
    return new Map(rows.map(({ jobKey, ...timing }) => [jobKey, timing]));
  }

  /** The job's timing and next run (creating its row); `lastFireAt` when a fire time was just handled. */
  async schedule(job: ScheduledJob, nextRunAt: Date | null, lastFireAt?: Date): Promise<void> {
    const timing = {
      kind: job.kind,
      target: job.target,
      cron: job.cron,
      timezone: job.timeZone,
      nextRunAt,
      instanceId: this.instanceId,
      updatedAt: sql`now()`,
    };
    await orm(this.q, (db) =>
      db
        .insert(scheduleState)
        .values({ jobKey: job.key, ...timing, lastFireAt: lastFireAt ?? null })
        // No fire time given keeps the one recorded.
        .onConflictDoUpdate({ target: scheduleState.jobKey, set: { ...timing, ...(lastFireAt ? { lastFireAt } : {}) } }),
    );
  }

  /** A queued run waits for a maintenance window opening at `opensAt` (null: none within the horizon), or no longer waits. */
  async windowWait(job: ScheduledJob, waiting: boolean, opensAt: Date | null = null): Promise<void> {
    await orm(this.q, (db) =>
      db.update(scheduleState).set({ windowWaiting: waiting, windowOpensAt: opensAt, updatedAt: sql`now()` }).where(eq(scheduleState.jobKey, job.key)),
    );
  }

  async runStarted(job: ScheduledJob, at: Date): Promise<void> {
    await orm(this.q, (db) =>
      db
        .update(scheduleState)
        .set({
          lastStartedAt: at,
          lastFinishedAt: null,
          lastStatus: "running",
          lastError: null,
          windowWaiting: false,
          windowOpensAt: null,
          updatedAt: sql`now()`,
        })
        .where(eq(scheduleState.jobKey, job.key)),
    );
  }

  async runFinished(job: ScheduledJob, at: Date, outcome: RunOutcome): Promise<void> {
    await orm(this.q, (db) =>
      db
        .update(scheduleState)
        .set({ lastFinishedAt: at, lastStatus: outcome.status, lastRunId: outcome.runId, lastError: outcome.error ?? null, updatedAt: sql`now()` })
        .where(eq(scheduleState.jobKey, job.key)),
    );
  }

  /** Schedules not in `activeKeys` are no longer configured: they keep their history but have no next run. */
  async retire(activeKeys: readonly string[]): Promise<void> {
    await orm(this.q, (db) =>
      db
        .update(scheduleState)
        .set({ nextRunAt: null, updatedAt: sql`now()` })
        .where(and(isNotNull(scheduleState.nextRunAt), notInArray(scheduleState.jobKey, [...activeKeys]))),
    );
  }
}

export interface InstanceRow {
  id: number;
  host: string;
  pid: number;
  version: string;
  configDir: string;
  scheduleCount: number;
  startedAt: Date;
  heartbeatAt: Date;
  stoppedAt: Date | null;
  stopReason: string | null;
  running: boolean;
}

export interface HostRow extends InstanceRow, HostVerdict {}

/** A row of chantal.scheduler_instances (snake_case, with `running`: its lock is held). */
function instanceRow(r: QueryResultRow): InstanceRow {
  return {
    id: Number(r.id),
    host: r.host,
    pid: r.pid,
    version: r.version,
    configDir: r.config_dir,
    scheduleCount: r.schedule_count,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
    stoppedAt: r.stopped_at,
    stopReason: r.stop_reason,
    running: r.running === true && r.stopped_at === null,
  };
}

export interface ScheduleStateRow {
  jobKey: string;
  kind: string;
  target: string;
  cron: string;
  timeZone: string;
  nextRunAt: Date | null;
  lastFireAt: Date | null;
  lastStartedAt: Date | null;
  lastFinishedAt: Date | null;
  lastStatus: string | null;
  lastRunId: number | null;
  lastError: string | null;
  /** A run waits for a maintenance window (scheduler.windows), opening then (null: none within a year). */
  windowWaiting: boolean;
  windowOpensAt: Date | null;
}

export interface LastScheduledSync {
  repoId: string;
  startedAt: Date;
  finishedAt: Date | null;
  status: string;
  snapshotName: string | null;
  error: string | null;
}

export interface SchedulerStatus {
  /** Instances alive now (their lock is held), newest first. */
  running: InstanceRow[];
  /** The newest instance, running or not. */
  latest: InstanceRow | null;
  /** The newest instance of each host name seen within HOSTS_LISTED_DAYS, by host name, with its state. */
  hosts: HostRow[];
  schedules: ScheduleStateRow[];
  lastScheduledSync: LastScheduledSync | null;
  /** The database's clock, for uptimes. */
  dbNow: Date;
}

/** True while the instance's session holds its scheduler lock (right from any host, also after a kill -9). */
const LOCK_HELD = `EXISTS (
  SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = i.lock_key::bigint::oid AND l.objsubid = 2
    AND l.pid = i.backend_pid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`;

export async function readSchedulerStatus(q: Q): Promise<SchedulerStatus> {
  const instances = await q.query(`SELECT i.*, ${LOCK_HELD} AS running FROM chantal.scheduler_instances i ORDER BY i.started_at DESC, i.id DESC LIMIT 50`, [
    LockClass.scheduler,
  ]);
  // The newest daemon of each host name, whatever became of it (another host's kill -9 shows as stale).
  const perHost = await q.query(
    `SELECT * FROM (
       SELECT DISTINCT ON (i.host) i.*, ${LOCK_HELD} AS running FROM chantal.scheduler_instances i ORDER BY i.host, i.started_at DESC, i.id DESC
     ) n WHERE n.heartbeat_at > now() - make_interval(days => $2) ORDER BY n.host`,
    [LockClass.scheduler, HOSTS_LISTED_DAYS],
  );
  const now = await q.query(`SELECT now() AS now`);
  const dbNow: Date = now.rows[0].now;
  const hosts: HostRow[] = perHost.rows.map((r) => {
    const row = instanceRow(r);
    return { ...row, ...hostVerdict({ lockHeld: r.running === true, heartbeatAt: row.heartbeatAt, stoppedAt: row.stoppedAt }, dbNow) };
  });
  const rows: InstanceRow[] = instances.rows.map(instanceRow);
  const schedules = await orm(q, (db) =>
    db
      .select({
        jobKey: scheduleState.jobKey,
        kind: scheduleState.kind,
        target: scheduleState.target,
        cron: scheduleState.cron,
        timeZone: scheduleState.timezone,
        nextRunAt: scheduleState.nextRunAt,
        lastFireAt: scheduleState.lastFireAt,
        lastStartedAt: scheduleState.lastStartedAt,
        lastFinishedAt: scheduleState.lastFinishedAt,
        lastStatus: scheduleState.lastStatus,
        lastRunId: scheduleState.lastRunId,
        lastError: scheduleState.lastError,
        windowWaiting: scheduleState.windowWaiting,
        windowOpensAt: scheduleState.windowOpensAt,
      })
      .from(scheduleState)
      .orderBy(asc(scheduleState.jobKey)),
  );
  const [last] = await orm(q, (db) =>
    db
      .select({
        repoId: repositories.repoId,
        startedAt: syncRuns.startedAt,
        finishedAt: syncRuns.finishedAt,
        status: syncRuns.status,
        snapshotName: syncRuns.snapshotName,
        error: syncRuns.error,
      })
      .from(syncRuns)
      .innerJoin(repositories, eq(repositories.id, syncRuns.repositoryId))
      .where(eq(syncRuns.trigger, "schedule"))
      .orderBy(desc(syncRuns.startedAt), desc(syncRuns.id))
      .limit(1),
  );
  return {
    running: rows.filter((r) => r.running),
    latest: rows[0] ?? null,
    hosts,
    schedules,
    lastScheduledSync: last ?? null,
    dbNow,
  };
}
