// Tests of core/schedule/zone.ts.
import { describe, expect, it } from "vitest";
import { formatInZone, instantsOf, wallClockOf, zoneOffsetMs } from "../../../core/schedule/zone.js";

const wall = (s: string) => Date.parse(`${s}Z`);
const at = (s: string) => Date.parse(s);

describe("zone arithmetic", () => {
  it.each([
    ["Europe/Berlin", "2026-01-15T12:00:00Z", 60],
    ["Europe/Berlin", "2026-07-15T12:00:00Z", 120],
    ["America/New_York", "2026-01-15T12:00:00Z", -300],
    ["Asia/Kolkata", "2026-01-15T12:00:00Z", 330],
    ["UTC", "2026-01-15T12:00:00Z", 0],
  ])("offset of %s at %s is %i minutes", (tz, instant, minutes) => {
    expect(zoneOffsetMs(tz, at(instant))).toBe(minutes * 60_000);
  });

  it.each([
    ["an ordinary time", "Europe/Berlin", "2026-01-15T02:30:00", { kind: "unique", instant: at("2026-01-15T01:30:00Z") }],
    ["the skipped hour", "Europe/Berlin", "2026-03-29T02:30:00", { kind: "skipped", gapEnd: at("2026-03-29T01:00:00Z") }],
    ["the repeated hour", "Europe/Berlin", "2026-10-25T02:30:00", { kind: "repeated", first: at("2026-10-25T00:30:00Z"), second: at("2026-10-25T01:30:00Z") }],
    ["New York's skipped hour", "America/New_York", "2026-03-08T02:00:00", { kind: "skipped", gapEnd: at("2026-03-08T07:00:00Z") }],
    [
      "New York's repeated hour",
      "America/New_York",
      "2026-11-01T01:59:00",
      { kind: "repeated", first: at("2026-11-01T05:59:00Z"), second: at("2026-11-01T06:59:00Z") },
    ],
  ])("instantsOf: %s", (_t, tz, local, expected) => {
    expect(instantsOf(tz, wall(local))).toEqual(expected);
  });

  it("wallClockOf and formatInZone show local time", () => {
    expect(new Date(wallClockOf("Europe/Berlin", at("2026-10-25T01:30:00Z"))).toISOString()).toBe("2026-10-25T02:30:00.000Z");
    expect(formatInZone(new Date("2026-10-25T00:30:00Z"), "Europe/Berlin")).toBe("2026-10-25T02:30:00+02:00");
    expect(formatInZone(new Date("2026-10-25T01:30:00Z"), "Europe/Berlin")).toBe("2026-10-25T02:30:00+01:00");
    expect(formatInZone(new Date("2026-01-01T20:30:00Z"), "Asia/Kolkata")).toBe("2026-01-02T02:00:00+05:30");
    expect(formatInZone(new Date("2026-01-01T12:00:00Z"), "America/New_York")).toBe("2026-01-01T07:00:00-05:00");
  });
});
