// Next fire time of a cron schedule in a time zone, once per matching local minute across daylight-saving changes.
//
// cron-parser matches the calendar (fields, macros, day-of-month OR day-of-week); it runs in UTC on
// wall-clock times, so its own DST handling (which fires twice in a repeated hour and shifts runs in a
// skipped hour) never applies. Mapping a matching local minute back to an instant:
//   - it happens once: that instant;
//   - it happens twice (clocks go back, e.g. Europe/Berlin 02:00-02:59 on the last Sunday of October):
//     only the first occurrence fires; the second pass of the hour runs nothing that already ran;
//   - it never happens (clocks go forward, e.g. 02:00-02:59 on the last Sunday of March): it fires once at
//     the first instant after the gap (03:00 local), together with anything due at that instant.
import { formatLocalTimeWithZone } from "../local-time.js";
import { CronExpressionParser } from "cron-parser";
import { canonicalCron } from "./cron.js";
import { ChantalError } from "../errors.js";
import { instantsOf, wallClockOf } from "./zone.js";

/** A bound on consecutive matches that already happened (a repeated hour has at most 60 minutes). */
const MAX_STEPS = 10_000;

export class ScheduleNeverFiresError extends ChantalError {}

/** The first matching wall-clock minute strictly after `wallClock` (ms, fields read as UTC). */
export function nextMatchingWallClock(expr: string, wallClock: number): number {
  try {
    return CronExpressionParser.parse(canonicalCron(expr), { tz: "UTC", currentDate: new Date(wallClock) })
      .next()
      .getTime();
  } catch (err) {
    throw new ScheduleNeverFiresError(`cron "${expr}" never fires: ${(err as Error).message}`);
  }
}

/** When a matching local minute fires: its first occurrence, or the end of the gap that swallowed it. */
export function fireInstantOf(timeZone: string, wallClock: number): number {
  const at = instantsOf(timeZone, wallClock);
  if (at.kind === "unique") return at.instant;
  if (at.kind === "repeated") return at.first;
  return at.gapEnd;
}

/** The first fire time strictly after `after`, in the schedule's zone. */
export function nextFire(expr: string, after: Date, timeZone: string): Date {
  const afterMs = after.getTime();
  let cursor = wallClockOf(timeZone, afterMs);
  for (let i = 0; i < MAX_STEPS; i++) {
    const wall = nextMatchingWallClock(expr, cursor);
    const instant = fireInstantOf(timeZone, wall);
    if (instant > afterMs) return new Date(instant);
    cursor = wall; // already fired in the first pass of a repeated hour, or merged into an earlier gap end
  }
  throw new ScheduleNeverFiresError(`cron "${expr}" found no fire time after ${formatLocalTimeWithZone(after)} in ${timeZone}`);
}

/** Every fire time in (from, to], at most `limit` of them (for counting missed runs). */
export function firesBetween(expr: string, from: Date, to: Date, timeZone: string, limit = 1000): Date[] {
  const out: Date[] = [];
  for (let t = nextFire(expr, from, timeZone); t.getTime() <= to.getTime() && out.length < limit; t = nextFire(expr, t, timeZone)) out.push(t);
  return out;
}
