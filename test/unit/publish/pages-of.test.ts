// Tests of pagesOf (core/publish/trees.ts): the gated tree, held in memory, as the publisher's pages.
import { describe, expect, it } from "vitest";
import { pagesOf } from "../../../core/publish/trees.js";

async function collect(tree: Map<string, string>, size: number) {
  const pages = [];
  for await (const page of pagesOf(tree, size)) pages.push(page);
  return pages;
}

describe("pagesOf", () => {
  const tree = (n: number) => new Map(Array.from({ length: n }, (_, i) => [`Packages/p${i}.rpm`, i.toString(16).padStart(64, "0")] as const));
  it.each([
    [0, 5, []],
    [3, 5, [3]],
    [5, 5, [5]],
    [12, 5, [5, 5, 2]],
  ])("%i entries in pages of %i: %j", async (n, size, lengths) => {
    const pages = await collect(tree(n), size);
    expect(pages.map((p) => p.length)).toEqual(lengths);
    expect(pages.flat()).toEqual([...tree(n)].map(([path, sha256]) => ({ path, sha256 })));
  });
});
