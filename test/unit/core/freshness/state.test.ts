// freshnessState(): the table of last run, last success, Valid-Until and policy against an injected now.
import { describe, expect, it } from "vitest";
import { durationSeconds, type FreshnessInput, freshnessPolicy, freshnessState, type FreshnessState } from "../../../../core/freshness/state.js";

const now = new Date("2026-06-10T12:00:00Z");
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
const inHours = (h: number) => new Date(now.getTime() + h * 3_600_000);
const policy = { maxAgeSeconds: 36 * 3600, validUntilWarningSeconds: 3 * 86_400 };

describe("freshnessState", () => {
  it.each<[string, FreshnessInput, FreshnessState]>([
    ["fresh success", { lastRunStatus: "success", lastSuccessAt: hoursAgo(1), validUntil: null }, "ok"],
    ["fresh noop", { lastRunStatus: "noop", lastSuccessAt: hoursAgo(35), validUntil: null }, "ok"],
    ["exactly max_age is still ok", { lastRunStatus: "success", lastSuccessAt: hoursAgo(36), validUntil: null }, "ok"],
    ["older than max_age", { lastRunStatus: "success", lastSuccessAt: hoursAgo(37), validUntil: null }, "stale"],
    ["never synced", { lastRunStatus: null, lastSuccessAt: null, validUntil: null }, "stale"],
    ["last run failed", { lastRunStatus: "failed", lastSuccessAt: hoursAgo(1), validUntil: null }, "failing"],
    ["last run interrupted", { lastRunStatus: "interrupted", lastSuccessAt: hoursAgo(1), validUntil: null }, "failing"],
    ["failed beats stale", { lastRunStatus: "failed", lastSuccessAt: hoursAgo(100), validUntil: null }, "failing"],
    ["skipped-locked is not a failure", { lastRunStatus: "skipped-locked", lastSuccessAt: hoursAgo(1), validUntil: null }, "ok"],
    ["Valid-Until far away", { lastRunStatus: "success", lastSuccessAt: hoursAgo(1), validUntil: inHours(24 * 7) }, "ok"],
    ["Valid-Until within warning", { lastRunStatus: "success", lastSuccessAt: hoursAgo(1), validUntil: inHours(48) }, "expiring"],
    ["Valid-Until passed", { lastRunStatus: "success", lastSuccessAt: hoursAgo(1), validUntil: hoursAgo(2) }, "expiring"],
    ["stale beats expiring", { lastRunStatus: "success", lastSuccessAt: hoursAgo(40), validUntil: inHours(1) }, "stale"],
  ])("%s", (_name, input, expected) => {
    const f = freshnessState(input, policy, now);
    expect(f.state).toBe(expected);
    expect(f.reason).not.toBe("");
  });
});

describe("durationSeconds", () => {
  it.each([
    ["45s", 45],
    ["90m", 5400],
    ["36h", 129_600],
    ["3d", 259_200],
    ["2w", 1_209_600],
  ])("%s", (text, seconds) => expect(durationSeconds(text)).toBe(seconds));
  it("refuses other forms", () => expect(() => durationSeconds("3 days")).toThrow(/not a duration/));
});

describe("freshnessPolicy", () => {
  const config = { freshness: { max_age: "36h", valid_until_warning: "3d" } };
  it("uses the global block", () => expect(freshnessPolicy(config, {})).toEqual(policy));
  it("a repository's block replaces it", () =>
    expect(freshnessPolicy(config, { freshness: { max_age: "2h", valid_until_warning: "1d" } })).toEqual({
      maxAgeSeconds: 7200,
      validUntilWarningSeconds: 86_400,
    }));
});
