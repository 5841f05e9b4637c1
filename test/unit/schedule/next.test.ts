// Tests of core/schedule/next.ts.
import { describe, expect, it } from "vitest";
import { firesBetween, nextFire } from "../../../core/schedule/next.js";
import { formatInZone } from "../../../core/schedule/zone.js";

/** The next `n` fire times after `after`, as UTC ISO strings without milliseconds. */
function fires(expr: string, tz: string, after: string, n: number): string[] {
  const out: string[] = [];
  let t = new Date(after);
  for (let i = 0; i < n; i++) {
    t = nextFire(expr, t, tz);
    out.push(t.toISOString().replace(".000Z", "Z"));
  }
  return out;
}

describe("nextFire: daylight-saving changes", () => {
  it.each([
    // Europe/Berlin, spring 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z). Runs in the gap fire once at 03:00.
    [
      "daily in the skipped hour runs at the end of the gap",
      "30 2 * * *",
      "Europe/Berlin",
      "2026-03-28T12:00:00Z",
      ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"],
    ],
    ["02:00 itself is skipped too", "0 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]],
    ["03:00 exists and runs once", "0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", ["2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"]],
    [
      "every 15 minutes: the four skipped runs and 03:00 are one run",
      "*/15 * * * *",
      "Europe/Berlin",
      "2026-03-29T00:40:00Z",
      ["2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"],
    ],
    [
      "hourly skips nothing but the missing hour",
      "0 * * * *",
      "Europe/Berlin",
      "2026-03-28T23:30:00Z",
      ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"],
    ],
    // Europe/Berlin, autumn 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00Z); 02:00-02:59 happens twice.
    [
      "daily in the repeated hour runs once (first pass)",
      "30 2 * * *",
      "Europe/Berlin",
      "2026-10-24T12:00:00Z",
      ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
    ],
    [
      "every 15 minutes: nothing runs twice in the repeated hour",
      "*/15 * * * *",
      "Europe/Berlin",
      "2026-10-24T23:40:00Z",
      ["2026-10-24T23:45:00Z", "2026-10-25T00:00:00Z", "2026-10-25T00:15:00Z", "2026-10-25T00:30:00Z", "2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z"],
    ],
    [
      "hourly: 02:00 once, then 03:00 CET",
      "0 * * * *",
      "Europe/Berlin",
      "2026-10-24T23:30:00Z",
      ["2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"],
    ],
    ["started inside the second pass: waits for 03:00", "*/15 * * * *", "Europe/Berlin", "2026-10-25T01:20:00Z", ["2026-10-25T02:00:00Z"]],
    // America/New_York: spring 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); autumn 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
    ["New York spring: 02:00 runs at 03:00 EDT", "0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"]],
    ["New York spring: 02:30 runs at 03:00 EDT", "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]],
    ["New York autumn: 01:30 runs once, in EDT", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]],
    [
      "New York autumn: hourly skips the second 01:00",
      "0 * * * *",
      "America/New_York",
      "2026-11-01T04:30:00Z",
      ["2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"],
    ],
    // A 30-minute shift: Lord Howe Island goes from 02:00 to 02:30 on 2026-10-04.
    ["half-hour gap (Australia/Lord_Howe)", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", ["2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"]],
  ])("%s", (_title, expr, tz, after, expected) => {
    expect(fires(expr, tz, after, expected.length)).toEqual(expected);
  });

  it("an autumn day in Berlin: every local minute fires exactly once", () => {
    const labels: string[] = [];
    for (
      let t = nextFire("* * * * *", new Date("2026-10-24T22:00:00Z"), "Europe/Berlin");
      t < new Date("2026-10-25T23:00:00Z");
      t = nextFire("* * * * *", t, "Europe/Berlin")
    ) {
      labels.push(formatInZone(t, "Europe/Berlin").slice(0, 16));
    }
    expect(labels.length).toBe(24 * 60 - 1); // 00:01 .. 23:59 local
    expect(new Set(labels).size).toBe(labels.length);
  });

  it("a spring day in Berlin: the 60 missing minutes become one run at 03:00", () => {
    const all = firesBetween("* * * * *", new Date("2026-03-28T23:00:00Z"), new Date("2026-03-29T21:59:59Z"), "Europe/Berlin", 5000);
    expect(all.length).toBe(24 * 60 - 1 - 60);
    expect(all.filter((t) => formatInZone(t, "Europe/Berlin").slice(11, 13) === "02")).toEqual([]);
    expect(all.map((t) => t.toISOString())).toContain("2026-03-29T01:00:00.000Z");
  });
});

describe("nextFire: unix cron semantics", () => {
  it.each([
    [
      "day-of-month OR day-of-week when both are restricted",
      "0 0 13 * 1",
      "2026-02-01T00:00:00Z",
      ["2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-16T00:00:00Z", "2026-02-23T00:00:00Z", "2026-03-02T00:00:00Z"],
    ],
    [
      "1st and 15th OR Mondays",
      "0 0 1,15 * 1",
      "2026-01-01T12:00:00Z",
      ["2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-15T00:00:00Z", "2026-01-19T00:00:00Z", "2026-01-26T00:00:00Z", "2026-02-01T00:00:00Z"],
    ],
    ["only day-of-week restricted: Mondays", "0 0 * * 1", "2026-02-01T00:00:00Z", ["2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"]],
    ["only day-of-month restricted: the 13th", "0 0 13 * *", "2026-02-01T00:00:00Z", ["2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z"]],
    ["7 is Sunday", "0 0 * * 7", "2026-01-01T12:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]],
    ["names", "0 6 * JAN-FEB SUN", "2026-01-01T00:00:00Z", ["2026-01-04T06:00:00Z", "2026-01-11T06:00:00Z"]],
    ["29 February waits for a leap year", "0 0 29 2 *", "2026-01-01T00:00:00Z", ["2028-02-29T00:00:00Z"]],
    ["strictly after: a fire time is not returned again", "*/5 * * * *", "2026-01-01T10:05:00Z", ["2026-01-01T10:10:00Z"]],
    ["seconds past a fire time", "*/5 * * * *", "2026-01-01T10:05:00.500Z", ["2026-01-01T10:10:00Z"]],
    ["macros", "@hourly", "2026-01-01T10:05:00Z", ["2026-01-01T11:00:00Z"]],
  ])("%s", (_title, expr, after, expected) => {
    expect(fires(expr, "UTC", after, expected.length)).toEqual(expected);
  });

  it("a zone with a non-whole-hour offset (Asia/Kolkata)", () => {
    expect(fires("0 2 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", 1)).toEqual(["2026-01-01T20:30:00Z"]);
  });

  it("nextFire keeps the DST rules at a quarter-hour cron", () => {
    expect(nextFire("*/15 * * * *", new Date("2026-10-25T00:50:00Z"), "Europe/Berlin").toISOString()).toBe("2026-10-25T02:00:00.000Z");
  });
});

describe("firesBetween", () => {
  it("lists the fire times in (from, to], up to a limit", () => {
    const from = new Date("2026-06-01T00:00:00Z");
    const to = new Date("2026-06-04T02:00:00Z");
    expect(firesBetween("0 2 * * *", from, to, "UTC").map((d) => d.toISOString())).toEqual([
      "2026-06-01T02:00:00.000Z",
      "2026-06-02T02:00:00.000Z",
      "2026-06-03T02:00:00.000Z",
      "2026-06-04T02:00:00.000Z",
    ]);
    expect(firesBetween("0 2 * * *", from, to, "UTC", 2)).toHaveLength(2);
  });
});
