// How many tasks the planned schedules may run at once on AWS: each fire starts within its flexible window and runs about cloud.typical_task_minutes; the peak over the coming week.
import { nextFire } from "../schedule/next.js";
import type { PlannedSchedule } from "./plan.js";

const MINUTE_MS = 60_000;
const WEEK_MS = 7 * 24 * 60 * MINUTE_MS;
/** Fires counted per schedule within the week: more than one a minute's worth is never needed for a peak. */
const MAX_FIRES_PER_SCHEDULE = 7 * 24 * 60;

export interface ConcurrencyPeak {
  /** Expected tasks running in the busiest minute (a start uniformly within the window). */
  tasks: number;
  /** That minute. */
  at: Date;
  /** Schedules with a fire whose run may overlap it. */
  schedules: number;
}

/**
 * The busiest minute of the week after `from`. A fire at minute f with a window of W minutes starts uniformly in
 * [f, f + W) and runs D minutes, so at minute m it runs with probability |[m - D, m] ∩ [f, f + W)| / W (W = 0:
 * exactly when f ≤ m < f + D). The sum over fires is the expected number of running tasks.
 */
export function peakConcurrency(schedules: readonly PlannedSchedule[], from: Date, taskMinutes: number): ConcurrencyPeak {
  // A fleet shares a few (cron, zone, window) triples: their fires are computed once (nextFire costs ~0.5 ms).
  const groups = new Map<string, { cron: string; timezone: string; window: number; count: number }>();
  for (const s of schedules) {
    const window = s.flexibleTimeWindow.Mode === "FLEXIBLE" ? s.flexibleTimeWindow.MaximumWindowInMinutes : 0;
    const key = JSON.stringify([s.cron, s.timezone, window]);
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { cron: s.cron, timezone: s.timezone, window, count: 1 });
  }
  const load = new Map<number, { tasks: number; schedules: Set<string> }>();
  const start = Math.floor(from.getTime() / MINUTE_MS);
  for (const [key, g] of groups) {
    let t = nextFire(g.cron, from, g.timezone);
    for (let n = 0; n < MAX_FIRES_PER_SCHEDULE && t.getTime() < from.getTime() + WEEK_MS; n++, t = nextFire(g.cron, t, g.timezone)) {
      const f = Math.floor(t.getTime() / MINUTE_MS) - start;
      for (let m = f; m < f + g.window + taskMinutes; m++) {
        const p = g.window === 0 ? 1 : (Math.min(m, f + g.window) - Math.max(m - taskMinutes, f)) / g.window;
        if (p <= 0) continue;
        const at = load.get(m) ?? { tasks: 0, schedules: new Set<string>() };
        load.set(m, at);
        at.tasks += g.count * Math.min(1, p);
        at.schedules.add(key);
      }
    }
  }
  let best = { minute: 0, tasks: 0, schedules: 0 };
  for (const [minute, at] of load) {
    if (at.tasks > best.tasks + 1e-9 || (Math.abs(at.tasks - best.tasks) <= 1e-9 && minute < best.minute))
      best = { minute, tasks: at.tasks, schedules: [...at.schedules].reduce((sum, k) => sum + groups.get(k)!.count, 0) };
  }
  return { tasks: best.tasks, at: new Date((start + best.minute) * MINUTE_MS), schedules: best.schedules };
}

/** The warning of `config validate --target aws` when the peak exceeds cloud.max_concurrent_tasks, else null. */
export function concurrencyWarning(peak: ConcurrencyPeak, max: number, taskMinutes: number, spreadMinutes: number): string | null {
  const tasks = Math.ceil(peak.tasks - 1e-9);
  if (tasks <= max) return null;
  // A window W lets about W / D of the fleet's runs follow each other instead of overlapping.
  const needed = Math.min(1440, Math.ceil((peak.schedules * taskMinutes) / max));
  return (
    `the schedules may run ${tasks} tasks at once (${peak.schedules} schedules around ${peak.at.toISOString().slice(0, 16)}Z, ` +
    `each ~${taskMinutes} min${spreadMinutes > 0 ? `, spread over ${spreadMinutes} min` : ""}), more than cloud.max_concurrent_tasks ${max}: ` +
    `tasks beyond the account's Fargate vCPU quota fail to start and are retried for an hour; fix: cloud.spread_minutes: ${needed} (a flexible window), ` +
    "other cron minutes, or a larger quota and max_concurrent_tasks"
  );
}
