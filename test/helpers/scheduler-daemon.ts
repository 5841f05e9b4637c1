// The real `scheduler start` as a child process on a test clock (CHANTAL_SCHEDULER_TEST_START/SPEED): start, read its
// JSON log lines and its clock, and kill what a test left running.
import { spawnCli } from "./cli.js";

export type SchedulerDaemon = ReturnType<typeof spawnCli>;

export interface TestClock {
  /** What the daemon's clock shows when the daemon sets it up (after its start-up, see clockOf). */
  start: string | Date;
  /** Test seconds per real second (CHANTAL_SCHEDULER_TEST_SPEED); default 1. */
  speed?: number;
}

export interface DaemonOptions {
  /** After `scheduler start` (--host-name, --http, ...). */
  args?: string[];
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** The daemons of a test file: `killAll` (in afterEach or afterAll) SIGKILLs those still running and waits for them. */
export class SchedulerDaemons {
  /** Every daemon started since the last killAll, in start order (killed or exited ones too). */
  readonly started: SchedulerDaemon[] = [];

  start(configDir: string, clock: TestClock, opts: DaemonOptions = {}): SchedulerDaemon {
    const d = spawnCli(["--config-dir", configDir, "scheduler", "start", ...(opts.args ?? [])], {
      env: {
        CHANTAL_SCHEDULER_TEST_START: new Date(clock.start).toISOString(),
        CHANTAL_SCHEDULER_TEST_SPEED: String(clock.speed ?? 1),
        CHANTAL_LOG_LEVEL: "info",
        ...opts.env,
      },
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    this.started.push(d);
    return d;
  }

  async killAll(): Promise<void> {
    for (const d of this.started.splice(0)) {
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
      await d.result;
    }
  }
}

/** The daemon's JSON log lines so far (stdout and stderr). */
export const logLines = (d: SchedulerDaemon): Record<string, unknown>[] =>
  d
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * The time (ms) the daemon's clock shows now. A process starts its test clock at CHANTAL_SCHEDULER_TEST_START when it
 * gets there — seconds after its spawn on a loaded machine — and logs its TEST CLOCK line just before: the clock is
 * read from that line, never guessed from when the test spawned the process.
 */
export function clockOf(d: SchedulerDaemon): number {
  const l = logLines(d).find((x) => typeof x.msg === "string" && x.msg.startsWith("TEST CLOCK"));
  if (!l) throw new Error("the daemon has not started its test clock yet");
  return Date.parse(l.start as string) + (Date.now() - Date.parse(l.time as string)) * Number(l.speed);
}
