// Tests of core/backup/retention.ts.
import { describe, expect, it } from "vitest";
import { calendarDay, isoWeek, planRetention, type RetentionCandidate, type RetentionPolicy } from "../../../core/backup/retention.js";

const at = (iso: string, valid = true, name = iso): RetentionCandidate => ({ name, createdAt: new Date(iso), valid });
const kept = (cands: RetentionCandidate[], policy: RetentionPolicy, tz = "UTC") =>
  planRetention(cands, policy, { timeZone: tz })
    .filter((d) => d.keep)
    .map((d) => d.name)
    .sort();

// Two backups a day for ten days, 2024-03-01 .. 2024-03-10 (a Friday to a Sunday).
const tenDays = Array.from({ length: 10 }, (_, i) => [
  at(`2024-03-${String(i + 1).padStart(2, "0")}T03:00:00Z`),
  at(`2024-03-${String(i + 1).padStart(2, "0")}T15:00:00Z`),
]).flat();

describe("planRetention", () => {
  it.each<[string, RetentionCandidate[], RetentionPolicy, string[]]>([
    ["keep_last keeps the N newest", tenDays, { keep_last: 3 }, ["2024-03-09T15:00:00Z", "2024-03-10T03:00:00Z", "2024-03-10T15:00:00Z"]],
    [
      "keep_daily keeps the newest of each of the last N days",
      tenDays,
      { keep_daily: 3 },
      ["2024-03-08T15:00:00Z", "2024-03-09T15:00:00Z", "2024-03-10T15:00:00Z"],
    ],
    [
      "keep_weekly keeps the newest of each ISO week (Mon-Sun)",
      tenDays,
      { keep_weekly: 3 },
      // weeks: 2024-W09 (Mar 1-3), 2024-W10 (Mar 4-10)
      ["2024-03-03T15:00:00Z", "2024-03-10T15:00:00Z"],
    ],
    [
      "keep_monthly keeps the newest of each month",
      [at("2024-01-05T00:00:00Z"), at("2024-01-31T23:00:00Z"), at("2024-02-10T00:00:00Z"), at("2024-03-01T00:00:00Z"), at("2024-03-02T00:00:00Z")],
      { keep_monthly: 2 },
      ["2024-02-10T00:00:00Z", "2024-03-02T00:00:00Z"],
    ],
    ["rules add up (union)", tenDays, { keep_last: 1, keep_daily: 2 }, ["2024-03-09T15:00:00Z", "2024-03-10T15:00:00Z"]],
    ["keep_daily 0 and keep_last 1 keep only the newest", tenDays, { keep_last: 1, keep_daily: 0 }, ["2024-03-10T15:00:00Z"]],
    [
      "the newest valid backup is kept even when no rule would keep it",
      [at("2024-03-10T15:00:00Z", false), at("2024-03-10T03:00:00Z"), at("2024-03-01T00:00:00Z")],
      { keep_monthly: 0 },
      ["2024-03-10T03:00:00Z", "2024-03-10T15:00:00Z"],
    ],
    [
      "invalid backups are never deleted and never counted",
      [at("2024-03-10T15:00:00Z", false), at("2024-03-09T15:00:00Z"), at("2024-03-08T15:00:00Z"), at("2024-01-01T00:00:00Z", false)],
      { keep_last: 1 },
      ["2024-01-01T00:00:00Z", "2024-03-09T15:00:00Z", "2024-03-10T15:00:00Z"],
    ],
    ["a policy with no rule keeps everything", [at("2024-03-10T15:00:00Z"), at("2020-01-01T00:00:00Z")], {}, ["2020-01-01T00:00:00Z", "2024-03-10T15:00:00Z"]],
    ["no backups, nothing to decide", [], { keep_last: 3 }, []],
    [
      "only invalid backups: all kept",
      [at("2024-03-10T15:00:00Z", false), at("2024-03-09T15:00:00Z", false)],
      { keep_last: 1 },
      ["2024-03-09T15:00:00Z", "2024-03-10T15:00:00Z"],
    ],
  ])("%s", (_title, cands, policy, expected) => {
    expect(kept(cands, policy)).toEqual(expected.sort());
  });

  it("counts days in the configured time zone", () => {
    // 23:30 UTC on the 9th is already the 10th in Berlin: one Berlin day, two UTC days.
    const c = [at("2024-03-09T23:30:00Z"), at("2024-03-10T10:00:00Z")];
    expect(kept(c, { keep_daily: 2 }, "UTC")).toHaveLength(2);
    expect(kept(c, { keep_daily: 2 }, "Europe/Berlin")).toEqual(["2024-03-10T10:00:00Z"]);
  });

  it("says why each backup is kept", () => {
    const d = planRetention([at("2024-03-10T15:00:00Z"), at("2024-03-09T15:00:00Z")], { keep_last: 1, keep_daily: 2 }, { timeZone: "UTC" });
    expect(d[0]!.reasons).toEqual(["newest valid backup", "last", "daily 2024-03-10"]);
    expect(d[1]!.reasons).toEqual(["daily 2024-03-09"]);
  });
});

describe("calendar keys", () => {
  it.each([
    ["2024-01-01", "2024-W01"],
    ["2023-01-01", "2022-W52"],
    ["2020-12-31", "2020-W53"],
    ["2021-01-03", "2020-W53"],
    ["2024-03-10", "2024-W10"],
    ["2024-03-11", "2024-W11"],
  ])("isoWeek(%s) = %s", (day, week) => {
    expect(isoWeek(day)).toBe(week);
  });

  it("calendarDay honours the zone", () => {
    expect(calendarDay(new Date("2024-03-09T23:30:00Z"), "UTC")).toBe("2024-03-09");
    expect(calendarDay(new Date("2024-03-09T23:30:00Z"), "Asia/Tokyo")).toBe("2024-03-10");
  });
});
