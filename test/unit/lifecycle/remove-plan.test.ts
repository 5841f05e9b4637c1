// planRemoval and stillConfiguredProblem: what repo remove unpublishes and deletes, and when it refuses.
import { describe, expect, it } from "vitest";
import { planRemoval, publishedName, stillConfiguredProblem } from "../../../core/lifecycle/remove.js";

describe("planRemoval", () => {
  const cases = [
    { name: "no snapshots", snapshots: [], keep: false, plan: { unpublish: ["latest"], deleteSnapshots: true, deleteRow: true } },
    {
      name: "two snapshots",
      snapshots: ["a", "b"],
      keep: false,
      plan: { unpublish: ["latest", "snapshots/a", "snapshots/b"], deleteSnapshots: true, deleteRow: true },
    },
    {
      name: "kept snapshots keep their trees and the row",
      snapshots: ["a", "b"],
      keep: true,
      plan: { unpublish: ["latest"], deleteSnapshots: false, deleteRow: false },
    },
    {
      name: "--keep-snapshots without snapshots still keeps the row",
      snapshots: [],
      keep: true,
      plan: { unpublish: ["latest"], deleteSnapshots: false, deleteRow: false },
    },
  ];
  for (const c of cases) it(c.name, () => expect(planRemoval(c.snapshots, c.keep)).toEqual(c.plan));
});

describe("stillConfiguredProblem", () => {
  const loaded = { dir: "/etc/chantal", sources: new Map([["epel9", { file: "conf.d/epel.yaml", index: 1 }]]) };
  const cases = [
    {
      name: "a configured repository names its file and index",
      repoId: "epel9",
      problem:
        'repository epel9 is still in the configuration (/etc/chantal/conf.d/epel.yaml, repositories[1]): delete it from that file first, then run "repo remove --repo-id epel9" again',
    },
    { name: "a repository that left the YAML may go", repoId: "epel8", problem: null },
  ];
  for (const c of cases) it(c.name, () => expect(stillConfiguredProblem(loaded, c.repoId)).toBe(c.problem));
});

describe("publishedName", () => {
  const cases = [
    { snapshot: undefined, name: "latest" },
    { snapshot: "rocky9-20260101", name: "snapshots/rocky9-20260101" },
  ];
  for (const c of cases) it(`${c.snapshot ?? "(latest)"} -> ${c.name}`, () => expect(publishedName(c.snapshot)).toBe(c.name));
  for (const bad of ["../latest", "a/b", "", ".hidden"]) it(`refuses "${bad}"`, () => expect(() => publishedName(bad)).toThrow(/must be 1-128 letters/));
});
