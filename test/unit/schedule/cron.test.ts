// Tests of core/schedule/cron.ts.
import { describe, expect, it } from "vitest";
import { cronProblem, timezoneProblem } from "../../../core/schedule/cron.js";
import { nextFire } from "../../../core/schedule/next.js";

describe("cronProblem", () => {
  it.each([
    ["0 2 * * *", null],
    ["*/15 * * * *", null],
    ["0 0 1,15 * MON-FRI", null],
    ["30 4 * JAN-MAR 0", null],
    ["0 0 * * 7", null],
    ["@daily", null],
    ["5-10/2 1-3 * * *", null],
    ["0 25 * * *", "hour 25 is out of range 0-23"],
    ["60 * * * *", "minute 60 is out of range 0-59"],
    ["0 0 0 * *", "day-of-month 0 is out of range 1-31"],
    ["0 0 * 13 *", "month 13 is out of range 1-12"],
    ["0 0 * * 8", "day-of-week 8 is out of range 0-7"],
    ["0 0 * * FUNDAY", 'day-of-week "FUNDAY" is not a number or a name'],
    ["0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"],
    ["0 0 * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"],
    ["*/0 * * * *", 'minute step "0" must be a positive number'],
    ["10-5 * * * *", 'minute range "10-5" runs backwards'],
    ["1,,2 * * * *", 'minute "" is malformed'],
    ["0 0 29 2 *", null],
    ["0 0 31 2 1", null],
  ])("%s -> %s", (expr, expected) => {
    expect(cronProblem(expr)).toBe(expected);
  });
});

describe("cronProblem: dates that never occur", () => {
  it.each(["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6 *"])("%s never fires", (expr) => {
    expect(cronProblem(expr)).toMatch(/^it never fires/);
  });
});

describe("timezoneProblem", () => {
  it.each([
    ["Europe/Berlin", false],
    ["UTC", false],
    ["America/New_York", false],
    ["Mars/Base", true],
    ["", true],
  ])("%s invalid=%s", (tz, invalid) => {
    expect(timezoneProblem(tz) !== null).toBe(invalid);
  });
});

describe("nextFire", () => {
  it("honours the time zone", () => {
    const next = nextFire("0 2 * * *", new Date("2026-01-10T12:00:00Z"), "Europe/Berlin");
    expect(next.toISOString()).toBe("2026-01-11T01:00:00.000Z");
  });
  it("expands macros", () => {
    expect(nextFire("@hourly", new Date("2026-01-10T12:30:00Z"), "UTC").toISOString()).toBe("2026-01-10T13:00:00.000Z");
  });
});
