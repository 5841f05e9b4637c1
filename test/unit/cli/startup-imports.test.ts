// A sync's start-up loads only what a sync of the default configuration uses: the PAC sandbox, nodemailer, the AWS SDK,
// prom-client and openpgp are imported when a configuration asks for them (each costs 0.05–0.2 s of every run's start).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { repoRoot } from "../../helpers/cli.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "chantal-imports-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The URLs of the modules loaded by importing `module` (a path under the repository). */
async function urlsLoadedBy(module: string): Promise<string[]> {
  const record = join(dir, `${module.replaceAll("/", "_")}.txt`);
  await run(
    process.execPath,
    [
      ...(module.endsWith(".ts") ? ["--import", "tsx"] : []),
      "--import",
      "./test/helpers/record-imports.mjs",
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(`./${module}`)})`,
    ],
    { cwd: repoRoot, env: { ...process.env, CHANTAL_RECORD_IMPORTS: record } },
  );
  return readFileSync(record, "utf8").split("\n").filter(Boolean);
}

/** The npm packages loaded by importing `module` (a path under the repository). */
async function packagesLoadedBy(module: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const url of await urlsLoadedBy(module)) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) names.add(m[1]!);
  }
  return names;
}

const LAZY = ["pac-resolver", "quickjs-wasi", "nodemailer", "@aws-sdk/client-s3", "@aws-sdk/lib-storage", "prom-client", "openpgp"];

it.each(["bin/commands/repo-sync.ts", "bin/commands/repo-list.ts"])(
  "%s loads none of the optional features' packages",
  async (module) => {
    const loaded = await packagesLoadedBy(module);
    // The recording works: what every command needs is there.
    expect(loaded).toContain("pg");
    expect(loaded).toContain("yaml");
    expect(LAZY.filter((p) => loaded.has(p))).toEqual([]);
  },
  60_000,
);

// The build bundles drizzle-orm into dist/core/db/drizzle.js and the packages every command loads into
// dist/vendor/ (scripts/bundle-dependencies.mjs): the installed CLI loads none of them from node_modules, file by
// file. npm ci builds dist (prepare), so CI always checks it.
const VENDORED = ["undici", "zod", "yaml", "pg", "cron-parser", "commander"];
it.skipIf(!existsSync(join(repoRoot, "dist/bin/commands/repo-sync.js")) && process.env.CI !== "true")(
  "the built repo sync loads drizzle-orm and the vendored packages from their bundles, not from node_modules",
  async () => {
    const urls = await urlsLoadedBy("dist/bin/commands/repo-sync.js");
    const loaded = await packagesLoadedBy("dist/bin/commands/repo-sync.js");
    expect(loaded.has("drizzle-orm")).toBe(false);
    expect(VENDORED.filter((p) => loaded.has(p))).toEqual([]);
    // The bundles are what it loads instead (the recording works: saxes, not vendored, is still seen in node_modules).
    expect(VENDORED.filter((p) => !urls.some((u) => u.endsWith(`/dist/vendor/${p}.js`)))).toEqual([]);
    expect(loaded).toContain("saxes");
    expect(LAZY.filter((p) => loaded.has(p))).toEqual([]);
  },
  60_000,
);

// The sync (the rpm and apt formats, the download and publish machinery) loads while a sync's database starts
// (bin/commands/repo-sync.ts, REPOSITORY_TYPES.preload), not when the repo commands are registered.
it.each(["bin/commands/repo-sync.ts", "bin/commands/repo-list.ts", "bin/commands/repo-show.ts", "bin/commands/repo-remove.ts"])(
  "%s does not load a format's sync or the sync orchestrator at start-up",
  async (module) => {
    const urls = await urlsLoadedBy(module);
    expect(urls.some((u) => u.endsWith("/core/config/load.ts"))).toBe(true);
    const eager = ["/core/rpm/sync.ts", "/core/apt/sync.ts", "/functions/sync-repository.ts", "/core/rpm/tree-check.ts", "/core/apt/tree-check.ts"];
    expect(eager.filter((m) => urls.some((u) => u.endsWith(m)))).toEqual([]);
  },
  60_000,
);
