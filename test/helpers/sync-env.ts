// A repository served on 127.0.0.1, a config dir pointing at it, a fresh database: what sync tests share.
import { mkdtempSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { makeConfigDir, runCli, spawnCli, type CliResult } from "./cli.js";
import { startStaticServer, type FaultPlan, type StaticServer } from "./http-server.js";

export interface SyncEnvironment {
  upstream: string;
  base: string;
  configDir: string;
  server: StaticServer;
  db: TestDatabase;
  pg: pg.Pool;
  cli(...args: string[]): Promise<CliResult>;
  spawn(...args: string[]): ReturnType<typeof spawnCli>;
  /** spawn with more environment (e.g. a PATH with slow tools). */
  spawnWith(env: NodeJS.ProcessEnv, ...args: string[]): ReturnType<typeof spawnCli>;
  published(repoId: string, name?: string): string;
  poolFiles(): string[];
  tempFiles(): string[];
  close(): Promise<void>;
}

export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

export async function startSyncEnvironment(opts: { upstream: string; faults?: FaultPlan; repoYaml?: (url: string) => string }): Promise<SyncEnvironment> {
  const server = await startStaticServer({ root: opts.upstream, ...(opts.faults ? { faults: opts.faults } : {}) });
  const db = await createTestDatabase("sync");
  const base = mkdtempSync(join(tmpdir(), "chantal-base-"));
  const repoYaml = opts.repoYaml ?? ((url: string) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n    download_concurrency: 4\n`);
  const configDir = makeConfigDir({
    "config.yaml": `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\nrepositories:\n${repoYaml(server.url)}`,
  });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on("error", () => undefined); // DROP DATABASE ... FORCE at close() ends idle clients
  return {
    upstream: opts.upstream,
    base,
    configDir,
    server,
    db,
    pg: pool,
    cli: (...args) => runCli(["--config-dir", configDir, ...args], { env: { CHANTAL_LOG_LEVEL: "warn" } }),
    spawn: (...args) => spawnCli(["--config-dir", configDir, ...args]),
    spawnWith: (env, ...args) => spawnCli(["--config-dir", configDir, ...args], { env }),
    published: (repoId, name = "latest") => join(base, "published", repoId, name),
    // Blobs only: not the temp area, not the pool's layout file.
    poolFiles: () => listFiles(join(base, "pool")).filter((f) => !f.includes("/.tmp/") && !f.endsWith("/.chantal-pool-layout")),
    tempFiles: () => listFiles(join(base, "pool", ".tmp")),
    async close() {
      await server.close();
      await pool.end();
      await db.drop();
      rmSync(base, { recursive: true, force: true });
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}
