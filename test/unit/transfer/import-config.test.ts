// import's first refusal: every repository (with its type) and group of a bundle must be configured on the receiving side.
import { describe, expect, it } from "vitest";
import { ConfigSchema } from "../../../core/config/schema.js";
import { checkConfigured, ImportConfigError } from "../../../core/transfer/import.js";
import type { Manifest } from "../../../core/transfer/manifest.js";

const config = (repos: { id: string; type: string }[], groups: { id: string; repositories: string[] }[] = []) =>
  ConfigSchema.parse({
    storage: { base_path: "/tmp/x" },
    database: { url: "postgres://localhost/x" },
    repositories: repos.map((r) => ({ ...r, upstream_url: "http://127.0.0.1/", ...(r.type === "apt" ? { apt: { distribution: "stable" } } : {}) })),
    groups,
  });

const manifest = (repos: { repo_id: string; type: "rpm" | "apt" }[], groups: { group: string; members: string[] }[] = []) =>
  ({
    export_id: "20261202T000000Z-00000000",
    repositories: repos.map((r) => ({ ...r, upstream_url: "http://upstream/" })),
    group_snapshots: groups.map((g) => ({ ...g, name: "g1", description: null, created_at: "2026-12-02T00:00:00Z" })),
  }) as unknown as Manifest;

describe("checkConfigured", () => {
  const cases: { name: string; repos: { id: string; type: string }[]; groups?: { id: string; repositories: string[] }[]; m: Manifest; error: RegExp | null }[] =
    [
      { name: "all configured", repos: [{ id: "r1", type: "rpm" }], m: manifest([{ repo_id: "r1", type: "rpm" }]), error: null },
      {
        name: "a missing repository: the YAML to add",
        repos: [{ id: "r1", type: "rpm" }],
        m: manifest([
          { repo_id: "r1", type: "rpm" },
          { repo_id: "d1", type: "apt" },
        ]),
        error:
          /1 of its repositories are not configured here[\s\S]*- id: d1\n {4}type: apt\n {4}upstream_url: http:\/\/upstream\/\n {4}enabled: false\n {4}apt: \{ distribution: SUITE \}/,
      },
      { name: "another type", repos: [{ id: "r1", type: "apt" }], m: manifest([{ repo_id: "r1", type: "rpm" }]), error: /r1 is apt here, rpm in the bundle/ },
      {
        name: "a missing group",
        repos: [{ id: "r1", type: "rpm" }],
        m: manifest([{ repo_id: "r1", type: "rpm" }], [{ group: "g", members: ["r1"] }]),
        error: /group g not configured here[\s\S]*- id: g\n {4}repositories: \[r1\]/,
      },
      {
        name: "a configured group",
        repos: [{ id: "r1", type: "rpm" }],
        groups: [{ id: "g", repositories: ["r1"] }],
        m: manifest([{ repo_id: "r1", type: "rpm" }], [{ group: "g", members: ["r1"] }]),
        error: null,
      },
    ];
  for (const c of cases)
    it(c.name, () => {
      const run = () => checkConfigured(config(c.repos, c.groups), c.m);
      if (c.error === null) expect(run).not.toThrow();
      else {
        expect(run).toThrow(ImportConfigError);
        expect(run).toThrow(c.error);
      }
    });
});
