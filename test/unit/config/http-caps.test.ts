// http.max_connections_per_host and http.max_total_connections: accepted in the global http: block only, validated.
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { ConfigError } from "../../../core/errors.js";
import { makeConfigDir } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const repo = "repositories:\n  - id: r\n    type: rpm\n    upstream_url: http://127.0.0.1:1/r/\n";

async function outcome(yaml: string): Promise<string> {
  const dir = makeConfigDir({ "config.yaml": `storage:\n  base_path: ./data\n${yaml}` });
  dirs.push(dir);
  try {
    const { config } = await loadConfig({ configDir: dir, env: {} });
    return `ok ${JSON.stringify(config.http ?? {})}`;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

describe("http connection caps", () => {
  const cases: [what: string, yaml: string, expected: RegExp][] = [
    ["both set", "http:\n  max_connections_per_host: 4\n  max_total_connections: 16\n", /^ok \{"max_connections_per_host":4,"max_total_connections":16\}$/],
    ["unset: no caps", "", /^ok \{\}$/],
    ["zero per host", "http:\n  max_connections_per_host: 0\n", /http\.max_connections_per_host/],
    ["not an integer", "http:\n  max_total_connections: 2.5\n", /http\.max_total_connections/],
    ["per host above the total", "http:\n  max_connections_per_host: 8\n  max_total_connections: 4\n", /more than http\.max_total_connections \(4\)/],
    ["in a repository's http block", `${repo}    http:\n      max_connections_per_host: 2\n`, /max_connections_per_host/],
  ];
  for (const [what, yaml, expected] of cases) it(what, async () => expect(await outcome(yaml)).toMatch(expected));
});
