// The daemon's time: the system clock in production; a clock started at a chosen instant (optionally faster) for tests.
import { ChantalError } from "../errors.js";

export interface Clock {
  now(): Date;
  /** Calls `fn` once after `ms` of this clock's time; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(t);
  },
};

/** Starts at `start` and runs `speed` times as fast as the system clock. */
export function acceleratedClock(start: Date, speed: number, realNow: () => number = Date.now): Clock {
  const t0 = realNow();
  return {
    now: () => new Date(start.getTime() + (realNow() - t0) * speed),
    setTimer(fn, ms) {
      const t = setTimeout(fn, Math.max(0, ms) / speed);
      return () => clearTimeout(t);
    },
  };
}

/** A clock that moves only when told to (unit tests): timers fire in time order as it advances. */
export class ManualClock implements Clock {
  private t: number;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;

  constructor(start: Date) {
    this.t = start.getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = ++this.ids;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }

  /** When the earliest pending timer fires (null when none is set), so a test can move from timer to timer. */
  nextTimerAt(): number | null {
    return this.timers.length > 0 ? Math.min(...this.timers.map((x) => x.at)) : null;
  }

  /** Pending timers (for assertions). */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves to `target`, firing every timer due on the way, earliest first. */
  advanceTo(target: Date): void {
    for (;;) {
      const due = this.timers.filter((x) => x.at <= target.getTime()).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x.id !== due.id);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = Math.max(this.t, target.getTime());
  }

  advance(ms: number): void {
    this.advanceTo(new Date(this.t + ms));
  }
}

export const TEST_CLOCK_START_ENV = "CHANTAL_SCHEDULER_TEST_START";
export const TEST_CLOCK_SPEED_ENV = "CHANTAL_SCHEDULER_TEST_SPEED";

export interface TestClockSpec {
  start: Date;
  speed: number;
}

/**
 * The test hook: CHANTAL_SCHEDULER_TEST_START=<ISO instant> starts the daemon's clock there, and
 * CHANTAL_SCHEDULER_TEST_SPEED=<n> (1-3600, default 1) makes it run n times as fast. Unset in production.
 */
export function testClockSpec(env: NodeJS.ProcessEnv): TestClockSpec | null {
  const startText = env[TEST_CLOCK_START_ENV];
  const speedText = env[TEST_CLOCK_SPEED_ENV];
  if (!startText) {
    if (speedText) throw new ChantalError(`${TEST_CLOCK_SPEED_ENV} needs ${TEST_CLOCK_START_ENV} (an ISO instant such as 2026-03-29T00:59:58Z)`);
    return null;
  }
  const start = new Date(startText);
  if (Number.isNaN(start.getTime())) throw new ChantalError(`${TEST_CLOCK_START_ENV}="${startText}" is not an ISO instant such as 2026-03-29T00:59:58Z`);
  const speed = speedText === undefined || speedText === "" ? 1 : Number(speedText);
  if (!Number.isFinite(speed) || speed < 1 || speed > 3600) throw new ChantalError(`${TEST_CLOCK_SPEED_ENV}="${speedText}" must be a number from 1 to 3600`);
  return { start, speed };
}
