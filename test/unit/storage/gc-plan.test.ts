// The pure parts of pool gc: which blobs of a prefix are orphans, which previous trees stay, how bytes are shown.
import { describe, expect, it } from "vitest";
import { planPrefix, poolPrefixes, type PooledBlob } from "../../../core/storage/gc.js";
import { previousTreesToKeep } from "../../../core/storage/gc-trees.js";
import { formatBytes } from "../../../bin/output.js";

const blob = (c: string, minutesAgo: number): PooledBlob => ({
  sha256: c.repeat(64),
  size: 10,
  modified: new Date(Date.UTC(2026, 0, 1, 12) - minutesAgo * 60_000),
});
const NOON = Date.UTC(2026, 0, 1, 12);

describe("planPrefix", () => {
  const cases: { title: string; blobs: PooledBlob[]; referenced: string[]; protectMinutes: number; orphans: string[]; young: string[] }[] = [
    {
      title: "referenced blobs are never orphans, however old",
      blobs: [blob("a", 10_000)],
      referenced: ["a".repeat(64)],
      protectMinutes: 0,
      orphans: [],
      young: [],
    },
    { title: "an old unreferenced blob is an orphan", blobs: [blob("b", 120)], referenced: [], protectMinutes: 60, orphans: ["b"], young: [] },
    { title: "a young unreferenced blob is protected", blobs: [blob("c", 5)], referenced: [], protectMinutes: 60, orphans: [], young: ["c"] },
    { title: "protection 0 takes everything unreferenced up to now", blobs: [blob("d", 0)], referenced: [], protectMinutes: 0, orphans: ["d"], young: [] },
    {
      title: "a mix",
      blobs: [blob("a", 500), blob("b", 500), blob("c", 1)],
      referenced: ["a".repeat(64)],
      protectMinutes: 60,
      orphans: ["b"],
      young: ["c"],
    },
  ];
  for (const c of cases)
    it(c.title, () => {
      const r = planPrefix(c.blobs, new Set(c.referenced), NOON - c.protectMinutes * 60_000);
      expect(r.orphans.map((b) => b.sha256[0])).toEqual(c.orphans);
      expect(r.young.map((b) => b.sha256[0])).toEqual(c.young);
    });
});

describe("poolPrefixes", () => {
  it("are the 256 two-digit hex prefixes in order", () => {
    const p = poolPrefixes();
    expect(p).toHaveLength(256);
    expect([p[0], p[15], p[16], p[255]]).toEqual(["00", "0f", "10", "ff"]);
  });
});

describe("previousTreesToKeep", () => {
  const cases: { title: string; trees: string[]; linked: [string, string][]; keep: string[] }[] = [
    {
      title: "nothing older than the linked tree: nothing kept",
      trees: ["latest-20260101T000000000Z"],
      linked: [["latest", "latest-20260101T000000000Z"]],
      keep: [],
    },
    {
      title: "the newest older tree of latest is kept, older ones are not",
      trees: ["latest-20260101T000000000Z", "latest-20260102T000000000Z", "latest-20260103T000000000Z"],
      linked: [["latest", "latest-20260103T000000000Z"]],
      keep: ["latest-20260102T000000000Z"],
    },
    {
      title: "a snapshot's previous tree, by its own group only",
      trees: ["snapshots_a-20260101T000000000Z", "snapshots_a-20260105T000000000Z", "snapshots_ab-20260102T000000000Z", "latest-20260104T000000000Z"],
      linked: [["snapshots/a", "snapshots_a-20260105T000000000Z"]],
      keep: ["snapshots_a-20260101T000000000Z"],
    },
    { title: "a name without a link keeps nothing (an unpublish that crashed)", trees: ["snapshots_gone-20260101T000000000Z"], linked: [], keep: [] },
    {
      title: "building trees are never counted as previous",
      trees: ["latest-20260102T000000000Z.building~h~1~", "latest-20260101T000000000Z", "latest-20260103T000000000Z"],
      linked: [["latest", "latest-20260103T000000000Z"]],
      keep: ["latest-20260101T000000000Z"],
    },
  ];
  for (const c of cases) it(c.title, () => expect(previousTreesToKeep(c.trees, new Map(c.linked))).toEqual(c.keep));
});

describe("formatBytes", () => {
  for (const [n, s] of [
    [0, "0 B"],
    [999, "999 B"],
    [1000, "1.0 kB"],
    [1_234_567, "1.2 MB"],
    [5e12, "5.0 TB"],
  ] as const)
    it(`${n} -> ${s}`, () => expect(formatBytes(n)).toBe(s));
});
