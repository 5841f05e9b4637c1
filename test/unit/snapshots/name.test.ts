// Tests of core/snapshots/name.ts.
import { describe, expect, it } from "vitest";
import { checkSnapshotName, snapshotNameFromTemplate, SnapshotNameError } from "../../../core/snapshots/name.js";
import { diffPackageSets } from "../../../core/snapshots/snapshots.js";

describe("snapshotNameFromTemplate", () => {
  const now = new Date("2026-03-28T23:30:05Z");
  it.each([
    ["{repo_id}-{date}", undefined, "rhel9-20260328"],
    ["{repo_id}-{date}", "Europe/Berlin", "rhel9-20260329"],
    ["snap-{time}", undefined, "snap-233005"],
    ["snap-{datetime}", "UTC", "snap-20260328-233005"],
    ["{repo_id}", undefined, "rhel9"],
  ])("%s in %s -> %s", (template, timeZone, expected) => {
    expect(snapshotNameFromTemplate(template, { repoId: "rhel9", now, ...(timeZone ? { timeZone } : {}) })).toBe(expected);
  });

  it("refuses unknown placeholders and unsafe names", () => {
    expect(() => snapshotNameFromTemplate("{week}", { repoId: "r", now })).toThrow(/unknown placeholder \{week\}/);
    expect(() => checkSnapshotName("../etc")).toThrow(SnapshotNameError);
    expect(() => checkSnapshotName("a/b")).toThrow(SnapshotNameError);
  });
});

describe("diffPackageSets", () => {
  const p = (name: string, version: string, release = "1", epoch = 0, arch = "noarch") => ({ name, version, release, epoch, arch });
  it("reports added, removed, upgrades and downgrades by name and arch in EVR order", () => {
    const diff = diffPackageSets(
      [p("a", "1.0"), p("b", "1.0"), p("c", "1.9"), p("d", "1.0~rc1"), p("e", "1.0", "1", 1), p("x", "1.0", "1", 0, "x86_64")],
      [p("b", "1.0"), p("c", "1.10"), p("d", "1.0"), p("e", "9.0"), p("f", "1.0"), p("x", "1.0", "1", 0, "aarch64")],
    );
    expect(diff.added.map((x) => `${x.name}.${x.arch}`)).toEqual(["f.noarch", "x.aarch64"]);
    expect(diff.removed.map((x) => `${x.name}.${x.arch}`)).toEqual(["a.noarch", "x.x86_64"]);
    expect(diff.updated.map((u) => `${u.name}:${u.direction}`)).toEqual(["c:upgrade", "d:upgrade", "e:downgrade"]);
  });
});
