// Planned schedules whose time falls in an hour that clocks skip (spring forward): EventBridge Scheduler drops that run, the local scheduler runs it at the end of the gap.
import { canonicalCron } from "../schedule/cron.js";
import { nextMatchingWallClock } from "../schedule/next.js";
import { zoneOffsetMs } from "../schedule/zone.js";
import type { PlannedSchedule } from "./plan.js";

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** How far ahead transitions are looked for: a year covers every zone's spring change. */
const HORIZON_MS = 366 * 24 * HOUR_MS;

/** A stretch of wall-clock time that never happens in a zone, as wall-clock milliseconds (fields read as UTC). */
export interface ClockGap {
  /** The first wall-clock minute that does not exist (02:00). */
  start: number;
  /** The first that does again (03:00). */
  end: number;
}

const gapCache = new Map<string, ClockGap[]>();

/** The zone's forward transitions in [from, from + 1 year): each found hourly, then to the millisecond. */
export function clockGaps(timeZone: string, from: Date): ClockGap[] {
  const key = `${timeZone} ${Math.floor(from.getTime() / HOUR_MS)}`;
  const cached = gapCache.get(key);
  if (cached) return cached;
  const gaps: ClockGap[] = [];
  const start = Math.floor(from.getTime() / HOUR_MS) * HOUR_MS;
  let before = zoneOffsetMs(timeZone, start);
  for (let t = start + HOUR_MS; t < start + HORIZON_MS; t += HOUR_MS) {
    const after = zoneOffsetMs(timeZone, t);
    if (after > before) {
      let lo = t - HOUR_MS;
      let hi = t;
      while (hi - lo > 1000) {
        const mid = Math.floor((lo + hi) / 2);
        if (zoneOffsetMs(timeZone, mid) === after) hi = mid;
        else lo = mid;
      }
      gaps.push({ start: hi + before, end: hi + after });
    }
    before = after;
  }
  gapCache.set(key, gaps);
  return gaps;
}

export interface SkippedRun {
  schedule: Pick<PlannedSchedule, "name" | "handler" | "repoId" | "groupId" | "cron" | "timezone">;
  /** The wall-clock minute of the run that does not happen, e.g. 2027-03-28 02:30. */
  wallClock: number;
  gap: ClockGap;
}

/** Per schedule, the first run within the coming year that falls in a skipped hour of its zone. */
export function skippedRuns(schedules: readonly PlannedSchedule[], from: Date): SkippedRun[] {
  const out: SkippedRun[] = [];
  for (const s of schedules) {
    const expr = canonicalCron(s.cron);
    for (const gap of clockGaps(s.timezone, from)) {
      const wall = nextMatchingWallClock(expr, gap.start - MINUTE_MS);
      if (wall < gap.end) {
        out.push({ schedule: s, wallClock: wall, gap });
        break;
      }
    }
  }
  return out;
}

const wallText = (wall: number) => new Date(wall).toISOString().slice(0, 16).replace("T", " ");

/** One warning line, naming the schedule, the day, the hour and the fix. */
export function skippedRunWarning(r: SkippedRun): string {
  const s = r.schedule;
  const who = s.repoId !== undefined ? `repository ${s.repoId}` : s.groupId !== undefined ? `group ${s.groupId}` : `the ${s.handler} schedule`;
  const hour = (wall: number) => wallText(wall).slice(11);
  const skipped = `${hour(r.gap.start)}-${hour(r.gap.end - MINUTE_MS)}`;
  return (
    `${who}: "${s.cron}" in ${s.timezone} falls in the hour clocks skip on ${wallText(r.wallClock).slice(0, 10)} ` +
    `(${skipped} does not exist): EventBridge Scheduler drops the ${hour(r.wallClock)} run, ` +
    `the local scheduler runs it at ${hour(r.gap.end)}; to run every day on AWS, move it out of ${skipped} or use timezone UTC`
  );
}
