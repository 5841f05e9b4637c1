// Maintenance windows in the scheduler loop: a hand-moved clock, a real database for its state and fire claims, a recording job runner.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../core/log.js";
import { ManualClock } from "../../core/schedule/clock.js";
import { Scheduler } from "../../core/schedule/daemon.js";
import { ScheduleStateStore } from "../../core/schedule/state.js";
import { advance, recordingRunner, settle, useSchedulerLoopDatabase } from "../helpers/scheduler-loop.js";

const loop = useSchedulerLoopDatabase("sched_windows", "windows-test-host");
const { fires, config, stateRow } = loop;

const at = (calls: { key: string; at: string }[]) => calls.map((c) => `${c.key}@${c.at.slice(5, 16)}`);

describe("scheduler loop: maintenance windows", () => {
  it("a run due outside its only window waits for the opening; the fire times missed meanwhile join it (one run)", async () => {
    const clock = new ManualClock(new Date("2026-06-01T05:30:00Z"));
    const loaded = await config(
      [
        { id: "w", cron: "0 * * * *" },
        { id: "free", cron: "0 6 * * *" },
      ],
      '  windows:\n    - cron: "0 1 * * *"\n      duration: 4h\n      repositories: [w]\n',
    );
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T06:00:00Z", s);
    expect(at(runner.calls)).toEqual(["sync:free@06-01T06:00"]); // a repository the window does not name runs at its time
    expect(s.queuedKeys).toEqual(["sync:w"]);
    const waiting = await stateRow("sync:w");
    expect(waiting.window_waiting).toBe(true);
    expect(waiting.window_opens_at.toISOString()).toBe("2026-06-02T01:00:00.000Z");
    await advance(clock, "2026-06-02T00:59:00Z", s);
    expect(at(runner.calls)).toEqual(["sync:free@06-01T06:00"]);
    await advance(clock, "2026-06-02T01:00:00Z", s);
    expect(at(runner.calls)).toEqual(["sync:free@06-01T06:00", "sync:w@06-02T01:00"]);
    // The one run belongs to the first fire time that waited.
    expect(runner.calls[1]!.scheduledAt).toBe("2026-06-01T06:00:00.000Z");
    expect((await stateRow("sync:w")).window_waiting).toBe(false);
    runner.calls.forEach((c) => c.finish());
    await settle(s);
    // Inside the window the schedule keeps its times.
    await advance(clock, "2026-06-02T02:00:00Z", s);
    expect(at(runner.calls).slice(2)).toEqual(["sync:w@06-02T02:00"]);
    runner.calls[2]!.finish();
    await settle(s);
    await s.stop(1000);
  });

  it("on_close: abort stops a sync still running at the close; one run retries at the next opening", async () => {
    const clock = new ManualClock(new Date("2026-06-01T00:59:00Z"));
    const loaded = await config([{ id: "long", cron: "0 1 * * *" }], '  windows:\n    - cron: "0 1 * * *"\n      duration: 2h\n      on_close: abort\n');
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T02:59:59Z", s);
    expect(runner.calls).toHaveLength(1);
    expect(runner.calls[0]!.signal.aborted).toBe(false);
    await advance(clock, "2026-06-01T03:00:00Z", s);
    expect(runner.calls[0]!.signal.aborted).toBe(true);
    expect((runner.calls[0]!.signal.reason as Error).message).toMatch(/maintenance window scheduler\.windows\[0\].*closed \(on_close: abort\)/);
    await settle(s);
    const fire = (
      await loop.pool.query(`SELECT status, finished_at FROM chantal.schedule_fires WHERE job_key = 'sync:long' AND fire_at = '2026-06-01T01:00:00Z'`)
    ).rows[0];
    expect(fire.status).toBe("aborted");
    expect(fire.finished_at).not.toBeNull(); // closed: the retry is not "busy" behind it
    expect((await stateRow("sync:long")).last_status).toBe("interrupted");
    expect(s.queuedKeys).toEqual(["sync:long"]);
    expect((await stateRow("sync:long")).window_opens_at.toISOString()).toBe("2026-06-02T01:00:00.000Z");
    await advance(clock, "2026-06-02T01:00:00Z", s);
    // The retry and the fire time of 01:00 are one run.
    expect(at(runner.calls)).toEqual(["sync:long@06-01T01:00", "sync:long@06-02T01:00"]);
    runner.calls[1]!.finish();
    await settle(s);
    await s.stop(1000);
  });

  it("on_close default (finish): a sync running at the close is left to finish", async () => {
    const clock = new ManualClock(new Date("2026-06-01T00:59:00Z"));
    const loaded = await config([{ id: "long", cron: "0 1 * * *" }], '  windows:\n    - cron: "0 1 * * *"\n      duration: 2h\n');
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T05:00:00Z", s);
    expect(runner.calls).toHaveLength(1);
    expect(runner.calls[0]!.signal.aborted).toBe(false);
    runner.calls[0]!.finish();
    await settle(s);
    expect((await stateRow("sync:long")).last_status).toBe("success");
    expect(s.queuedKeys).toEqual([]);
    await s.stop(1000);
  });

  it("a never window inside the only window holds a due run until it ends; a reload that drops the windows lets it run at once", async () => {
    const clock = new ManualClock(new Date("2026-06-01T01:59:00Z"));
    const windows = '  windows:\n    - cron: "0 0 * * *"\n      duration: 8h\n    - cron: "0 2 * * *"\n      duration: 1h\n      mode: never\n';
    const loaded = await config([{ id: "n", cron: "*/20 * * * *" }], windows);
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T02:45:00Z", s);
    expect(runner.calls).toHaveLength(0);
    expect((await stateRow("sync:n")).window_opens_at.toISOString()).toBe("2026-06-01T03:00:00.000Z");
    await s.reload(await config([{ id: "n", cron: "*/20 * * * *" }], "  max_concurrent_syncs: 2\n"));
    await advance(clock, "2026-06-01T02:45:01Z", s);
    expect(at(runner.calls)).toEqual(["sync:n@06-01T02:45"]);
    expect(runner.calls[0]!.scheduledAt).toBe("2026-06-01T02:00:00.000Z");
    runner.calls[0]!.finish();
    await settle(s);
    await s.stop(1000);
  });
});
