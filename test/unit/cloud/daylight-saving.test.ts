// Tests of core/cloud/daylight-saving.ts: the hours clocks skip, and the schedules that fall in them.
import { describe, expect, it } from "vitest";
import { clockGaps, skippedRunWarning, skippedRuns } from "../../../core/cloud/daylight-saving.js";
import type { PlannedSchedule } from "../../../core/cloud/plan.js";

const FROM = new Date("2026-12-03T00:00:00Z");
const wall = (ms: number) => new Date(ms).toISOString().slice(0, 16);

describe("clockGaps", () => {
  it.each([
    ["Europe/Berlin", [["2027-03-28T02:00", "2027-03-28T03:00"]]],
    ["America/New_York", [["2027-03-14T02:00", "2027-03-14T03:00"]]],
    // Southern hemisphere: clocks go forward in spring, in October.
    ["Australia/Sydney", [["2027-10-03T02:00", "2027-10-03T03:00"]]],
    // Half an hour: Lord Howe Island goes forward 30 minutes.
    ["Australia/Lord_Howe", [["2027-10-03T02:00", "2027-10-03T02:30"]]],
    ["UTC", []],
    ["Asia/Tokyo", []],
  ])("%s", (zone, expected) => {
    expect(clockGaps(zone, FROM).map((g) => [wall(g.start), wall(g.end)])).toEqual(expected);
  });
});

const schedule = (cron: string, timezone: string, extra: Partial<PlannedSchedule> = {}) =>
  ({ name: "chantal-sync-r", handler: "sync", repoId: "r", cron, timezone, ...extra }) as PlannedSchedule;

describe("skippedRuns", () => {
  it.each([
    ["30 2 * * *", "Europe/Berlin", "2027-03-28T02:30"],
    ["0 2 * * *", "Europe/Berlin", "2027-03-28T02:00"],
    ["59 2 * * *", "Europe/Berlin", "2027-03-28T02:59"],
    ["0 3 * * *", "Europe/Berlin", null],
    ["0 1 * * *", "Europe/Berlin", null],
    ["*/20 * * * *", "Europe/Berlin", "2027-03-28T02:00"],
    // The last Sunday of March: the gap's own day.
    ["15 2 * * 0L", "Europe/Berlin", "2027-03-28T02:15"],
    ["15 2 * * SUN", "Europe/Berlin", "2027-03-28T02:15"],
    // Not a Sunday: never in the gap.
    ["15 2 * * MON", "Europe/Berlin", null],
    ["15 2 L * *", "Europe/Berlin", null],
    ["30 2 * * *", "UTC", null],
    ["30 2 * * *", "America/New_York", "2027-03-14T02:30"],
    ["45 2 * * *", "Australia/Lord_Howe", null],
    ["15 2 * * *", "Australia/Lord_Howe", "2027-10-03T02:15"],
  ])("%s in %s -> %s", (cron, zone, expected) => {
    const runs = skippedRuns([schedule(cron, zone)], FROM);
    expect(runs.map((r) => wall(r.wallClock))).toEqual(expected === null ? [] : [expected]);
  });

  it("words the warning with the schedule, the day, the hour and the fix", () => {
    const [run] = skippedRuns([schedule("30 2 * * *", "Europe/Berlin")], FROM);
    expect(skippedRunWarning(run!)).toBe(
      'repository r: "30 2 * * *" in Europe/Berlin falls in the hour clocks skip on 2027-03-28 (02:00-02:59 does not exist): ' +
        "EventBridge Scheduler drops the 02:30 run, the local scheduler runs it at 03:00; to run every day on AWS, move it out of 02:00-02:59 or use timezone UTC",
    );
    const [backup] = skippedRuns([schedule("0 2 * * *", "Europe/Berlin", { name: "chantal-backup", handler: "backup", repoId: undefined })], FROM);
    expect(skippedRunWarning(backup!)).toMatch(/^the backup schedule: "0 2 \* \* \*" in Europe\/Berlin/);
  });
});
