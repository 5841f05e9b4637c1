// Tests of core/filter/plan.ts: selection by name, architecture and kind, and version retention, in the type's order.
import { describe, expect, it } from "vitest";
import { FilterSchema } from "../../../core/config/schema.js";
import { newestVersions, selectPackages } from "../../../core/filter/plan.js";
import type { FilterPackage } from "../../../core/filter/types.js";
import { compareEvr } from "../../../core/rpm/evr.js";

const opts = { compareVersions: compareEvr };

function pkg(spec: string): FilterPackage {
  // name-version-release.arch, epoch 0
  const m = /^(.+)-([^-]+)-([^-]+)\.([^.]+)$/.exec(spec)!;
  return { name: m[1]!, version: { epoch: 0, version: m[2]!, release: m[3]! }, arch: m[4]!, source: m[4] === "src" };
}

const REPO = [
  "bash-5.1-1.x86_64",
  "bash-5.2-1.x86_64",
  "bash-5.10-1.x86_64",
  "bash-5.2-1.i686",
  "bash-5.2-1.src",
  "bash-debuginfo-5.2-1.x86_64",
  "kernel-6.1-1.x86_64",
  "kernel-core-6.1-1.x86_64",
  "aircrack-ng-1.7-1.x86_64",
  "tzdata-2024a-1.noarch",
].map(pkg);

function kept(filter: Record<string, unknown>): string[] {
  const plan = selectPackages(REPO, FilterSchema.parse(filter), opts);
  expect(plan.keptCount).toBe(plan.kept.filter(Boolean).length);
  return REPO.flatMap((p, i) => (plan.kept[i] ? [`${p.name}-${p.version.version}.${p.arch}`] : []));
}

describe("selectPackages", () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ["include globs", { include: ["kernel*"] }, ["kernel-6.1.x86_64", "kernel-core-6.1.x86_64"]],
    ["include re:", { include: ["re:^kernel$"] }, ["kernel-6.1.x86_64"]],
    [
      "exclude after include",
      { include: ["bash*"], exclude: ["*-debuginfo"] },
      ["bash-5.1.x86_64", "bash-5.2.x86_64", "bash-5.10.x86_64", "bash-5.2.i686", "bash-5.2.src"],
    ],
    [
      "architectures keep sources by sources:",
      { include: ["bash"], architectures: ["x86_64"] },
      ["bash-5.1.x86_64", "bash-5.2.x86_64", "bash-5.10.x86_64", "bash-5.2.src"],
    ],
    ["sources: false", { include: ["bash"], sources: false, architectures: ["i686"] }, ["bash-5.2.i686"]],
    ["newest 1 per name and arch, in EVR order (5.10 > 5.2)", { include: ["bash"], retain_versions: 1, sources: false }, ["bash-5.10.x86_64", "bash-5.2.i686"]],
    ["newest 2", { include: ["bash"], retain_versions: 2, architectures: ["x86_64"], sources: false }, ["bash-5.2.x86_64", "bash-5.10.x86_64"]],
    ["exclude only", { exclude: ["aircrack*", "*-debuginfo", "kernel*", "bash"] }, ["tzdata-2024a.noarch"]],
    ["a filter that keeps nothing", { include: ["nothing-matches"] }, []],
  ];
  it.each(cases)("%s", (_name, filter, expected) => {
    expect(kept(filter)).toEqual(expected);
  });
});

describe("newestVersions", () => {
  it("counts a version listed twice once, and keeps both copies", () => {
    const twice = [pkg("a-1-1.x86_64"), pkg("a-2-1.x86_64"), pkg("a-2-1.x86_64"), pkg("a-3-1.x86_64")];
    expect(newestVersions(twice, [0, 1, 2, 3], 2, opts)).toEqual([1, 2, 3]);
  });
  it("0 keeps every version", () => {
    expect(newestVersions(REPO, [0, 1, 2], 0, opts)).toEqual([0, 1, 2]);
  });
});
