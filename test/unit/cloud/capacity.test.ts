// Tests of core/cloud/capacity.ts: the busiest minute of a fleet's schedules, and the warning above the limit.
import { describe, expect, it } from "vitest";
import { concurrencyWarning, peakConcurrency } from "../../../core/cloud/capacity.js";
import type { PlannedSchedule } from "../../../core/cloud/plan.js";

const FROM = new Date("2026-12-03T12:00:00Z");

function fleet(n: number, cron: string, windowMinutes = 0, timezone = "UTC"): PlannedSchedule[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `chantal-sync-r${i}`,
    handler: "sync" as const,
    repoId: `r${i}`,
    cron,
    expression: "",
    timezone,
    flexibleTimeWindow: windowMinutes > 0 ? { Mode: "FLEXIBLE" as const, MaximumWindowInMinutes: windowMinutes } : { Mode: "OFF" as const },
    description: "",
    command: [],
    event: { handler: "sync" as const, repoId: `r${i}`, trigger: "cloud" as const },
  }));
}

describe("peakConcurrency", () => {
  it.each([
    // All at once: every task runs in the first minutes.
    ["1,000 at 02:00, no window", fleet(1000, "0 2 * * *"), 10, 1000],
    // Spread over 100 minutes, 10 minutes each: a tenth of them at a time.
    ["1,000 at 02:00 within 100 minutes", fleet(1000, "0 2 * * *", 100), 10, 100],
    // A window shorter than a run: the runs still overlap wholly at the window's end.
    ["100 within 5 minutes, 10 minutes each", fleet(100, "0 2 * * *", 5), 10, 100],
    // Spread by their own cron minutes: 60 minutes apart, 10 minutes each, never two at once.
    ["hourly at distinct minutes", [...fleet(1, "0 * * * *"), ...fleet(1, "30 * * * *")], 10, 1],
    ["two at the same minute, different zones that coincide", [...fleet(1, "0 3 * * *", 0, "UTC"), ...fleet(1, "0 4 * * *", 0, "Europe/Berlin")], 10, 2],
    ["nothing scheduled", [] as PlannedSchedule[], 10, 0],
  ])("%s -> %s", (_name, schedules, minutes, expected) => {
    expect(Math.round(peakConcurrency(schedules, FROM, minutes).tasks)).toBe(expected);
  });

  it("names the busiest minute and how many schedules overlap it", () => {
    const peak = peakConcurrency(fleet(50, "0 2 * * *"), FROM, 10);
    expect(peak.at.toISOString()).toBe("2026-12-04T02:00:00.000Z");
    expect(peak.schedules).toBe(50);
  });
});

describe("concurrencyWarning", () => {
  it("is null within the limit, and suggests the window that would fit", () => {
    const peak = peakConcurrency(fleet(1000, "0 2 * * *"), FROM, 10);
    expect(concurrencyWarning(peak, 1000, 10, 0)).toBeNull();
    expect(concurrencyWarning(peak, 100, 10, 0)).toBe(
      "the schedules may run 1000 tasks at once (1000 schedules around 2026-12-04T02:00Z, each ~10 min), more than cloud.max_concurrent_tasks 100: " +
        "tasks beyond the account's Fargate vCPU quota fail to start and are retried for an hour; fix: cloud.spread_minutes: 100 (a flexible window), " +
        "other cron minutes, or a larger quota and max_concurrent_tasks",
    );
    // With that window it fits.
    expect(concurrencyWarning(peakConcurrency(fleet(1000, "0 2 * * *", 100), FROM, 10), 100, 10, 100)).toBeNull();
  });
});
