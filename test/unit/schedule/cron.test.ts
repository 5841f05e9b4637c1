// Tests of core/schedule/cron.ts.
import { describe, expect, it } from "vitest";
import { canonicalCron, cronProblem, timezoneProblem } from "../../../core/schedule/cron.js";
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

describe("cronProblem: L, nL, n#k, ? and a day named twice (valid for cron-parser and EventBridge)", () => {
  it.each([
    ["0 2 L * *", null],
    ["0 2 * * 5L", null],
    ["0 2 * * 0L", null],
    ["0 2 * * 7L", null],
    ["0 2 * * 5#3", null],
    ["0 2 * * FRI#1", null],
    ["0 2 ? * MON", null],
    ["0 2 1 * ?", null],
    ["0 2 * * 0,7", null],
    ["0 2 * * SUN,7", null],
    ["0 2 * * 1-5,3", null],
    ["0 2 1,1,15 * *", null],
    ["0 2 * JUL *", null],
    ["0 2 L-2 * *", 'day-of-month "L-2": only L (the last day of the month) is supported, not L-n or W'],
    ["0 2 15W * *", 'day-of-month "15W": only L (the last day of the month) is supported, not L-n or W'],
    ["0 2 1,L * *", 'day-of-month "1,L": L and # stand alone (cron-parser and EventBridge take no list with them)'],
    ["0 2 * * 5#1,5#3", 'day-of-week "5#1,5#3": L and # stand alone (cron-parser and EventBridge take no list with them)'],
    ["0 2 * * 5#6", 'day-of-week "5#6": the occurrence after # must be 1-5'],
    ["0 2 * * 5#0", 'day-of-week "5#0": the occurrence after # must be 1-5'],
    ["0 2 * * L", 'day-of-week "L": write nL (5L: the last Friday of the month) or n#k (5#3: its third Friday)'],
    ["0 2 * * 9L", "day-of-week 9 is out of range 0-7"],
    ["0 ? * * *", 'hour "?": ? means "any day" and belongs in day-of-month or day-of-week'],
    ["0 2 * L *", 'month "L" is not a number or a name'],
  ])("%s -> %s", (expr, expected) => {
    expect(cronProblem(expr)).toBe(expected);
  });

  it.each([
    ["0 2 * * 0,7", "0 2 * * 0"],
    ["0 2 * * SUN,7", "0 2 * * 0"],
    ["0 2 * * 5-7,0", "0 2 * * 0,5,6"],
    ["0 2 * * 1-5,3", "0 2 * * 1,2,3,4,5"],
    ["0,30,0 2 * * *", "0,30 2 * * *"],
    ["0 2 ? * MON", "0 2 * * MON"],
    ["0 2 * * 5L", "0 2 * * 5L"],
    ["@daily", "0 0 * * *"],
  ])("cron-parser reads %s as %s", (expr, canonical) => {
    expect(canonicalCron(expr)).toBe(canonical);
  });

  it("the local scheduler fires L, nL and n#k on the right days", () => {
    const after = new Date("2026-01-01T00:00:00Z");
    const days = (expr: string) => {
      const out: string[] = [];
      for (let t = nextFire(expr, after, "UTC"); out.length < 3; t = nextFire(expr, t, "UTC")) out.push(t.toISOString().slice(0, 10));
      return out;
    };
    expect(days("0 2 L * *")).toEqual(["2026-01-31", "2026-02-28", "2026-03-31"]);
    expect(days("0 2 * * 5L")).toEqual(["2026-01-30", "2026-02-27", "2026-03-27"]);
    expect(days("0 2 * * 5#3")).toEqual(["2026-01-16", "2026-02-20", "2026-03-20"]);
    expect(days("0 2 * * 0,7")).toEqual(["2026-01-04", "2026-01-11", "2026-01-18"]);
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
