// Tests of core/schedule/queue.ts.
import { describe, expect, it } from "vitest";
import { dropJobs, enqueue, jitterDelayMs, nextReadyAt, takeRunnable, type PendingRun } from "../../../core/schedule/queue.js";

const run = (jobKey: string, dueAt: number, readyAt = dueAt, seq = dueAt): PendingRun => ({ jobKey, dueAt, readyAt, seq, catchUp: false });
const keys = (runs: PendingRun[]) => runs.map((r) => r.jobKey);

describe("jitterDelayMs", () => {
  it.each([
    [0, 0.99, 0],
    [120, 0, 0],
    [120, 0.5, 60_000],
    [120, 0.999999999, 120_000],
    [300, 0.25, 75_000],
  ])("%i s with random %d -> %i ms", (seconds, random, expected) => {
    expect(jitterDelayMs(seconds, () => random)).toBe(expected);
  });

  it("stays within [0, jitter] for any random value", () => {
    for (let i = 0; i <= 1000; i++) {
      const ms = jitterDelayMs(7, () => i / 1001);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(7000);
    }
  });
});

describe("enqueue", () => {
  it.each([
    ["a new job queues", [], [], true, undefined],
    ["a job already waiting is not queued twice", [run("a", 1)], [], false, "already queued"],
    ["a running job is not queued again (no pile-up)", [], ["a"], false, "still running"],
    ["other jobs do not matter", [run("b", 1)], ["c"], true, undefined],
  ])("%s", (_t, queue, running, queued, reason) => {
    const r = enqueue(queue as PendingRun[], run("a", 5), new Set(running as string[]));
    expect(r.queued).toBe(queued);
    if (!r.queued) expect(r.reason).toBe(reason);
    else expect(keys(r.queue)).toEqual([...keys(queue as PendingRun[]), "a"]);
  });
});

describe("takeRunnable", () => {
  it.each([
    ["starts up to the free slots, oldest due first", [run("c", 30), run("a", 10), run("b", 20)], 0, 2, 100, ["a", "b"], ["c"]],
    ["no free slot: nothing starts", [run("a", 10)], 2, 2, 100, [], ["a"]],
    ["one slot left", [run("a", 10), run("b", 20)], 1, 2, 100, ["a"], ["b"]],
    ["a run in its jitter does not block a later one", [run("a", 10, 90), run("b", 20)], 0, 1, 50, ["b"], ["a"]],
    ["once its jitter is over it goes by its due time", [run("a", 10, 90), run("b", 20)], 0, 1, 95, ["a"], ["b"]],
    ["ties keep the enqueue order", [run("x", 10, 10, 2), run("y", 10, 10, 1)], 0, 1, 10, ["y"], ["x"]],
    ["nothing due yet", [run("a", 10, 200)], 0, 4, 100, [], ["a"]],
  ])("%s", (_t, queue, running, max, now, start, waiting) => {
    const r = takeRunnable(queue, running, max, now);
    expect(keys(r.start)).toEqual(start);
    expect(keys(r.waiting).sort()).toEqual([...waiting].sort());
  });

  it("a blocked run (a group snapshot waiting for its members) takes no slot and holds back nothing behind it", () => {
    const r = takeRunnable([run("group", 10, 10, 1), run("a", 10, 10, 2), run("b", 10, 10, 3)], 0, 2, 10, (p) => p.jobKey === "group");
    expect(keys(r.start)).toEqual(["a", "b"]);
    expect(keys(r.waiting)).toEqual(["group"]);
  });

  it("max 1 runs a burst one by one in the order it fell due", () => {
    let queue = [run("r3", 3), run("r1", 1), run("r2", 2)];
    const order: string[] = [];
    while (queue.length > 0) {
      const r = takeRunnable(queue, 0, 1, 10);
      order.push(...keys(r.start));
      queue = r.waiting;
    }
    expect(order).toEqual(["r1", "r2", "r3"]);
  });
});

describe("nextReadyAt and dropJobs", () => {
  it("finds the earliest jitter end after now", () => {
    expect(nextReadyAt([run("a", 1, 50), run("b", 1, 30), run("c", 1, 5)], 10)).toBe(30);
    expect(nextReadyAt([run("a", 1, 5)], 10)).toBeNull();
  });
  it("drops runs of removed jobs", () => {
    const r = dropJobs([run("a", 1), run("b", 2)], new Set(["b"]));
    expect(keys(r.kept)).toEqual(["b"]);
    expect(keys(r.dropped)).toEqual(["a"]);
  });
});
