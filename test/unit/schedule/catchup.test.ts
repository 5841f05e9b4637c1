// Tests of core/schedule/catchup.ts.
import { describe, expect, it } from "vitest";
import { decideAtStart, type StoredTiming } from "../../../core/schedule/catchup.js";

const job = { cron: "0 2 * * *", timeZone: "UTC" };
const now = new Date("2026-06-10T12:00:00Z");
const stored = (nextRunAt: string | null, over: Partial<StoredTiming> = {}): StoredTiming => ({
  cron: "0 2 * * *",
  timeZone: "UTC",
  nextRunAt: nextRunAt ? new Date(nextRunAt) : null,
  ...over,
});

describe("decideAtStart", () => {
  it.each([
    ["a schedule never seen is new", undefined, true, { action: "wait", reason: "new" }],
    ["a removed schedule configured again is new", stored(null), true, { action: "wait", reason: "new" }],
    ["a changed cron is not a missed run", stored("2026-06-09T02:00:00Z", { cron: "0 3 * * *" }), true, { action: "wait", reason: "retimed" }],
    ["a changed zone is not a missed run", stored("2026-06-09T02:00:00Z", { timeZone: "Europe/Berlin" }), true, { action: "wait", reason: "retimed" }],
    ["next run still ahead: on time", stored("2026-06-11T02:00:00Z"), true, { action: "wait", reason: "on time" }],
    [
      "missed once, catch_up: runs once",
      stored("2026-06-10T02:00:00Z"),
      true,
      { action: "catch-up", missedAt: new Date("2026-06-10T02:00:00Z"), missedCount: 1 },
    ],
    [
      "missed three times, catch_up: still runs once",
      stored("2026-06-08T02:00:00Z"),
      true,
      { action: "catch-up", missedAt: new Date("2026-06-08T02:00:00Z"), missedCount: 3 },
    ],
    ["missed, no catch_up: waits for the next time", stored("2026-06-08T02:00:00Z"), false, { action: "skip-missed", missedCount: 3 }],
  ])("%s", (_t, s, catchUp, expected) => {
    const d = decideAtStart(job, s, now, catchUp);
    expect(d).toMatchObject(expected);
    expect(d.next.getTime()).toBeGreaterThan(now.getTime());
  });

  it("a run due exactly at start counts as missed", () => {
    const noon = { cron: "0 12 * * *", timeZone: "UTC" };
    expect(decideAtStart(noon, stored("2026-06-10T12:00:00Z", noon), now, true)).toMatchObject({ action: "catch-up", missedCount: 1 });
  });

  it("the next run is the schedule's next time after start, whatever was missed", () => {
    expect(decideAtStart(job, stored("2026-06-01T02:00:00Z"), now, true).next.toISOString()).toBe("2026-06-11T02:00:00.000Z");
    expect(decideAtStart(job, undefined, now, false).next.toISOString()).toBe("2026-06-11T02:00:00.000Z");
  });
});
