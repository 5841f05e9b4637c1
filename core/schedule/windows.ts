// Maintenance windows (scheduler.windows): pure — whether a repository's scheduled sync may start now, else when it may, and when a running one stops.
//
// A window opens at each fire time of its cron (in its zone, with next.ts's daylight-saving rules) and stays open for
// `duration` of real time. Overlapping or touching occurrences, of one window or of several, are one open stretch
// (union). A repository's windows are those naming it plus those naming none. `never` beats `only`: a sync may start
// when it is inside no `never` window and, if it has `only` windows, inside one of them. Never windows say only when
// a sync may not start; a running sync is stopped only when the `only` stretch it started in closes with on_close: abort.
import type { Config } from "../config/schema.js";
import { AbortedError } from "../errors.js";
import { durationSeconds } from "../freshness/state.js";
import { nextFire } from "./next.js";
import { scheduleTimeZone } from "./plan.js";
import { formatInZone, hostTimeZone } from "./zone.js";

export type WindowMode = "only" | "never";
export type OnClose = "finish" | "abort";

export interface MaintenanceWindow {
  /** Its place in scheduler.windows, to name it (`scheduler.windows[0]`). */
  index: number;
  cron: string;
  durationMs: number;
  mode: WindowMode;
  /** Null: every repository. */
  repositories: readonly string[] | null;
  onClose: OnClose;
  timeZone: string;
}

export type WindowDecision =
  /** May start now; `closesAt` ends the `only` stretch it is in (null: no only window, or none closes within the horizon); `abortAt` when on_close: abort. */
  | { action: "run"; closesAt: number | null; abortAt: number | null; window: MaintenanceWindow | null }
  /** Must wait until `until` (null: no window opens within the horizon); `blockedBy` names the window that holds it now. */
  | { action: "wait"; until: number | null; blockedBy: MaintenanceWindow };

/** How far ahead we look for an opening or a close (a window that opens less often is "never" here). */
export const WINDOW_HORIZON_MS = 400 * 86_400_000;
/** A stretch open longer than this does not close as far as a sync is concerned (a window always open, or nearly). */
export const CLOSE_HORIZON_MS = 31 * 86_400_000;
/** A bound on the openings one stretch merges, and on the steps of one decision. */
const MAX_OPENINGS = 2_000;
const MAX_STEPS = 500;

/** The windows of a configuration, with their zones resolved (window's own, else scheduler.timezone, else the host's). */
export function planWindows(config: Config, hostZone: string = hostTimeZone()): MaintenanceWindow[] {
  return (config.scheduler.windows ?? []).map((w, index) => ({
    index,
    cron: w.cron,
    durationMs: durationSeconds(w.duration) * 1000,
    mode: w.mode,
    repositories: w.repositories ?? null,
    onClose: w.on_close ?? "finish",
    timeZone: scheduleTimeZone(config, w.timezone, hostZone),
  }));
}

/** The windows that apply to a repository. */
export function windowsOf(windows: readonly MaintenanceWindow[], repoId: string): MaintenanceWindow[] {
  return windows.filter((w) => w.repositories === null || w.repositories.includes(repoId));
}

/** The open stretch of these windows that covers `t`: its end (null: not within the horizon) and whether it closes with abort; null when none covers `t`. */
export function openStretchAt(windows: readonly MaintenanceWindow[], t: number): { end: number | null; abort: boolean; window: MaintenanceWindow } | null {
  // Each window's openings in order, from the first whose occurrence can still cover t; one nextFire per opening.
  const ptr = windows.map((w) => t - w.durationMs);
  const peek = windows.map((w, i) => nextFire(w.cron, new Date(ptr[i]!), w.timeZone).getTime());
  type Stretch = { end: number; abort: boolean; window: MaintenanceWindow };
  let best: Stretch | null = null;
  let openings = 0;
  for (let changed = true; changed; ) {
    changed = false;
    for (const [i, w] of windows.entries()) {
      // an opening at the stretch's end continues it
      while (peek[i]! <= ((best as Stretch | null)?.end ?? t) && openings < MAX_OPENINGS) {
        openings++;
        const end: number = peek[i]! + w.durationMs;
        const cur = best as Stretch | null;
        // Two windows closing together: abort if either asks for it.
        if (!cur || end > cur.end) best = { end, abort: w.onClose === "abort", window: w };
        else if (end === cur.end && w.onClose === "abort") best = { end, abort: true, window: w };
        ptr[i] = peek[i]!;
        peek[i] = nextFire(w.cron, new Date(ptr[i]!), w.timeZone).getTime();
        changed = true;
      }
    }
    const found = best as Stretch | null;
    if (found && (found.end - t > CLOSE_HORIZON_MS || openings >= MAX_OPENINGS)) return { end: null, abort: false, window: found.window };
  }
  return best;
}

/** The first opening of any of these windows strictly after `t` (null: none within the horizon). */
function nextOpening(windows: readonly MaintenanceWindow[], t: number): number | null {
  let best: number | null = null;
  for (const w of windows) {
    try {
      const n = nextFire(w.cron, new Date(t), w.timeZone).getTime();
      if (best === null || n < best) best = n;
    } catch {
      // a cron that never fires again opens nothing
    }
  }
  return best !== null && best - t <= WINDOW_HORIZON_MS ? best : null;
}

