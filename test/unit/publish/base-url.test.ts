// publish.base_url: accepted and refused values, merged across files, a repository's own replacing the global one.
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { ConfigError } from "../../../core/errors.js";
import { baseUrlOf } from "../../../core/publish/targets.js";
import { makeConfigDir } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function load(files: Record<string, string>) {
  const dir = makeConfigDir(files);
  dirs.push(dir);
  return loadConfig({ configDir: dir, env: {} });
}

const repos =
  "repositories:\n  - { id: a, type: rpm, upstream_url: http://up.example/a/ }\n  - { id: b, type: rpm, upstream_url: http://up.example/b/, publish: { base_url: http://b.mirror/ } }\n";

describe("publish.base_url", () => {
  it.each<[string, Record<string, string>, { a: string | undefined; b: string | undefined }]>([
    ["unset: none for a, b's own", { "config.yaml": repos }, { a: undefined, b: "http://b.mirror/" }],
    [
      "global: a gets it, b keeps its own",
      { "config.yaml": `publish:\n  base_url: https://mirror.internal/\n${repos}` },
      { a: "https://mirror.internal/", b: "http://b.mirror/" },
    ],
    [
      "set in conf.d, merged like any section",
      { "config.yaml": repos, "conf.d/publish.yaml": "publish: { base_url: http://m/ }\n" },
      { a: "http://m/", b: "http://b.mirror/" },
    ],
  ])("%s", async (_, files, want) => {
    const { config } = await load(files);
    expect(baseUrlOf(config, config.repositories[0]!)).toBe(want.a);
    expect(baseUrlOf(config, config.repositories[1]!)).toBe(want.b);
  });

  it.each([
    ["ftp://mirror/", /publish\.base_url: must be an http:\/\/ or https:\/\/ URL/],
    ["mirror.internal", /publish\.base_url: must be an http:\/\/ or https:\/\/ URL/],
  ])("refuses %s", async (url, message) => {
    const err = await load({ "config.yaml": `publish: { base_url: "${url}" }\n` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it("refuses an unknown key in the block", async () => {
    const err = await load({ "config.yaml": "publish: { url: http://m/ }\n" }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/publish.*url/);
  });
});
