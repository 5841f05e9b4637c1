// Connecting to a saturated PostgreSQL: a start waits with backoff while the server refuses new sessions, fails at once for anything else; a whole sync runs on one pooled connection.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { connectPool } from "../../core/db/client.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startSyncEnvironment } from "../helpers/sync-env.js";

let db: TestDatabase;
const name = () => new URL(db.url).pathname.slice(1);

async function asAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  db = await createTestDatabase("connect");
  await asAdmin(`ALTER DATABASE ${name()} CONNECTION LIMIT 1`);
});

afterAll(async () => {
  await db?.drop();
});

describe("connectPool against a database at its connection limit", () => {
  it("waits with backoff until a session frees up, and says so once", async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    const warnings: string[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => warnings.push(line) });
    const started = Date.now();
    setTimeout(() => void holder.end(), 1500);
    const pool = await connectPool(db.url, { retrySeconds: 30, log });
    try {
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect((await pool.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    } finally {
      await pool.end();
    }
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!).msg).toMatch(/^PostgreSQL refuses new connections \(.*too many connections.*\): retrying for up to 30 s$/);
  });

  it("fails at once without a retry budget, naming the server and the reason", async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      const err = await connectPool(db.url, { retrySeconds: 0 }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/^cannot connect to PostgreSQL at .*: .*too many connections/);
    } finally {
      await holder.end();
    }
  });

  it("never retries a wrong password", async () => {
    const u = new URL(db.url);
    u.password = "wrong-password";
    const started = Date.now();
    const err = await connectPool(u.toString(), { retrySeconds: 30 }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^cannot connect to PostgreSQL/);
    expect((err as Error).message).not.toContain("wrong-password");
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("database.max_connections", () => {
  it("a sync, a snapshot and its publish run on one pooled connection", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "chantal-connect-"));
    await generateRpmRepo(join(scratch, "upstream"), 12, 2_000, { version: "1.0" });
    const env = await startSyncEnvironment({ upstream: join(scratch, "upstream") });
    try {
      const file = join(env.configDir, "config.yaml");
      writeFileSync(file, readFileSync(file, "utf8").replace("database:\n", "database:\n  max_connections: 1\n"));
      for (const args of [
        ["repo", "sync", "--repo-id", "r1"],
        ["snapshot", "create", "r1", "--name", "s1"],
        ["publish", "snapshot", "r1", "--name", "s1"],
        ["repo", "sync", "--repo-id", "r1"],
      ]) {
        const r = await env.cli(...args);
        expect(r.stderr, args.join(" ")).toBe("");
        expect(r.code, args.join(" ")).toBe(0);
      }
    } finally {
      await env.close();
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);
});
