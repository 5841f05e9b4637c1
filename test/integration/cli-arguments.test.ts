// Issue 13.6 through the real CLI: a positional repository id, usage errors (exit 2) for bad numbers and unknown ids.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { makeConfigDir, runCli } from "../helpers/cli.js";

let tdb: TestDatabase;
let dir: string;
const cli = (...args: string[]) => runCli(["--config-dir", dir, ...args], { env: { TEST_URL: tdb.url } });

beforeAll(async () => {
  tdb = await createTestDatabase("cliargs");
  dir = makeConfigDir({
    "config.yaml":
      `storage:\n  base_path: ./data\ndatabase:\n  url: \${TEST_URL}\nrepositories:\n` +
      `  - id: rhel9-baseos\n    type: rpm\n    upstream_url: http://127.0.0.1:9/rhel9\n` +
      `  - id: rhel9-appstream\n    type: rpm\n    upstream_url: http://127.0.0.1:9/appstream\n`,
  });
});
afterAll(async () => {
  await tdb.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a positional repository id", () => {
  it("works like --repo-id (repo show, proxy explain)", async () => {
    for (const args of [
      ["repo", "show", "rhel9-baseos", "--json"],
      ["proxy", "explain", "rhel9-baseos", "--json"],
    ]) {
      const positional = await cli(...args);
      const option = await cli(...args.slice(0, 2), "--repo-id", ...args.slice(2));
      expect(positional.code, positional.stderr).toBe(0);
      expect(option.code, option.stderr).toBe(0);
      expect(positional.stdout).toContain("rhel9-baseos");
      expect(Object.keys(JSON.parse(positional.stdout))).toEqual(Object.keys(JSON.parse(option.stdout)));
    }
  });

  it("the same id in both forms is accepted; two different ids are a usage error", async () => {
    expect((await cli("repo", "show", "rhel9-baseos", "--repo-id", "rhel9-baseos", "--json")).code).toBe(0);
    for (const verb of [
      ["repo", "sync"],
      ["repo", "show"],
      ["snapshot", "create"],
      ["publish", "repo"],
      ["repo", "history"],
    ]) {
      const r = await cli(...verb, "rhel9-baseos", "--repo-id", "rhel9-appstream");
      expect(r.code, verb.join(" ")).toBe(2);
      expect(r.stderr).toContain('error: the repository id is given twice, "rhel9-baseos" and --repo-id rhel9-appstream: give it once');
    }
  });

  it("a command that needs an id refuses neither form with exit 2; help shows both", async () => {
    const r = await cli("repo", "show");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: missing repository id: give it as the argument or with --repo-id ID");
    const help = await cli("snapshot", "create", "--help");
    expect(help.stdout).toContain("Usage: chantal-run snapshot create [options] [repo-id]");
    expect(help.stdout).toMatch(/--repo-id <id> +repository \(required unless --group\)/);
    const none = await cli("snapshot", "create");
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("error: missing repository id: give it as the argument, with --repo-id ID, or --group ID");
  });
});

describe("usage errors exit 2 with a message", () => {
  it("a bad --wait, a negative or non-numeric --limit", async () => {
    const wait = await cli("repo", "sync", "rhel9-baseos", "--wait", "abc");
    expect(wait.code).toBe(2);
    expect(wait.stderr).toContain('error: --wait takes a number of seconds, not "abc"');
    for (const limit of ["-1", "abc", "0", "2.5"]) {
      const r = await cli("repo", "history", "--limit", limit);
      expect(r.code, limit).toBe(2);
      expect(r.stderr).toContain(`error: option '--limit <n>' argument '${limit}' is invalid. expected a whole number ≥`);
    }
    expect((await cli("repo", "history", "--limit", "3")).code).toBe(0);
  });

  it("an unknown id in a read command names it and the closest configured id", async () => {
    for (const args of [
      ["repo", "history", "rhel9-basos"],
      ["repo", "show", "rhel9-basos"],
      ["snapshot", "list", "--repo-id", "rhel9-basos"],
      ["proxy", "explain", "rhel9-basos"],
    ]) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toBe('error: unknown repository "rhel9-basos": did you mean "rhel9-baseos"? (configured: rhel9-baseos, rhel9-appstream)\n');
    }
    const far = await cli("repo", "show", "debian12");
    expect(far.stderr).toBe('error: unknown repository "debian12" (configured: rhel9-baseos, rhel9-appstream)\n');
  });
});

describe("help", () => {
  it("`help repo sync` is the sync help: examples, global options, required options marked", async () => {
    const viaHelp = await runCli(["help", "repo", "sync"]);
    const viaFlag = await runCli(["repo", "sync", "--help"]);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaHelp.stdout).toContain("Usage: chantal-run repo sync [options] [repo-id]");
    expect(viaHelp.stdout).toMatch(/Global Options:\n(.*\n)*  -c, --config-dir <dir> /);
    expect(viaHelp.stdout).toMatch(/Examples:\n  chantal-run repo sync rhel9-baseos\n/);
    const del = await runCli(["snapshot", "delete", "--help"]);
    expect(del.stdout).toMatch(/--name <name> +snapshot \(required\)/);
    expect(del.stdout).toContain("-v, --verbose");
    expect(del.stdout).toContain("Examples:\n  chantal-run snapshot delete rhel9-baseos --name");
  });
});

describe("config validate", () => {
  it("names a repository by id with the file's line, and suggests the closest key and time zone", async () => {
    const bad = makeConfigDir({
      "config.yaml": "storage:\n  base_path: ./data\n",
      "conf.d/a.yaml":
        "repositories:\n  - id: rhel9-baseos\n    type: rpm\n    upstream_url: http://127.0.0.1:9/x\n    download_concurency: 4\n    schedule:\n      cron: '0 2 * * *'\n      timezone: Europe/Berln\n",
    });
    const r = await runCli(["--config-dir", bad, "config", "validate"]);
    rmSync(bad, { recursive: true, force: true });
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(
      'error: conf.d/a.yaml:8: repository rhel9-baseos: schedule.timezone: "Europe/Berln" is not a known IANA time zone (did you mean Europe/Berlin?)\n' +
        "error: conf.d/a.yaml:5: repository rhel9-baseos: download_concurency: unknown key (did you mean download_concurrency?)\n",
    );
  });
});
