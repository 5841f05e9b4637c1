// chantal.schedule_fires (0003_schedule_fires.sql): each fire of a schedule is claimed once in the database, so that
// several scheduler daemons (one per host) can share it for availability and a fire still runs at most once.
//
// Decision for a daemon that claimed a fire and died mid-run (kill -9, lost session): the claim is the record that the
// fire ran. No other daemon, nor its own restart's catch-up, starts it again: the next daemon's scan closes it as
// 'interrupted' (the run is lost with its host; its sync run is found interrupted by the next sync) and the next fire
// time runs as usual. Only a run a shutdown aborted cleanly (recorded 'interrupted', claim left open) is taken over,
// once, while that fire is still the schedule's latest: that run is known not to have done its work.
// The statements that ask whether a claimant is alive (pg_locks) are SQL in plain sight; the plain row writes go through drizzle.
import { and, eq, inArray, sql } from "./drizzle.js";
import { LockClass } from "./lock-ids.js";
import { orm, type Queryable } from "./orm.js";
import { scheduleFires } from "./schema.js";

type Q = Queryable;

/** Who claims: a daemon, alive while its session `backendPid` holds the scheduler lock (LockClass.scheduler, lockKey). */
export interface FireClaimant {
  host: string;
  pid: number;
  lockKey: number;
  backendPid: number;
  instanceId: number | null;
}

export interface FireHolder {
  host: string;
  pid: number;
  status: string | null;
  finished: boolean;
}

export type ClaimResult =
  | { claimed: true; attempt: number; takenOverFrom: string | null }
  | { claimed: false; reason: "claimed" | "busy"; holder: FireHolder | null; busyFireAt?: Date };

export interface OpenFire {
  jobKey: string;
  fireAt: Date;
  host: string;
  pid: number;
}

/** True while the claim's daemon is alive: its session holds its scheduler lock and connected before the claim. */
const CLAIMANT_ALIVE = `EXISTS (
  SELECT 1 FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ${LockClass.scheduler}::bigint::oid AND l.objid = f.lock_key::bigint::oid
    AND l.objsubid = 2 AND l.pid = f.backend_pid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND (a.backend_start IS NULL OR a.backend_start <= f.claimed_at))`;

/** The latest earlier fire of the schedule that a live daemon is still running. */
const BUSY_SQL = `
  SELECT f.fire_at, f.host, f.pid FROM chantal.schedule_fires f
  WHERE f.job_key = $1 AND f.fire_at < $2 AND f.finished_at IS NULL AND ${CLAIMANT_ALIVE}
  ORDER BY f.fire_at DESC LIMIT 1`;

/** The claim: a new row, or the takeover of a first attempt a shutdown aborted whose claimant is gone. No row back: lost. */
const CLAIM_SQL = `
  INSERT INTO chantal.schedule_fires AS f (job_key, fire_at, host, pid, lock_key, backend_pid, instance_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (job_key, fire_at) DO UPDATE
    SET host = EXCLUDED.host, pid = EXCLUDED.pid, lock_key = EXCLUDED.lock_key, backend_pid = EXCLUDED.backend_pid,
        instance_id = EXCLUDED.instance_id, attempt = f.attempt + 1, taken_over_from = f.host || ' pid ' || f.pid,
        claimed_at = now(), status = NULL
    WHERE f.finished_at IS NULL AND f.status = 'interrupted' AND f.attempt < 2 AND NOT ${CLAIMANT_ALIVE}
  RETURNING attempt, taken_over_from`;

/** Fires of these schedules whose claimant died mid-run (no outcome recorded): closed as interrupted, never run again. */
const CLOSE_DEAD_SQL = `
  UPDATE chantal.schedule_fires f SET status = 'interrupted', finished_at = now()
  WHERE f.job_key = ANY($1::text[]) AND f.finished_at IS NULL AND f.status IS NULL AND NOT ${CLAIMANT_ALIVE}
  RETURNING f.job_key, f.fire_at, f.host, f.pid`;

/** Fires of these schedules a shutdown aborted, whose claimant is gone, not yet taken over, and still their schedule's latest. */
const ORPHANS_SQL = `
  SELECT f.job_key, f.fire_at, f.host, f.pid FROM chantal.schedule_fires f
  WHERE f.job_key = ANY($1::text[]) AND f.finished_at IS NULL AND f.status = 'interrupted' AND f.attempt < 2 AND NOT ${CLAIMANT_ALIVE}
    AND NOT EXISTS (SELECT 1 FROM chantal.schedule_fires g WHERE g.job_key = f.job_key AND g.fire_at > f.fire_at)
  ORDER BY f.fire_at`;

