// config init through the real CLI: what it writes validates, matches examples/config/, and nothing is ever overwritten.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config/load.js";
import { INIT_FILES } from "../../core/config/init-files.js";
import { repoRoot, runCli } from "../helpers/cli.js";

const scratch = mkdtempSync(join(tmpdir(), "chantal-init-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("config init", () => {
  it("writes config.yaml and conf.d/example.yaml into a new directory, they validate, and it prints the next commands", async () => {
    const dir = join(scratch, "fresh", "etc-chantal");
    const r = await runCli(["config", "init", "--config-dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${join(dir, "config.yaml")}`);
    expect(r.stdout).toContain(`wrote ${join(dir, "conf.d/example.yaml")}`);
    expect(r.stdout).toContain(`chantal-run --config-dir ${dir} config validate`);
    expect(r.stdout).toMatch(/repo sync --repo-id rocky9-baseos/);
    const v = await runCli(["config", "validate", "--config-dir", dir, "--json"]);
    expect(v.code, v.stderr).toBe(0);
    // Both repositories are disabled: nothing is scheduled until the user enables one.
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, files: ["config.yaml", "conf.d/example.yaml"], repositories: 2, scheduled: 0 });
    // The starter keeps the pool on this host's disk: AWS refuses it (examples/aws/ is the cloud one).
    const aws = await runCli(["config", "validate", "--config-dir", dir, "--target", "aws"]);
    expect(aws.code).toBe(78);
    expect(aws.stderr).toMatch(/storage\.backend: on AWS: is the filesystem/);
    const repos = (await loadConfig({ configDir: dir, env: {} })).config.repositories;
    expect(repos.map((x) => [x.id, x.type, x.enabled])).toEqual([
      ["rocky9-baseos", "rpm", false],
      ["debian-bookworm-updates", "apt", false],
    ]);
  });

  it("refuses to overwrite an existing file, names it, exits 1, and writes nothing", async () => {
    const dir = join(scratch, "has-conf-d");
    mkdirSync(join(dir, "conf.d"), { recursive: true });
    writeFileSync(join(dir, "conf.d/example.yaml"), "# mine\n");
    const r = await runCli(["config", "init", "--config-dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${join(dir, "conf.d/example.yaml")} already exists`);
    expect(r.stdout).toBe("");
    expect(readFileSync(join(dir, "conf.d/example.yaml"), "utf8")).toBe("# mine\n");
    expect(existsSync(join(dir, "config.yaml"))).toBe(false);

    const again = join(scratch, "twice");
    expect((await runCli(["config", "init", "--config-dir", again])).code).toBe(0);
    const before = readFileSync(join(again, "config.yaml"), "utf8");
    const second = await runCli(["config", "init", "--config-dir", again]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`${join(again, "config.yaml")} already exists`);
    expect(readFileSync(join(again, "config.yaml"), "utf8")).toBe(before);
  });

  it("stays in step with examples/config/: the same sections and repositories, only disabled", async () => {
    const dir = join(scratch, "compare");
    for (const f of INIT_FILES) {
      mkdirSync(join(dir, f.path, ".."), { recursive: true });
      writeFileSync(join(dir, f.path), f.text);
    }
    const init = (await loadConfig({ configDir: dir, env: {} })).config;
    const example = (await loadConfig({ configDir: join(repoRoot, "examples/config"), env: {} })).config;
    expect(init.scheduler).toEqual(example.scheduler);
    expect(init.storage.base_path).toBe(example.storage.base_path);
    for (const repo of init.repositories) {
      const twin = example.repositories.find((x) => x.id === repo.id);
      expect(twin, `examples/config has no repository ${repo.id}`).toBeDefined();
      const { enabled, description, ...rest } = repo;
      expect(enabled).toBe(false);
      expect(description).toBeTruthy();
      const { enabled: _e, description: _d, ...twinRest } = twin!;
      expect(rest).toEqual(twinRest);
    }
  });
});
