// Tests of core/schedule/group-slot.ts: which members' syncs a group's fire time waits for, and the decision once they are done.
import { describe, expect, it } from "vitest";
import { firesAt, groupSlotDecision, membersDueInSlot, type MemberFire, type SlotDecision } from "../../../core/schedule/group-slot.js";
import type { ScheduledJob } from "../../../core/schedule/plan.js";

const sync = (repoId: string, cron: string, timeZone = "UTC"): ScheduledJob => ({
  key: `sync:${repoId}`,
  kind: "sync",
  target: repoId,
  cron,
  timeZone,
  jitterSeconds: 0,
});
const group: Pick<ScheduledJob, "members"> = { members: ["a", "b", "c", "d", "e"] };

describe("firesAt", () => {
  it.each([
    ["0 3 * * *", "UTC", "2026-06-01T03:00:00Z", true],
    ["0 3 * * *", "UTC", "2026-06-01T03:01:00Z", false],
    ["0 3 * * *", "Europe/Paris", "2026-06-01T01:00:00Z", true], // 03:00 CEST
    ["0 3 * * *", "Europe/Paris", "2026-06-01T03:00:00Z", false],
    ["*/15 * * * *", "UTC", "2026-06-01T03:00:00Z", true],
    ["0 3 * * 1", "UTC", "2026-06-01T03:00:00Z", true], // a Monday
    ["0 3 * * 2", "UTC", "2026-06-01T03:00:00Z", false],
    ["0 3 30 2 *", "UTC", "2026-06-01T03:00:00Z", false], // never fires: never waited for
  ])("%s in %s at %s: %s", (cron, tz, at, expected) => {
    expect(firesAt({ cron, timeZone: tz }, new Date(at))).toBe(expected);
  });
});

describe("membersDueInSlot", () => {
  const slot = new Date("2026-06-01T03:00:00Z");
  it.each<[string, ScheduledJob[], string[]]>([
    ["members scheduled at the same instant", [sync("a", "0 3 * * *"), sync("b", "0 3 * * *")], ["a", "b"]],
    ["a member whose cron does not fire then is not waited for", [sync("a", "0 3 * * *"), sync("b", "0 4 * * *")], ["a"]],
    ["a member without a schedule of its own (no sync job) is not waited for", [sync("a", "0 3 * * *")], ["a"]],
    ["the same instant in another zone counts", [sync("a", "0 5 * * *", "Europe/Paris")], ["a"]],
    ["a repository outside the group is never waited for", [sync("x", "0 3 * * *"), sync("c", "0 3 * * *")], ["c"]],
    ["the group's order, not the plan's", [sync("e", "0 3 * * *"), sync("a", "0 3 * * *")], ["a", "e"]],
    ["no members due: nothing to wait for", [], []],
  ])("%s", (_what, jobs, expected) => {
    expect(membersDueInSlot(group, jobs, slot).map((j) => j.target)).toEqual(expected);
  });

  it("ignores jobs of other kinds that share a target name", () => {
    const backup: ScheduledJob = { key: "backup", kind: "backup", target: "a", cron: "0 3 * * *", timeZone: "UTC", jitterSeconds: 0 };
    expect(membersDueInSlot(group, [backup], slot)).toEqual([]);
  });
});

const pending = (repoId: string): MemberFire => ({ repoId, fire: { state: "pending" } });
const done = (repoId: string, status: string): MemberFire => ({ repoId, fire: { state: "done", status } });
const none = (repoId: string): MemberFire => ({ repoId, fire: { state: "none" } });

describe("groupSlotDecision", () => {
  it.each<[string, MemberFire[], SlotDecision]>([
    ["no member to wait for: freeze now", [], { action: "snapshot", synced: [] }],
    ["every member synced", [done("a", "success"), done("b", "noop")], { action: "snapshot", synced: ["a", "b"] }],
    ["one still syncing: wait", [done("a", "success"), pending("b")], { action: "wait", waitingFor: ["b"] }],
    [
      "a failed member skips at once, even with another pending",
      [done("a", "failed"), pending("b")],
      { action: "skip", failed: [{ repoId: "a", status: "failed" }] },
    ],
    ["an interrupted member skips", [done("a", "success"), done("b", "interrupted")], { action: "skip", failed: [{ repoId: "b", status: "interrupted" }] }],
    [
      "every failure is named",
      [done("a", "failed"), done("b", "interrupted")],
      {
        action: "skip",
        failed: [
          { repoId: "a", status: "failed" },
          { repoId: "b", status: "interrupted" },
        ],
      },
    ],
    [
      "a member busy elsewhere (skipped-locked) is no failure: the snapshot waits for its lock",
      [done("a", "skipped-locked")],
      { action: "snapshot", synced: ["a"] },
    ],
    [
      "a member whose fire was dropped as still running is no failure",
      [done("a", "skipped"), done("b", "success")],
      { action: "snapshot", synced: ["a", "b"] },
    ],
    ["a member that did not fire at all is not waited for", [none("a"), done("b", "success")], { action: "snapshot", synced: ["b"] }],
  ])("%s", (_what, members, expected) => {
    expect(groupSlotDecision(members)).toEqual(expected);
  });
});
