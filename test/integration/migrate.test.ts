// Migrations on a real PostgreSQL (core/db/migrate.ts): order, checksums, concurrency under the migration lock, abort.
import { mkdtempSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { LockClass } from "../../core/db/lock-ids.js";
import { AbortedError } from "../../core/errors.js";
import { migrate, migrationStatus, MIGRATIONS_DIR, readMigrations } from "../../core/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase("migrate");
});
afterAll(async () => {
  await tdb.drop();
});

describe("migrate", () => {
  it("applies every migration once even when several processes start together", async () => {
    const pools = Array.from({ length: 5 }, () => new pg.Pool({ connectionString: tdb.url, max: 1 }));
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const known = (await readMigrations()).map((m) => m.id);
      expect(results.flat().sort()).toEqual(known.sort());
      expect(results.filter((r) => r.length > 0)).toHaveLength(1);
      const status = await migrationStatus(pools[0]!);
      expect(status.pending).toEqual([]);
      expect(status.current).toBe(known.at(-1));
      const tables = await pools[0]!.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'chantal' ORDER BY 1`);
      expect(tables.rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining(["repositories", "packages", "repository_packages", "snapshots", "snapshot_packages", "sync_runs", "schema_migrations"]),
      );
      expect(await migrate(pools[1]!)).toEqual([]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("reports pending migrations and refuses a database newer than the code", async () => {
    const extra = mkdtempSync(join(tmpdir(), "chantal-mig-"));
    cpSync(MIGRATIONS_DIR, extra, { recursive: true });
    writeFileSync(join(extra, "9999_future.sql"), "CREATE TABLE chantal.future (id int);");
    const pool = new pg.Pool({ connectionString: tdb.url, max: 1 });
    try {
      const withFuture = await readMigrations(extra);
      expect((await migrationStatus(pool, withFuture)).pending).toEqual(["9999_future"]);
      expect(await migrate(pool, withFuture)).toEqual(["9999_future"]);
      const status = await migrationStatus(pool);
      expect(status.unknown).toEqual(["9999_future"]);
      await expect(migrate(pool)).rejects.toThrow(/does not know \(9999_future\): upgrade Chantal/);
    } finally {
      await pool.query("DROP TABLE IF EXISTS chantal.future; DELETE FROM chantal.schema_migrations WHERE id = '9999_future'");
      await pool.end();
    }
  });

  it("rolls a failing migration back whole", async () => {
    const extra = mkdtempSync(join(tmpdir(), "chantal-mig-"));
    cpSync(MIGRATIONS_DIR, extra, { recursive: true });
    writeFileSync(join(extra, "9998_broken.sql"), "CREATE TABLE chantal.half (id int); SELECT no_such_function();");
    const pool = new pg.Pool({ connectionString: tdb.url, max: 1 });
    try {
      await expect(migrate(pool, await readMigrations(extra))).rejects.toThrow(/migration 9998_broken failed/);
      const half = await pool.query(`SELECT to_regclass('chantal.half') AS t`);
      expect(half.rows[0].t).toBeNull();
      expect((await migrationStatus(pool)).pending).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it("while a restore holds the migration lock: a current schema starts at once; a pending migration waits, says so naming the holder, and a signal ends the wait", async () => {
    const current = await createTestDatabase("mlock");
    const fresh = await createTestDatabase("mlock");
    const holderOf = async (url: string) => {
      const c = new pg.Client({ connectionString: url, application_name: "chantal-restore" });
      await c.connect();
      await c.query("BEGIN");
      await c.query("SELECT pg_advisory_xact_lock($1, 0)", [LockClass.migrate]);
      return c;
    };
    const lines: { msg: string }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const pools = [new pg.Pool({ connectionString: current.url, max: 1 }), new pg.Pool({ connectionString: fresh.url, max: 1 })];
    const holders: pg.Client[] = [];
    try {
      await migrate(pools[0]!);
      holders.push(await holderOf(current.url), await holderOf(fresh.url));
      // current: no lock needed, no wait
      expect(await migrate(pools[0]!, undefined, { log })).toEqual([]);
      expect(lines).toEqual([]);
      // pending: waits (logged once, naming the holder) until interrupted
      const ac = new AbortController();
      const waiting = migrate(pools[1]!, undefined, { log, signal: ac.signal });
      const outcome = waiting.then(
        () => "migrated",
        (err: Error) => err,
      );
      await new Promise((r) => setTimeout(r, 1_000));
      expect(lines.map((l) => l.msg)).toEqual([
        expect.stringMatching(/^waiting for the database maintenance lock: chantal-restore \(database backend \d+\) is migrating or restoring the database$/),
      ]);
      const t0 = Date.now();
      ac.abort(new AbortedError("interrupted by SIGTERM", "SIGTERM"));
      const err = await outcome;
      expect(err).toBeInstanceOf(AbortedError);
      expect(Date.now() - t0).toBeLessThan(2_000);
      // and once the holder is gone it migrates
      await holders[1]!.query("ROLLBACK");
      expect((await migrate(pools[1]!)).length).toBeGreaterThan(0);
    } finally {
      for (const h of holders) await h.end().catch(() => undefined);
      for (const p of pools) await p.end();
      await current.drop();
      await fresh.drop();
    }
  });

  it("0004 removes credentials an earlier version stored in upstream_url", async () => {
    const db = await createTestDatabase("scrub");
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const all = await readMigrations();
      await migrate(
        pool,
        all.filter((m) => m.id < "0004"),
      );
      await pool.query(
        `INSERT INTO chantal.repositories (repo_id, type, upstream_url) VALUES ('a', 'rpm', 'https://user:s3cr%40t@cdn.example.org/rhel/'), ('b', 'rpm', 'http://mirror.example.org/x@y/')`,
      );
      expect(await migrate(pool, all)).toContain("0004_scrub_upstream_credentials");
      const rows = (await pool.query(`SELECT repo_id, upstream_url FROM chantal.repositories ORDER BY repo_id`)).rows;
      expect(rows).toEqual([
        { repo_id: "a", upstream_url: "https://cdn.example.org/rhel/" },
        { repo_id: "b", upstream_url: "http://mirror.example.org/x@y/" },
      ]);
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
