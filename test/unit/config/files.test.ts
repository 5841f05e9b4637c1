// The one rule for which files a configuration directory holds, on real directories, and the loader and S3 listing using it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { configFiles, isConfigFilePath } from "../../../core/config/files.js";
import { loadConfig } from "../../../core/config/load.js";
import { isConfigFileName } from "../../../core/cloud/config-source.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A directory with these files (null: a directory of that name). */
function dirWith(entries: Record<string, string | null>): string {
  const dir = mkdtempSync(join(tmpdir(), "chantal-files-"));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(entries)) {
    if (text === null) mkdirSync(join(dir, rel), { recursive: true });
    else {
      mkdirSync(join(dir, rel, ".."), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
  }
  return dir;
}

describe("configFiles", () => {
  it.each<[string, Record<string, string | null>, string[]]>([
    ["no conf.d", { "config.yaml": "" }, ["config.yaml"]],
    ["an empty conf.d", { "config.yaml": "", "conf.d": null }, ["config.yaml"]],
    ["no config.yaml: listed all the same, the caller reports it", { "conf.d/a.yaml": "" }, ["config.yaml", "conf.d/a.yaml"]],
    [
      "sorted by name, not by number or case",
      { "config.yaml": "", "conf.d/20-b.yaml": "", "conf.d/10-a.yaml": "", "conf.d/3-c.yaml": "", "conf.d/B.yaml": "", "conf.d/a.yaml": "" },
      ["config.yaml", "conf.d/10-a.yaml", "conf.d/20-b.yaml", "conf.d/3-c.yaml", "conf.d/B.yaml", "conf.d/a.yaml"],
    ],
    [
      ".yaml and .yml, nothing else",
      { "config.yaml": "", "conf.d/a.yml": "", "conf.d/b.yaml": "", "conf.d/c.json": "", "conf.d/d.yaml.bak": "", "conf.d/e.YAML": "", "conf.d/README": "" },
      ["config.yaml", "conf.d/a.yml", "conf.d/b.yaml"],
    ],
    [
      "hidden files skipped (editor locks, macOS ._ copies)",
      { "config.yaml": "", "conf.d/.#a.yaml": "", "conf.d/._a.yaml": "", "conf.d/.hidden.yml": "", "conf.d/a.yaml": "" },
      ["config.yaml", "conf.d/a.yaml"],
    ],
    [
      "only conf.d itself, not its subdirectories' files",
      { "config.yaml": "", "conf.d/sub/x.yaml": "", "conf.d/y.yaml": "" },
      ["config.yaml", "conf.d/y.yaml"],
    ],
    ["other YAML beside config.yaml is not configuration", { "config.yaml": "", "other.yaml": "", "config.yml": "" }, ["config.yaml"]],
  ])("%s", async (_what, entries, expected) => {
    expect(await configFiles(dirWith(entries))).toEqual(expected);
  });

  it("throws when conf.d cannot be read as a directory", async () => {
    await expect(configFiles(dirWith({ "config.yaml": "", "conf.d": "a file" }))).rejects.toMatchObject({ code: "ENOTDIR" });
  });
});

describe("isConfigFilePath (an S3 listing of the configuration prefix)", () => {
  it.each<[string, boolean]>([
    ["config.yaml", true],
    ["conf.d/10-repos.yaml", true],
    ["conf.d/10-repos.yml", true],
    ["config.yml", false],
    ["conf.d/.#10-repos.yaml", false],
    ["conf.d/._10-repos.yaml", false],
    ["conf.d/sub/x.yaml", false],
    ["conf.d/notes.txt", false],
    ["conf.d/", false],
    ["other/config.yaml", false],
  ])("%s -> %s", (rel, expected) => {
    expect(isConfigFilePath(rel)).toBe(expected);
    expect(isConfigFileName(rel)).toBe(expected);
  });
});

it("the loader reads what configFiles lists: a hidden conf.d file is not parsed", async () => {
  const repo = "repositories:\n  - id: a\n    type: rpm\n    upstream_url: http://mirror.example.org/a\n";
  const dir = dirWith({
    "config.yaml": "storage: {}\n",
    "conf.d/10-a.yaml": repo,
    "conf.d/._10-a.yaml": "\u0000\u0005binary: [",
    "conf.d/.#10-a.yaml": "not: [yaml",
  });
  const loaded = await loadConfig({ configDir: dir, env: {} });
  expect(loaded.files).toEqual(await configFiles(dir));
  expect(loaded.files).toEqual(["config.yaml", "conf.d/10-a.yaml"]);
  expect(loaded.config.repositories.map((r) => r.id)).toEqual(["a"]);
});