/** Whether a sync of `repoId` may start at `t`, and if not, when it may. */
export function decideWindow(all: readonly MaintenanceWindow[], repoId: string, t: number): WindowDecision {
  const mine = windowsOf(all, repoId);
  const only = mine.filter((w) => w.mode === "only");
  const never = mine.filter((w) => w.mode === "never");
  let cursor = t;
  let blockedBy: MaintenanceWindow | null = null;
  for (let step = 0; ; step++) {
    if (step === MAX_STEPS || cursor - t > WINDOW_HORIZON_MS) return { action: "wait", until: null, blockedBy: blockedBy! };
    const closed = openStretchAt(never, cursor);
    if (closed) {
      blockedBy ??= closed.window;
      if (closed.end === null) return { action: "wait", until: null, blockedBy };
      cursor = closed.end;
      continue;
    }
    if (only.length > 0 && !openStretchAt(only, cursor)) {
      blockedBy ??= only[0]!;
      const opens = nextOpening(only, cursor);
      if (opens === null) return { action: "wait", until: null, blockedBy };
      cursor = opens;
      continue;
    }
    break;
  }
  if (blockedBy) return { action: "wait", until: cursor, blockedBy };
  const stretch = only.length > 0 ? openStretchAt(only, t) : null;
  const closesAt = stretch?.end ?? null;
  return { action: "run", closesAt, abortAt: stretch?.abort && closesAt !== null ? closesAt : null, window: stretch?.window ?? null };
}

/** A run's jitter inside its window: at most half of what remains of it when the run may start. */
export function jitterInWindow(delayMs: number, startAt: number, closesAt: number | null): number {
  return closesAt === null ? delayMs : Math.max(0, Math.min(delayMs, Math.floor((closesAt - startAt) / 2)));
}

/**
 * A queued run that is ready at `now`: null when it may start, else when it may (its opening plus its jitter kept in
 * that window; `opensAt` null when no window opens within the horizon).
 */
export function deferredStart(
  all: readonly MaintenanceWindow[],
  repoId: string,
  now: number,
  jitterMs: number,
): { opensAt: number | null; readyAt: number | null; blockedBy: MaintenanceWindow } | null {
  const d = decideWindow(all, repoId, now);
  if (d.action === "run") return null;
  if (d.until === null) return { opensAt: null, readyAt: null, blockedBy: d.blockedBy };
  const at = decideWindow(all, repoId, d.until);
  const closesAt = at.action === "run" ? at.closesAt : null;
  return { opensAt: d.until, readyAt: d.until + jitterInWindow(jitterMs, d.until, closesAt), blockedBy: d.blockedBy };
}

/** `scheduler.windows[0] (only, "0 1 * * *" for 4h, Europe/Berlin)`: a window for people. */
export function describeWindow(w: MaintenanceWindow): string {
  return `scheduler.windows[${w.index}] (${w.mode}, "${w.cron}" for ${formatDuration(w.durationMs)}, ${w.timeZone})`;
}

function formatDuration(ms: number): string {
  const s = ms / 1000;
  for (const [unit, size] of [
    ["w", 604_800],
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const)
    if (s % size === 0) return `${s / size}${unit}`;
  return `${s}s`;
}

/** Why a sync may not start now, and when it may: for `repo sync --respect-windows` and the daemon's log. */
export function waitReason(d: Extract<WindowDecision, { action: "wait" }>, zone: string): string {
  const inside = d.blockedBy.mode === "never" ? `inside its maintenance window ${describeWindow(d.blockedBy)}` : `outside its maintenance windows`;
  const when =
    d.until === null ? "no start is allowed within a year (see scheduler.windows)" : `the next start is allowed at ${formatInZone(new Date(d.until), zone)}`;
  return `${inside}: ${when}`;
}

/** What the daemon recorded of a queued run (chantal.schedule_state): it waits for a window opening at `windowOpensAt`. */
export interface RecordedWindowWait {
  windowWaiting: boolean;
  windowOpensAt: Date | null;
}

/**
 * A due run waiting for its maintenance window, for `scheduler list`, `scheduler status` and the dashboard: its opening
 * (null: none within a year), or null when it does not wait. Only a running daemon's record counts (a stopped one's is stale).
 */
export function windowWaitOf(recorded: RecordedWindowWait | undefined, daemonRunning: boolean): { opensAt: Date | null } | null {
  return recorded?.windowWaiting && daemonRunning ? { opensAt: recorded.windowOpensAt } : null;
}

/** `waiting for window (opens …)`: a window wait for people, its opening through `format`. */
export function windowWaitText(wait: { opensAt: Date | null }, format: (at: Date) => string): string {
  return `waiting for window${wait.opensAt ? ` (opens ${format(wait.opensAt)})` : " (none opens within a year)"}`;
}

/** The abort reason of a sync stopped because its `only` window closed (on_close: abort): it is retried at the next window. */
export class WindowClosedError extends AbortedError {
  constructor(readonly window: MaintenanceWindow) {
    super(`the maintenance window ${describeWindow(window)} closed (on_close: abort): stopped cleanly, retried at the next window`);
  }
}
