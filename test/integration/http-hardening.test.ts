// The real CLI against hostile upstream behaviour on 127.0.0.1 (issue 12): a trickling package fails over a short
// minimum-rate window and the retry takes over (point 13); credentials in upstream_url are refused by the config,
// naming file and key, and never reach the database (point 21).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli, type CliResult } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { NO_PROXY_VARS } from "../helpers/proxy-env.js";

let root: string;
let base: string;
let server: StaticServer;
let db: TestDatabase;
const dirs: string[] = [];
/** The first package request is answered at 200 B/s; every other request at full speed. */
let trickled: string | undefined;

function cli(dir: string, args: string[]): Promise<CliResult> {
  return runCli(["--config-dir", dir, ...args], { env: { ...NO_PROXY_VARS, CHANTAL_LOG_LEVEL: "warn" } });
}

function configDir(files: Record<string, string>): string {
  const dir = makeConfigDir(files);
  dirs.push(dir);
  return dir;
}

const head = () => `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\n`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "chantal-hostile-up-"));
  base = mkdtempSync(join(tmpdir(), "chantal-hostile-base-"));
  await generateRpmRepo(join(root, "slow"), 3, 20_000);
  await generateRpmRepo(join(root, "creds"), 2, 1_000);
  server = await startStaticServer({
    root,
    faults: (req) => {
      if (!req.path.startsWith("/slow/") || !req.path.endsWith(".rpm")) return undefined;
      trickled ??= req.path;
      return req.path === trickled && server.requestsFor(req.path).length === 1 ? { chunkBytes: 20, chunkDelayMs: 100 } : undefined;
    },
  });
  db = await createTestDatabase("hostile");
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  for (const d of [root, base, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
});

describe("a trickling upstream (point 13)", () => {
  it("fails the slow transfer over the global http: window, logs the retry naming the URL, and the retry completes the sync", async () => {
    const dir = configDir({
      "config.yaml": `${head()}repositories:\n  - id: slow\n    type: rpm\n    upstream_url: ${server.url}/slow/\n    download_concurrency: 2\n`,
      // From another file: the http: block merges like the other sections.
      "conf.d/http.yaml": "http:\n  min_rate_bytes_per_second: 1000\n  min_rate_window_seconds: 1\n",
    });
    const started = Date.now();
    const r = await cli(dir, ["repo", "sync", "--repo-id", "slow", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_downloaded: 3 } });
    // 20 KB at 200 B/s would take 100 s; the window cuts it after about one second.
    expect(Date.now() - started).toBeLessThan(30_000);
    const retry = r.stderr.split("\n").find((l) => l.includes('"msg":"retrying"'));
    expect(retry, r.stderr).toBeDefined();
    expect(retry).toContain(`transfer from ${server.url}${trickled} is too slow`);
    expect(retry).toContain("below the minimum of 1000 bytes/s");
    // The retry continued where the slow transfer stopped.
    const [, second] = server.requestsFor(trickled!);
    expect(second!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
  }, 45_000);
});

describe("credentials in upstream_url (point 21)", () => {
  it("config validate and repo sync exit 78 naming the file and key, print no password, and store nothing", async () => {
    const url = server.url.replace("http://", "http://mirror:s3cret-pw@") + "/creds/";
    const dir = configDir({
      "config.yaml": head(),
      "conf.d/creds.yaml": `repositories:\n  - id: creds\n    type: rpm\n    upstream_url: ${url}\n`,
    });
    for (const args of [
      ["config", "validate"],
      ["repo", "sync", "--repo-id", "creds"],
    ]) {
      const r = await cli(dir, args);
      expect(r.code, r.stderr).toBe(78);
      expect(r.stderr).toContain("conf.d/creds.yaml:4: repository creds: upstream_url: must not contain credentials (user:password@host)");
      expect(r.stderr).toContain("auth: { type: basic");
      expect(r.stdout + r.stderr).not.toContain("s3cret-pw");
    }
    expect(server.requests.filter((q) => q.path.startsWith("/creds/"))).toEqual([]);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const { rows } = await pool.query<{ upstream_url: string }>("SELECT upstream_url FROM chantal.repositories");
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.map((x) => x.upstream_url).join(" ")).not.toContain("s3cret-pw");
    } finally {
      await pool.end();
    }
  });
});