/** The newest fire of each schedule is kept whatever its age (it decides takeovers); older ones after `days`. */
const PRUNE_SQL = `
  DELETE FROM chantal.schedule_fires f WHERE f.claimed_at < now() - make_interval(days => $1)
    AND EXISTS (SELECT 1 FROM chantal.schedule_fires g WHERE g.job_key = f.job_key AND g.fire_at > f.fire_at)`;

export interface FireOutcome {
  status: string | null;
  finished: boolean;
}

/** The fires of these schedules at one fire time, by job key (a group snapshot reads its members' from any daemon). */
export async function fireOutcomes(q: Q, jobKeys: readonly string[], fireAt: Date): Promise<Map<string, FireOutcome>> {
  if (jobKeys.length === 0) return new Map();
  const rows = await orm(q, (db) =>
    db
      .select({ jobKey: scheduleFires.jobKey, status: scheduleFires.status, finishedAt: scheduleFires.finishedAt })
      .from(scheduleFires)
      .where(and(inArray(scheduleFires.jobKey, [...jobKeys]), eq(scheduleFires.fireAt, fireAt))),
  );
  return new Map(rows.map((r) => [r.jobKey, { status: r.status, finished: r.finishedAt !== null }]));
}

export class ScheduleFires {
  constructor(
    private readonly q: Q,
    readonly claimant: FireClaimant,
  ) {}

  private params(jobKey: string, fireAt: Date): unknown[] {
    const c = this.claimant;
    return [jobKey, fireAt, c.host, c.pid, c.lockKey, c.backendPid, c.instanceId];
  }

  /** Claims (jobKey, fireAt) for this daemon; false when another daemon has it or the previous fire still runs. */
  async claim(jobKey: string, fireAt: Date): Promise<ClaimResult> {
    const busy = await this.q.query(BUSY_SQL, [jobKey, fireAt]);
    if (busy.rows.length > 0) {
      const b = busy.rows[0];
      // Recorded as done, so that no other daemon runs it either.
      const c = this.claimant;
      await orm(this.q, (db) =>
        db
          .insert(scheduleFires)
          .values({
            jobKey,
            fireAt,
            host: c.host,
            pid: c.pid,
            lockKey: c.lockKey,
            backendPid: c.backendPid,
            instanceId: c.instanceId,
            status: "skipped",
            finishedAt: sql`now()`,
          })
          .onConflictDoNothing({ target: [scheduleFires.jobKey, scheduleFires.fireAt] }),
      );
      return { claimed: false, reason: "busy", holder: { host: b.host, pid: b.pid, status: null, finished: false }, busyFireAt: b.fire_at };
    }
    const r = await this.q.query(CLAIM_SQL, this.params(jobKey, fireAt));
    if (r.rows.length > 0) return { claimed: true, attempt: r.rows[0].attempt, takenOverFrom: r.rows[0].taken_over_from };
    const [h] = await orm(this.q, (db) =>
      db
        .select({ host: scheduleFires.host, pid: scheduleFires.pid, status: scheduleFires.status, finishedAt: scheduleFires.finishedAt })
        .from(scheduleFires)
        .where(and(eq(scheduleFires.jobKey, jobKey), eq(scheduleFires.fireAt, fireAt))),
    );
    return { claimed: false, reason: "claimed", holder: h ? { host: h.host, pid: h.pid, status: h.status, finished: h.finishedAt !== null } : null };
  }

  async finish(jobKey: string, fireAt: Date, status: string, runId: number | null): Promise<void> {
    const c = this.claimant;
    // 'interrupted' (a shutdown aborted the run) keeps the claim open for a takeover; every other outcome ends the fire.
    await orm(this.q, (db) =>
      db
        .update(scheduleFires)
        .set({ status, runId, finishedAt: status === "interrupted" ? null : sql`now()` })
        .where(
          and(
            eq(scheduleFires.jobKey, jobKey),
            eq(scheduleFires.fireAt, fireAt),
            eq(scheduleFires.host, c.host),
            eq(scheduleFires.pid, c.pid),
            eq(scheduleFires.backendPid, c.backendPid),
          ),
        ),
    );
  }

  /** Closes the fires whose daemon died while running them (see the decision above) and returns them, for the log. */
  async closeDead(jobKeys: readonly string[]): Promise<OpenFire[]> {
    const r = await this.q.query(CLOSE_DEAD_SQL, [jobKeys]);
    return r.rows.map((row) => ({ jobKey: row.job_key, fireAt: row.fire_at, host: row.host, pid: row.pid }));
  }

  async orphans(jobKeys: readonly string[]): Promise<OpenFire[]> {
    const r = await this.q.query(ORPHANS_SQL, [jobKeys]);
    return r.rows.map((row) => ({ jobKey: row.job_key, fireAt: row.fire_at, host: row.host, pid: row.pid }));
  }

  async prune(days: number): Promise<number> {
    return (await this.q.query(PRUNE_SQL, [days])).rowCount ?? 0;
  }
}
