// Tests of collectGarbage (core/storage/publish.ts): which published trees may go.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { collectGarbage } from "../../../core/storage/publish.js";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function tree(root: string, name: string, ageMinutes: number): string {
  const dir = join(root, ".trees", name);
  mkdirSync(dir, { recursive: true });
  const t = new Date(Date.now() - ageMinutes * 60_000);
  utimesSync(dir, t, t);
  return dir;
}

describe("collectGarbage", () => {
  it("removes old unreferenced trees only; keeps linked, kept, young and live-building ones", async () => {
    const root = mkdtempSync(join(tmpdir(), "chantal-gc-"));
    roots.push(root);
    tree(root, "latest-new", 60);
    const previous = tree(root, "latest-old", 120);
    tree(root, "snap-a", 600);
    tree(root, "orphan-old", 60);
    tree(root, "orphan-young", 1);
    tree(root, `x.building-${process.pid}`, 60);
    tree(root, "y.building-999999999", 60);
    symlinkSync(".trees/latest-new", join(root, "latest"));
    mkdirSync(join(root, "snapshots"));
    symlinkSync("../.trees/snap-a", join(root, "snapshots", "a"));

    const removed = await collectGarbage(root, [previous]);
    expect(removed.sort()).toEqual(["orphan-old", "y.building-999999999"]);
    expect(readdirSync(join(root, ".trees")).sort()).toEqual(["latest-new", "latest-old", "orphan-young", "snap-a", `x.building-${process.pid}`].sort());
  });
});
