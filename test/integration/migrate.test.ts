import { mkdtempSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
});
