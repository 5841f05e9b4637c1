// The scheduler's state in PostgreSQL (0002_scheduler.sql): daemon instances with heartbeats, and each schedule's
// last and next run, so that `scheduler status` and `scheduler list` work from any shell on any host.
import { hostname } from "node:os";
import type pg from "pg";
import { LockClass } from "../db/lock-ids.js";
import type { LockRequest } from "../db/locks.js";
import type { StoredTiming } from "./catchup.js";
import type { ScheduledJob } from "./plan.js";

type Q = pg.Pool | pg.ClientBase;

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
  await q.query(
    `UPDATE chantal.scheduler_instances SET stopped_at = heartbeat_at, stop_reason = 'died without stopping (found at the next start)'
     WHERE host = $1 AND stopped_at IS NULL`,
    [info.host],
  );
  const r = await q.query(
    `INSERT INTO chantal.scheduler_instances (host, pid, lock_key, backend_pid, version, config_dir, schedule_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [info.host, info.pid, info.lockKey, info.backendPid, info.version, info.configDir, info.scheduleCount],
  );
  return Number(r.rows[0].id);
}

export async function heartbeat(q: Q, instanceId: number, scheduleCount?: number): Promise<void> {
  await q.query(`UPDATE chantal.scheduler_instances SET heartbeat_at = now(), schedule_count = COALESCE($2, schedule_count) WHERE id = $1`, [instanceId, scheduleCount ?? null]);
}

export async function markStopped(q: Q, instanceId: number, reason: string): Promise<void> {
  await q.query(`UPDATE chantal.scheduler_instances SET stopped_at = now(), heartbeat_at = now(), stop_reason = $2 WHERE id = $1`, [instanceId, reason]);
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
    const r = await this.q.query(`SELECT job_key, cron, timezone, next_run_at FROM chantal.schedule_state`);
    return new Map(r.rows.map((row) => [row.job_key as string, { cron: row.cron, timeZone: row.timezone, nextRunAt: row.next_run_at }]));
  }

  /** The job's timing and next run (creating its row); `lastFireAt` when a fire time was just handled. */
  async schedule(job: ScheduledJob, nextRunAt: Date | null, lastFireAt?: Date): Promise<void> {
    await this.q.query(
      `INSERT INTO chantal.schedule_state (job_key, kind, target, cron, timezone, next_run_at, last_fire_at, instance_id, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
       ON CONFLICT (job_key) DO UPDATE SET kind = EXCLUDED.kind, target = EXCLUDED.target, cron = EXCLUDED.cron, timezone = EXCLUDED.timezone,
         next_run_at = EXCLUDED.next_run_at, last_fire_at = COALESCE(EXCLUDED.last_fire_at, chantal.schedule_state.last_fire_at),
         instance_id = EXCLUDED.instance_id, updated_at = now()`,
      [job.key, job.kind, job.target, job.cron, job.timeZone, nextRunAt, lastFireAt ?? null, this.instanceId],
    );
  }

  async runStarted(job: ScheduledJob, at: Date): Promise<void> {
    await this.q.query(`UPDATE chantal.schedule_state SET last_started_at = $2, last_finished_at = NULL, last_status = 'running', last_error = NULL, updated_at = now() WHERE job_key = $1`, [job.key, at]);
  }

  async runFinished(job: ScheduledJob, at: Date, outcome: RunOutcome): Promise<void> {
    await this.q.query(
      `UPDATE chantal.schedule_state SET last_finished_at = $2, last_status = $3, last_run_id = $4, last_error = $5, updated_at = now() WHERE job_key = $1`,
      [job.key, at, outcome.status, outcome.runId, outcome.error ?? null],
    );
  }

  /** Schedules not in `activeKeys` are no longer configured: they keep their history but have no next run. */
  async retire(activeKeys: readonly string[]): Promise<void> {
    await this.q.query(`UPDATE chantal.schedule_state SET next_run_at = NULL, updated_at = now() WHERE next_run_at IS NOT NULL AND NOT (job_key = ANY($1::text[]))`, [activeKeys]);
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
  schedules: ScheduleStateRow[];
  lastScheduledSync: LastScheduledSync | null;
  /** The database's clock, for uptimes. */
  dbNow: Date;
}

export async function readSchedulerStatus(q: Q): Promise<SchedulerStatus> {
  const instances = await q.query(
    `SELECT i.*, EXISTS (
       SELECT 1 FROM pg_locks l
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = i.lock_key::bigint::oid AND l.objsubid = 2
         AND l.pid = i.backend_pid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     ) AS running
     FROM chantal.scheduler_instances i ORDER BY i.started_at DESC, i.id DESC LIMIT 50`,
    [LockClass.scheduler],
  );
  const rows: InstanceRow[] = instances.rows.map((r) => ({
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
  }));
  const schedules = await q.query(`SELECT * FROM chantal.schedule_state ORDER BY job_key`);
  const last = await q.query(
    `SELECT r.repo_id, s.started_at, s.finished_at, s.status, s.snapshot_name, s.error
     FROM chantal.sync_runs s JOIN chantal.repositories r ON r.id = s.repository_id
     WHERE s.trigger = 'schedule' ORDER BY s.started_at DESC, s.id DESC LIMIT 1`,
  );
  const now = await q.query(`SELECT now() AS now`);
  const l = last.rows[0];
  return {
    running: rows.filter((r) => r.running),
    latest: rows[0] ?? null,
    schedules: schedules.rows.map((r) => ({
      jobKey: r.job_key,
      kind: r.kind,
      target: r.target,
      cron: r.cron,
      timeZone: r.timezone,
      nextRunAt: r.next_run_at,
      lastFireAt: r.last_fire_at,
      lastStartedAt: r.last_started_at,
      lastFinishedAt: r.last_finished_at,
      lastStatus: r.last_status,
      lastRunId: r.last_run_id === null ? null : Number(r.last_run_id),
      lastError: r.last_error,
    })),
    lastScheduledSync: l ? { repoId: l.repo_id, startedAt: l.started_at, finishedAt: l.finished_at, status: l.status, snapshotName: l.snapshot_name, error: l.error } : null,
    dbNow: now.rows[0].now,
  };
}
