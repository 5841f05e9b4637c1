// One PostgreSQL for the whole suite: TEST_DATABASE_URL, else the embedded server under a temp base path.
import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { acquireEmbeddedPostgres, type EmbeddedLease } from "../../core/db/embedded.js";
import { silentLogger } from "../../core/log.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Creates and drops the test databases (needs CREATEDB). */
    adminDatabaseUrl: string;
    /** The role the tests connect as, which owns its test database: the embedded server's non-superuser app role. */
    appDatabaseUrl: string;
  }
}

let lease: EmbeddedLease | undefined;
let base: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    project.provide("adminDatabaseUrl", process.env.TEST_DATABASE_URL);
    project.provide("appDatabaseUrl", process.env.TEST_APP_DATABASE_URL ?? process.env.TEST_DATABASE_URL);
    return;
  }
  base = mkdtempSync(join(tmpdir(), "chantal-test-pg-"));
  chmodSync(base, 0o755);
  lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
  project.provide("adminDatabaseUrl", lease.adminUrl);
  project.provide("appDatabaseUrl", lease.url);
}

export async function teardown(): Promise<void> {
  await lease?.release();
  if (base) rmSync(base, { recursive: true, force: true });
}
