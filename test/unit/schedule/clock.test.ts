// Tests of core/schedule/clock.ts.
import { describe, expect, it } from "vitest";
import { acceleratedClock, ManualClock, testClockSpec } from "../../../core/schedule/clock.js";

describe("testClockSpec (the test hook)", () => {
  it.each([
    [{}, null],
    [{ CHANTAL_SCHEDULER_TEST_START: "2026-03-29T00:59:58Z" }, { start: new Date("2026-03-29T00:59:58Z"), speed: 1 }],
    [
      { CHANTAL_SCHEDULER_TEST_START: "2026-03-29T00:59:58Z", CHANTAL_SCHEDULER_TEST_SPEED: "60" },
      { start: new Date("2026-03-29T00:59:58Z"), speed: 60 },
    ],
  ])("%j", (env, expected) => {
    expect(testClockSpec(env)).toEqual(expected);
  });

  it.each([
    [{ CHANTAL_SCHEDULER_TEST_START: "yesterday" }, /not an ISO instant/],
    [{ CHANTAL_SCHEDULER_TEST_START: "2026-01-01T00:00:00Z", CHANTAL_SCHEDULER_TEST_SPEED: "0.5" }, /from 1 to 3600/],
    [{ CHANTAL_SCHEDULER_TEST_SPEED: "10" }, /needs CHANTAL_SCHEDULER_TEST_START/],
  ])("rejects %j", (env, message) => {
    expect(() => testClockSpec(env)).toThrow(message);
  });
});

describe("acceleratedClock", () => {
  it("starts at the given instant and runs `speed` times as fast", () => {
    let real = 1_000_000;
    const clock = acceleratedClock(new Date("2026-01-01T00:00:00Z"), 60, () => real);
    expect(clock.now().toISOString()).toBe("2026-01-01T00:00:00.000Z");
    real += 1000;
    expect(clock.now().toISOString()).toBe("2026-01-01T00:01:00.000Z");
  });
});

describe("ManualClock", () => {
  it("fires timers in time order as it advances, and not before", () => {
    const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
    const fired: string[] = [];
    clock.setTimer(() => fired.push(`b@${clock.now().toISOString().slice(11, 19)}`), 2000);
    clock.setTimer(() => fired.push(`a@${clock.now().toISOString().slice(11, 19)}`), 1000);
    const cancel = clock.setTimer(() => fired.push("cancelled"), 1500);
    cancel();
    clock.advance(999);
    expect(fired).toEqual([]);
    clock.advance(5000);
    expect(fired).toEqual(["a@00:00:01", "b@00:00:02"]);
    expect(clock.now().toISOString()).toBe("2026-01-01T00:00:05.999Z");
  });
});
