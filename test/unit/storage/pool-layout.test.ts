// Tests of core/storage/pool-layout.ts: which layout a pool has, from what it holds.
import { describe, expect, it } from "vitest";
import { blobDirectory, layoutFromEntries, type PoolLayout } from "../../../core/storage/pool-layout.js";

const SHA_AB = `ab${"1".repeat(62)}`;
const SHA_CD = `cd${"2".repeat(62)}`;

describe("layoutFromEntries", () => {
  const cases: [string, Record<string, string[]>, PoolLayout][] = [
    ["a new pool (nothing at the top)", {}, "aa"],
    ["a pool emptied by gc (<aa> directories, nothing in them)", { ab: [], cd: [] }, "aa"],
    ["blobs directly under <aa>", { ab: [SHA_AB] }, "aa"],
    ["<bb> directories under <aa> (a pool made before 2026-12)", { ab: ["11", "12"] }, "aa/bb"],
    ["an empty <aa> first, then a <bb>", { ab: [], cd: ["22"] }, "aa/bb"],
    ["an empty <aa> first, then a blob", { ab: [], cd: [SHA_CD] }, "aa"],
    ["names that are not ours are skipped (top and below)", { "lost+found": ["11"], ab: ["README", "x1"], cd: ["22"] }, "aa/bb"],
    ["a sha256 under the wrong <aa> is not a blob of the layout", { ab: [SHA_CD] }, "aa"],
    ["a sha256 under the wrong <aa>, then a <bb>", { ab: [SHA_CD, "11"] }, "aa/bb"],
  ];
  it.each(cases)("%s", (_name, tree, want) => {
    expect(layoutFromEntries(Object.keys(tree).sort(), (aa) => tree[aa] ?? [])).toBe(want);
  });
});

describe("blobDirectory", () => {
  it.each([
    ["aa", "ab"],
    ["aa/bb", "ab/11"],
  ] as const)("%s", (layout, dir) => {
    expect(blobDirectory(layout, SHA_AB)).toBe(dir);
  });
});
