// The scheduler loop with a hand-moved clock, a real database for its state and fire claims, and a recording job runner.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../core/log.js";
import { ManualClock } from "../../core/schedule/clock.js";
import { Scheduler } from "../../core/schedule/daemon.js";
import { ScheduleStateStore } from "../../core/schedule/state.js";
import { advance, recordingRunner, settle, useSchedulerLoopDatabase } from "../helpers/scheduler-loop.js";

const loop = useSchedulerLoopDatabase("sched_loop", "loop-test-host");
const { fires, config, stateRow } = loop;

describe("scheduler loop", () => {
  it("runs at most max_concurrent_syncs at once; the rest wait in the order they fell due", async () => {
    const clock = new ManualClock(new Date("2026-06-01T01:59:00Z"));
    const loaded = await config(
      [
        { id: "a", cron: "0 2 * * *" },
        { id: "b", cron: "1 2 * * *" },
        { id: "c", cron: "2 2 * * *" },
        { id: "d", cron: "3 2 * * *" },
      ],
      "  max_concurrent_syncs: 2\n",
    );
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T02:03:00Z", s);
    expect(runner.calls.map((c) => `${c.key}@${c.at.slice(11, 16)}`)).toEqual(["sync:a@02:00", "sync:b@02:01"]);
    expect(s.queuedKeys).toEqual(["sync:c", "sync:d"]);
    runner.calls[1]!.finish();
    await settle(s);
    expect(runner.calls.map((c) => c.key)).toEqual(["sync:a", "sync:b", "sync:c"]);
    expect(runner.calls[2]!.scheduledAt).toBe("2026-06-01T02:02:00.000Z");
    runner.calls[0]!.finish();
    await settle(s);
    expect(runner.calls.map((c) => c.key)).toEqual(["sync:a", "sync:b", "sync:c", "sync:d"]);
    runner.calls.slice(2).forEach((c) => c.finish({ status: "noop" }));
    await settle(s);
    await s.stop(1000);
    const a = await stateRow("sync:a");
    expect(a.last_status).toBe("success");
    expect(a.last_fire_at.toISOString()).toBe("2026-06-01T02:00:00.000Z");
    expect(a.next_run_at.toISOString()).toBe("2026-06-02T02:00:00.000Z");
    expect((await stateRow("sync:d")).last_status).toBe("noop");
  });

  it("jitter delays only its own run and never holds back another schedule", async () => {
    const clock = new ManualClock(new Date("2026-06-01T01:59:00Z"));
    const loaded = await config(
      [
        { id: "slow", cron: "0 2 * * *", jitter: 120 },
        { id: "fast", cron: "0 2 * * *" },
      ],
      "  max_concurrent_syncs: 2\n",
    );
    const runner = recordingRunner(clock);
    const s = new Scheduler({
      loaded,
      clock,
      log: silentLogger(),
      store: new ScheduleStateStore(loop.pool, null),
      fires: fires(),
      runJob: runner.run,
      random: () => 0.5,
    });
    await s.start();
    await advance(clock, "2026-06-01T02:00:00Z", s);
    expect(runner.calls.map((c) => `${c.key}@${c.at.slice(11, 19)}`)).toEqual(["sync:fast@02:00:00"]);
    await advance(clock, "2026-06-01T02:00:59Z", s);
    expect(runner.calls).toHaveLength(1);
    await advance(clock, "2026-06-01T02:05:00Z", s);
    expect(runner.calls.map((c) => `${c.key}@${c.at.slice(11, 19)}`)).toEqual(["sync:fast@02:00:00", "sync:slow@02:01:00"]);
    runner.calls.forEach((c) => c.finish());
    await settle(s);
    await s.stop(1000);
  });

  it("a fire time that finds its previous run still going is skipped, not stacked", async () => {
    const clock = new ManualClock(new Date("2026-06-01T01:59:30Z"));
    const loaded = await config([{ id: "busy", cron: "* * * * *" }], "  max_concurrent_syncs: 2\n");
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T02:10:00Z", s); // ten more fire times while the first run is going
    expect(runner.calls).toHaveLength(1);
    expect(s.queuedKeys).toEqual([]);
    runner.calls[0]!.finish();
    await settle(s);
    expect(runner.calls).toHaveLength(1); // nothing was saved up
    await advance(clock, "2026-06-01T02:11:00Z", s);
    expect(runner.calls.map((c) => c.at)).toEqual(["2026-06-01T02:00:00.000Z", "2026-06-01T02:11:00.000Z"]);
    runner.calls[1]!.finish();
    await settle(s);
    await s.stop(1000);
  });

  it("after a clock jump (suspend), a schedule fires once, not once per missed minute", async () => {
    const clock = new ManualClock(new Date("2026-06-01T01:59:30Z"));
    const loaded = await config([{ id: "j", cron: "*/5 * * * *" }], "  max_concurrent_syncs: 2\n");
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    // Time moves on by an hour without the timers running in between, as on a suspended host; the late timer then fires once.
    (clock as unknown as { t: number }).t = Date.parse("2026-06-01T03:02:00Z");
    clock.advance(0);
    await s.idle();
    expect(runner.calls).toHaveLength(1);
    runner.calls[0]!.finish();
    await settle(s);
    await advance(clock, "2026-06-01T03:05:00Z", s);
    expect(runner.calls.map((c) => c.at)).toEqual(["2026-06-01T03:02:00.000Z", "2026-06-01T03:05:00.000Z"]);
    runner.calls[1]!.finish();
    await settle(s);
    await s.stop(1000);
  });

  it("catch_up: a schedule missed while down runs once at start; without it, it waits", async () => {
    for (const catchUp of [true, false]) {
      await loop.pool.query("TRUNCATE chantal.schedule_state, chantal.schedule_fires");
      const loaded = await config(
        [
          { id: "m", cron: "0 2 * * *" },
          { id: "fresh", cron: "0 3 * * *" },
        ],
        `  catch_up: ${catchUp}\n`,
      );
      // A first daemon plans the schedule, then stops before 02:00.
      const first = new ManualClock(new Date("2026-06-01T01:00:00Z"));
      const s1 = new Scheduler({
        loaded,
        clock: first,
        log: silentLogger(),
        store: new ScheduleStateStore(loop.pool, null),
        fires: fires(),
        runJob: recordingRunner(first).run,
      });
      await s1.start();
      await s1.stop(1000);
      await loop.pool.query(`DELETE FROM chantal.schedule_state WHERE job_key = 'sync:fresh'`);
      // The next start is three days later.
      const clock = new ManualClock(new Date("2026-06-04T12:00:00Z"));
      const runner = recordingRunner(clock);
      const s2 = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
      await s2.start();
      await s2.idle();
      expect(runner.calls.map((c) => [c.key, c.catchUp, c.scheduledAt])).toEqual(catchUp ? [["sync:m", true, "2026-06-01T02:00:00.000Z"]] : []);
      runner.calls.forEach((c) => c.finish());
      await settle(s2);
      await s2.flush();
      const m = await stateRow("sync:m");
      expect(m.next_run_at.toISOString()).toBe("2026-06-05T02:00:00.000Z");
      expect((await stateRow("sync:fresh")).next_run_at.toISOString()).toBe("2026-06-05T03:00:00.000Z");
      await s2.stop(1000);
    }
  });

  it("reload: new, changed and removed schedules take effect; a running sync of a removed schedule finishes", async () => {
    const clock = new ManualClock(new Date("2026-06-01T01:59:00Z"));
    const before = await config(
      [
        { id: "keep", cron: "0 2 * * *" },
        { id: "gone", cron: "0 2 * * *" },
        { id: "moved", cron: "0 5 * * *" },
      ],
      "  max_concurrent_syncs: 4\n",
    );
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded: before, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T02:00:00Z", s);
    expect(runner.calls.map((c) => c.key).sort()).toEqual(["sync:gone", "sync:keep"]);
    const after = await config(
      [
        { id: "keep", cron: "0 2 * * *" },
        { id: "moved", cron: "30 2 * * *" },
        { id: "new", cron: "15 2 * * *" },
      ],
      "  max_concurrent_syncs: 4\n",
    );
    const changes = await s.reload(after);
    expect(changes.added.map((j) => j.key)).toEqual(["sync:new"]);
    expect(changes.removed.map((j) => j.key)).toEqual(["sync:gone"]);
    expect(changes.retimed.map((j) => j.key)).toEqual(["sync:moved"]);
    expect(s.runningKeys.sort()).toEqual(["sync:gone", "sync:keep"]);
    expect((await stateRow("sync:gone")).next_run_at).toBeNull();
    expect((await stateRow("sync:moved")).next_run_at.toISOString()).toBe("2026-06-01T02:30:00.000Z");
    await advance(clock, "2026-06-01T02:31:00Z", s);
    expect(runner.calls.map((c) => `${c.key}@${c.at.slice(11, 16)}`).sort()).toEqual([
      "sync:gone@02:00",
      "sync:keep@02:00",
      "sync:moved@02:30",
      "sync:new@02:15",
    ]);
    runner.calls.forEach((c) => c.finish());
    await settle(s);
    await s.stop(1000);
  });

  it("stop: no new runs; a running sync gets the grace period, then is aborted and counts as due again", async () => {
    const clock = new ManualClock(new Date("2026-06-01T01:59:00Z"));
    const loaded = await config(
      [
        { id: "long", cron: "0 2 * * *" },
        { id: "waiting", cron: "0 2 * * *" },
      ],
      "  max_concurrent_syncs: 1\n",
    );
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T02:00:00Z", s);
    expect(runner.calls).toHaveLength(1);
    const started = Date.now();
    const result = await s.stop(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(result).toEqual({ finished: 0, aborted: 1, dropped: 1 });
    expect(runner.calls[0]!.signal.aborted).toBe(true);
    expect((await stateRow(runner.calls[0]!.key)).next_run_at.toISOString()).toBe("2026-06-01T02:00:00.000Z");
    expect((await stateRow(runner.calls[0]!.key)).last_status).toBe("interrupted");
    await advance(clock, "2026-06-03T00:00:00Z", s);
    expect(runner.calls).toHaveLength(1);
  });

  it("stop: a run that finishes within the grace period is not aborted", async () => {
    const clock = new ManualClock(new Date("2026-06-01T01:59:00Z"));
    const loaded = await config([{ id: "short", cron: "0 2 * * *" }], "  max_concurrent_syncs: 1\n");
    const runner = recordingRunner(clock);
    const s = new Scheduler({ loaded, clock, log: silentLogger(), store: new ScheduleStateStore(loop.pool, null), fires: fires(), runJob: runner.run });
    await s.start();
    await advance(clock, "2026-06-01T02:00:00Z", s);
    setTimeout(() => runner.calls[0]!.finish(), 50);
    const result = await s.stop(10_000);
    expect(result).toEqual({ finished: 1, aborted: 0, dropped: 0 });
    expect(runner.calls[0]!.signal.aborted).toBe(false);
    expect((await stateRow("sync:short")).next_run_at.toISOString()).toBe("2026-06-02T02:00:00.000Z");
  });
});
