// removePublished: a name's symlink and its tree go at once (no grace period), other trees and foreign files stay.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removePublished, unpublish } from "../../../core/storage/publish.js";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A repository root with latest and snapshots/a, each on its own young tree. */
function published(): string {
  const root = mkdtempSync(join(tmpdir(), "chantal-unpublish-"));
  roots.push(root);
  for (const t of ["latest-1", "snapshots_a-1"]) {
    mkdirSync(join(root, ".trees", t, "repodata"), { recursive: true });
    writeFileSync(join(root, ".trees", t, "repodata", "repomd.xml"), t);
  }
  symlinkSync(".trees/latest-1", join(root, "latest"));
  mkdirSync(join(root, "snapshots"));
  symlinkSync("../.trees/snapshots_a-1", join(root, "snapshots", "a"));
  return root;
}

describe("removePublished", () => {
  it("latest: its link and its young tree go, the snapshot stays", async () => {
    const root = published();
    expect(await removePublished(root, ["latest"])).toEqual(["latest"]);
    expect(existsSync(join(root, "latest"))).toBe(false);
    expect(readdirSync(join(root, ".trees"))).toEqual(["snapshots_a-1"]);
    expect(existsSync(join(root, "snapshots", "a", "repodata", "repomd.xml"))).toBe(true);
  });

  it("every name: the repository's directory goes too; a name not published is not reported", async () => {
    const root = published();
    expect(await removePublished(root, ["latest", "snapshots/a", "snapshots/b"])).toEqual(["latest", "snapshots/a"]);
    expect(existsSync(root)).toBe(false);
  });

  it("keeps a file someone else put in the repository's directory", async () => {
    const root = published();
    writeFileSync(join(root, "README"), "mine");
    await removePublished(root, ["latest", "snapshots/a"]);
    expect(readdirSync(root)).toEqual(["README"]);
  });

  it("refuses a name that is not a symlink, and one that escapes the root", async () => {
    const root = published();
    mkdirSync(join(root, "snapshots", "manual"));
    await expect(removePublished(root, ["snapshots/manual"])).rejects.toThrow(/is not a symlink made by Chantal/);
    await expect(removePublished(root, ["../elsewhere"])).rejects.toThrow(/escapes the tree/);
    expect(existsSync(join(root, "latest"))).toBe(true);
  });
});

describe("unpublish (snapshot delete --force)", () => {
  it("removes the snapshot's tree at once, not after the ten-minute grace period", async () => {
    const root = published();
    expect(await unpublish(root, "snapshots/a")).toBe(true);
    expect(readdirSync(join(root, ".trees"))).toEqual(["latest-1"]);
    expect(await unpublish(root, "snapshots/a")).toBe(false);
  });
});
