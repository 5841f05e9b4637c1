// storage.s3 and backup.s3 share one connection schema: both accept its fields with the same rules and defaults,
// storage.s3 alone has bucket and prefix, and the YAML written for either block stays valid.
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { ConfigError } from "../../../core/errors.js";
import { makeConfigDir } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function load(yaml: string) {
  const dir = makeConfigDir({ "config.yaml": yaml });
  dirs.push(dir);
  return (await loadConfig({ configDir: dir, env: {} })).config;
}

async function issuesOf(yaml: string): Promise<string[]> {
  try {
    await load(yaml);
  } catch (err) {
    // Without the line number, which is the YAML's business, not the schema's.
    if (err instanceof ConfigError) return err.message.split("\n").map((i) => i.replace(/^config\.yaml:\d+:/, "config.yaml:"));
    throw err;
  }
  return [];
}

const CONNECTION = "{ endpoint: https://minio.internal:9000, region: us-east-1, force_path_style: true }";

describe("the S3 connection of storage.s3 and backup.s3", () => {
  it("both blocks read the same fields the same way (the README's examples)", async () => {
    const config = await load(
      `storage:\n  backend: s3\n  s3: { bucket: b-1, ${CONNECTION.slice(2)}\nbackup:\n  target: s3://chantal-backups/prod\n  s3: ${CONNECTION}\n`,
    );
    const connection = { endpoint: "https://minio.internal:9000", region: "us-east-1", force_path_style: true };
    expect(config.backup.s3).toEqual(connection);
    expect(config.storage.s3).toEqual({ bucket: "b-1", prefix: "", ...connection });
  });

  it("force_path_style defaults to false in both", async () => {
    const config = await load("storage:\n  s3: { bucket: b-1 }\nbackup:\n  s3: { region: eu-west-1 }\n");
    expect(config.backup.s3).toEqual({ region: "eu-west-1", force_path_style: false });
    expect(config.storage.s3).toEqual({ bucket: "b-1", prefix: "", force_path_style: false });
  });

  it.each([
    ["backup:\n  s3: { endpoint: localhost:9000 }\n", "config.yaml: backup.s3.endpoint: must be an http:// or https:// URL"],
    ["storage:\n  s3: { bucket: b-1, endpoint: localhost:9000 }\n", "config.yaml: storage.s3.endpoint: must be an http:// or https:// URL"],
    ["backup:\n  s3: { region: '' }\n", "config.yaml: backup.s3.region:"],
    ["storage:\n  s3: { bucket: b-1, region: '' }\n", "config.yaml: storage.s3.region:"],
    ["backup:\n  s3: { force_path_style: yes-please }\n", "config.yaml: backup.s3.force_path_style:"],
    // bucket and prefix belong to storage.s3; a backup's bucket and prefix are in its s3:// target.
    ["backup:\n  s3: { bucket: b-1 }\n", "config.yaml: backup.s3.bucket: unknown key"],
    ["backup:\n  s3: { prefix: x }\n", "config.yaml: backup.s3.prefix: unknown key"],
  ])("%j: %s", async (yaml, issue) => {
    const issues = await issuesOf(yaml);
    expect(
      issues.some((i) => i.startsWith(issue)),
      issues.join("\n"),
    ).toBe(true);
  });
});
