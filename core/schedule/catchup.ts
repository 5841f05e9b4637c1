// What a schedule does when the daemon starts: keep time, or run once for what was missed while it was down.
//
// The database keeps each schedule's next run (chantal.schedule_state). A next run in the past at start
// means the daemon was down when it fell due: with scheduler.catch_up the job runs once now, however many
// fire times were missed; without it, the job waits for its next time. A schedule without a stored next run,
// or whose cron or time zone changed, is new: nothing was missed.
import { firesBetween, nextFire } from "./next.js";
import { sameTiming, type ScheduledJob } from "./plan.js";

export interface StoredTiming {
  cron: string;
  timeZone: string;
  /** Null when the schedule was removed from the configuration. */
  nextRunAt: Date | null;
}

export type StartDecision =
  | { action: "wait"; next: Date; reason: "new" | "retimed" | "on time" }
  | { action: "catch-up" | "skip-missed"; missedAt: Date; missedCount: number; next: Date };

/** Missed fire times are counted up to this many (for the log line). */
const COUNT_LIMIT = 1000;

export function decideAtStart(job: Pick<ScheduledJob, "cron" | "timeZone">, stored: StoredTiming | undefined, now: Date, catchUp: boolean): StartDecision {
  const next = nextFire(job.cron, now, job.timeZone);
  if (!stored || stored.nextRunAt === null) return { action: "wait", next, reason: "new" };
  if (!sameTiming(job, stored)) return { action: "wait", next, reason: "retimed" };
  if (stored.nextRunAt.getTime() > now.getTime()) return { action: "wait", next, reason: "on time" };
  const missedAt = stored.nextRunAt;
  const missedCount = 1 + firesBetween(job.cron, missedAt, now, job.timeZone, COUNT_LIMIT - 1).length;
  return { action: catchUp ? "catch-up" : "skip-missed", missedAt, missedCount, next };
}
