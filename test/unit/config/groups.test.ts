// Tests of the groups: and environments: sections (core/config/schema.ts checkGroupsAndEnvironments, load.ts merging).
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { ConfigError } from "../../../core/errors.js";
import { environmentIndex, findGroup } from "../../../core/groups/groups.js";
import { makeConfigDir } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function load(files: Record<string, string>) {
  const d = makeConfigDir(files);
  dirs.push(d);
  return loadConfig({ configDir: d, env: {} });
}

async function issuesOf(files: Record<string, string>): Promise<string[]> {
  try {
    await load(files);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split("\n");
    throw err;
  }
  return [];
}

const repos = ["a", "b", "c"].map((id) => `  - id: ${id}\n    type: rpm\n    upstream_url: http://mirror.example.org/${id}\n`).join("");
const base = `storage:\n  base_path: /tmp/x\nrepositories:\n${repos}`;

describe("groups and environments", () => {
  it("accepts groups that share repositories and an ordered path; conf.d groups accumulate and a later environments list replaces", async () => {
    const loaded = await load({
      "config.yaml": `${base}groups:\n  - id: g1\n    repositories: [a, b]\nenvironments: [dev, prod]\n`,
      "conf.d/10-more.yaml": "groups:\n  - id: g2\n    repositories: [b, c]\nenvironments: [dev, test, prod]\n",
    });
    expect(loaded.config.groups.map((g) => [g.id, g.repositories])).toEqual([
      ["g1", ["a", "b"]],
      ["g2", ["b", "c"]],
    ]);
    expect(loaded.config.environments).toEqual(["dev", "test", "prod"]);
    expect(environmentIndex(loaded.config, "prod")).toBe(2);
    expect(findGroup(loaded.config, "g2").repositories).toEqual(["b", "c"]);
  });

  it("defaults to no groups and no environments", async () => {
    const loaded = await load({ "config.yaml": base });
    expect(loaded.config.groups).toEqual([]);
    expect(loaded.config.environments).toEqual([]);
    expect(() => environmentIndex(loaded.config, "prod")).toThrow(/unknown environment "prod" \(none is configured/);
  });

  it.each([
    [
      "an unknown member",
      "groups:\n  - id: g\n    repositories: [a, nope]\n",
      /groups\[0\]\.repositories\[1\]: names "nope", which is not a configured repository/,
    ],
    ["a member twice", "groups:\n  - id: g\n    repositories: [a, a]\n", /groups\[0\]\.repositories\[1\]: lists "a" twice/],
    ["an empty group", "groups:\n  - id: g\n    repositories: []\n", /group g: repositories: must name at least one repository/],
    ["a group id twice", "groups:\n  - id: g\n    repositories: [a]\n  - id: g\n    repositories: [b]\n", /groups\[1\]\.id: group id "g" is defined twice/],
    [
      "a group schedule's bad cron, named by the group",
      'groups:\n  - id: el9\n    repositories: [a]\n    schedule: { cron: "0 25 * * *" }\n',
      /group el9: schedule\.cron: "0 25 \* \* \*" is not a valid cron expression/,
    ],
    [
      "a group schedule's bad zone",
      'groups:\n  - id: el9\n    repositories: [a]\n    schedule: { cron: "0 3 * * *", timezone: Europe/Pariss }\n',
      /group el9: schedule\.timezone: /,
    ],
    [
      "a group schedule's unknown placeholder",
      'groups:\n  - id: el9\n    repositories: [a]\n    schedule: { cron: "0 3 * * *", name: "el9-{week}" }\n',
      /group el9: schedule\.name: snapshot name template "el9-\{week\}" has an unknown placeholder \{week\} \(known: \{date\} \{time\} \{datetime\} \{repo_id\}\)/,
    ],
    [
      "a group schedule's name that can never be valid",
      'groups:\n  - id: el9\n    repositories: [a]\n    schedule: { cron: "0 3 * * *", name: "el9/{date}" }\n',
      /group el9: schedule\.name: snapshot name "el9\/20261231" must be/,
    ],
    ["a group schedule's unknown key", 'groups:\n  - id: el9\n    repositories: [a]\n    schedule: { cron: "0 3 * * *", nme: x }\n', /group el9: schedule/],
    ["an environment named like a repository", "environments: [dev, a]\n", /environments\[1\]: "a" is also a repository id/],
    ["an environment twice", "environments: [dev, dev]\n", /environments\[1\]: lists "dev" twice/],
    ["a hidden environment name", "environments: [.env]\n", /environments\[0\]: must be 1-63 characters/],
    ["a reserved name", "environments: [pool]\n", /environments\[0\]: "pool" is a reserved name/],
  ])("refuses %s", async (_what, yaml, message) => {
    const issues = await issuesOf({ "config.yaml": `${base}${yaml}` });
    expect(issues.join("\n")).toMatch(message);
  });

  it("reads a group schedule with its defaults ({repo_id}-{datetime}, enabled)", async () => {
    const loaded = await load({
      "config.yaml": `${base}groups:\n  - id: el9\n    repositories: [a, b]\n    schedule: { cron: "0 3 * * *", timezone: Europe/Paris }\n`,
    });
    expect(loaded.config.groups[0]!.schedule).toEqual({ enabled: true, cron: "0 3 * * *", timezone: "Europe/Paris", name: "{repo_id}-{datetime}" });
  });

  it("names the closest group on a typo", async () => {
    const loaded = await load({ "config.yaml": `${base}groups:\n  - id: el9\n    repositories: [a]\n` });
    expect(() => findGroup(loaded.config, "el8")).toThrow(/unknown group "el8": did you mean "el9"\? \(configured: el9\)/);
  });
});
