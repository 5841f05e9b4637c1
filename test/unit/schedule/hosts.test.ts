// The scheduler hosts: a host's newest daemon is running, stale or stopped; --host-name is checked before anything runs.
import { describe, expect, it } from "vitest";
import { hostVerdict, SCHEDULER_HEARTBEAT_MS, schedulerHostName, STALE_AFTER_HEARTBEATS } from "../../../core/schedule/hosts.js";

const now = new Date("2026-06-01T10:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);
const limit = STALE_AFTER_HEARTBEATS * SCHEDULER_HEARTBEAT_MS;

describe("hostVerdict", () => {
  it.each([
    ["lock held, fresh heartbeat", { lockHeld: true, heartbeatAt: ago(5_000), stoppedAt: null }, "running", null, 5],
    ["lock held, heartbeat exactly at the limit", { lockHeld: true, heartbeatAt: ago(limit), stoppedAt: null }, "running", null, limit / 1000],
    ["lock held, heartbeat past the limit (hung)", { lockHeld: true, heartbeatAt: ago(limit + 1000), stoppedAt: null }, "stale", /no heartbeat for 46 s/, 46],
    ["session gone without stopping (kill -9)", { lockHeld: false, heartbeatAt: ago(2_000), stoppedAt: null }, "stale", /database session is gone/, 2],
    ["stopped cleanly", { lockHeld: false, heartbeatAt: ago(600_000), stoppedAt: ago(600_000) }, "stopped", null, 600],
    ["a heartbeat ahead of the database clock counts as fresh", { lockHeld: true, heartbeatAt: ago(-3_000), stoppedAt: null }, "running", null, 0],
  ] as const)("%s", (_, instance, state, reason, age) => {
    const v = hostVerdict(instance, now);
    expect(v.state).toBe(state);
    if (reason === null) expect(v.reason).toBeNull();
    else expect(v.reason).toMatch(reason);
    expect(v.heartbeatAgeSeconds).toBe(age);
  });
});

describe("schedulerHostName", () => {
  it("defaults to the machine's host name", () => expect(schedulerHostName(undefined, () => "mirror1.example.org")).toBe("mirror1.example.org"));
  it.each(["host-a", "mirror_2.dc1", "A"])("accepts %s", (name) => expect(schedulerHostName(name)).toBe(name));
  it.each(["", "-a", "a b", "a/b", "x".repeat(254)])("refuses %j with the fix", (name) =>
    expect(() => schedulerHostName(name)).toThrow(/--host-name ".*": use letters, digits/),
  );
});
