// planRetention: which snapshots environments, keep_last, keep_days and publication keep.
import { describe, expect, it } from "vitest";
import { planRetention, type RetentionCandidate } from "../../../core/lifecycle/snapshot-retention.js";
import type { SnapshotRetention } from "../../../core/config/schema.js";

const NOW = new Date("2026-06-30T12:00:00Z");
const snap = (name: string, daysAgo: number, published = false): RetentionCandidate => ({
  name,
  createdAt: new Date(NOW.getTime() - daysAgo * 86_400_000),
  published,
});
const ALL = [snap("d0", 0), snap("d1", 1), snap("d5", 5), snap("d10", 10, true), snap("d30", 30)];

describe("planRetention", () => {
  const cases: { title: string; retention: SnapshotRetention | undefined; deleted: string[]; published?: string[] }[] = [
    { title: "no retention keeps everything", retention: undefined, deleted: [] },
    { title: "an empty retention keeps everything", retention: { include_published: true }, deleted: [] },
    {
      title: "keep_last 2 keeps the two newest; the published one stays",
      retention: { keep_last: 2, include_published: false },
      deleted: ["d5", "d30"],
      published: ["d10"],
    },
    { title: "include_published prunes the published one too", retention: { keep_last: 2, include_published: true }, deleted: ["d5", "d10", "d30"] },
    { title: "keep_days 3 keeps those younger than 3 days", retention: { keep_days: 3, include_published: false }, deleted: ["d5", "d30"], published: ["d10"] },
    { title: "both: kept by either rule", retention: { keep_last: 1, keep_days: 6, include_published: true }, deleted: ["d10", "d30"] },
    { title: "keep_days 0 keeps none by age", retention: { keep_days: 0, include_published: true }, deleted: ["d0", "d1", "d5", "d10", "d30"] },
  ];
  for (const c of cases)
    it(c.title, () => {
      const plan = planRetention(ALL, c.retention, NOW);
      expect(plan.delete).toEqual(c.deleted);
      expect(plan.keep.filter((k) => k.reason === "published").map((k) => k.name)).toEqual(c.published ?? []);
      expect(plan.keep.length + plan.delete.length).toBe(c.retention && (c.retention.keep_last || c.retention.keep_days !== undefined) ? ALL.length : 0);
    });

  it("orders by creation time, not by name or input order", () => {
    const plan = planRetention([snap("b", 2), snap("a", 1), snap("c", 3)], { keep_last: 1, include_published: false }, NOW);
    expect(plan.delete).toEqual(["b", "c"]);
  });

  it("never prunes a snapshot an environment uses, even with include_published and nothing else keeping it", () => {
    const inProd: RetentionCandidate = { ...snap("old", 90, true), inEnvironment: true };
    const plan = planRetention([snap("new", 0), inProd, snap("older", 100)], { keep_last: 1, include_published: true }, NOW);
    expect(plan.delete).toEqual(["older"]);
    expect(plan.keep).toEqual([
      { name: "new", reason: "keep_last" },
      { name: "old", reason: "environment" },
    ]);
  });
});
