// Tests of core/storage/pool-layout.ts: which layout a pool has, from its layout file or, without one, its contents.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blobDirectory, detectPoolLayout, LAYOUT_FILE, layoutOf, writeLayoutFile, type LayoutSeen } from "../../../core/storage/pool-layout.js";

describe("layoutOf", () => {
  const cases: [string, string | undefined, boolean, LayoutSeen][] = [
    ["a new pool (no file, nothing in it)", undefined, false, { layout: "aa", markerMissing: true }],
    ["a pool made before 2026-12 (no file, blob directories used)", undefined, true, { layout: "aa/bb", markerMissing: false }],
    ["the file says aa", "aa\n", true, { layout: "aa", markerMissing: false }],
    ["the file says aa/bb", "aa/bb\n", false, { layout: "aa/bb", markerMissing: false }],
    ["an empty file (written, its data lost to a power cut) is the current layout", "", true, { layout: "aa", markerMissing: false }],
  ];
  it.each(cases)("%s", (_name, marker, used, want) => {
    expect(layoutOf(marker, used, "/p/.chantal-pool-layout")).toEqual(want);
  });

  it("refuses a layout it does not know, naming the file", () => {
    expect(() => layoutOf("aa/bb/cc\n", true, "/p/.chantal-pool-layout")).toThrow(
      /\/p\/\.chantal-pool-layout names the pool layout "aa\/bb\/cc", which this version does not know/,
    );
  });
});

describe("detectPoolLayout", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "chantal-layout-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a missing root, an empty one, one with only empty <aa> and a temp area: new", () => {
    expect(detectPoolLayout(join(dir, "missing"))).toEqual({ layout: "aa", markerMissing: true });
    mkdirSync(join(dir, "ab"));
    mkdirSync(join(dir, ".tmp"));
    writeFileSync(join(dir, ".tmp", "x.part"), "x");
    expect(detectPoolLayout(dir)).toEqual({ layout: "aa", markerMissing: true });
  });

  it("blob directories in use without the file: the old layout; with it, what it says whatever lies in them", () => {
    mkdirSync(join(dir, "ab", "cd"), { recursive: true });
    expect(detectPoolLayout(dir).layout).toBe("aa/bb");
    expect(writeLayoutFile(dir, "aa")).toBe(true);
    expect(readFileSync(join(dir, LAYOUT_FILE), "utf8")).toBe("aa\n");
    expect(detectPoolLayout(dir)).toEqual({ layout: "aa", markerMissing: false });
    // One already there is kept.
    expect(writeLayoutFile(dir, "aa/bb")).toBe(true);
    expect(detectPoolLayout(dir).layout).toBe("aa");
  });

  it("writeLayoutFile: false while the root does not exist", () => {
    expect(writeLayoutFile(join(dir, "missing"), "aa")).toBe(false);
  });
});

describe("blobDirectory", () => {
  const sha = `ab${"1".repeat(62)}`;
  it.each([
    ["aa", "ab"],
    ["aa/bb", "ab/11"],
  ] as const)("%s", (layout, want) => {
    expect(blobDirectory(layout, sha)).toBe(want);
  });
});
