// The least an external database's role needs (README "The database"): owning an existing schema chantal, nothing on the database.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { migrate } from "../../core/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const role = `chantal_schema_only_${randomBytes(4).toString("hex")}`;
const password = randomBytes(12).toString("hex");
let tdb: TestDatabase;
let roleUrl: string;

async function asAdmin<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const u = new URL(inject("adminDatabaseUrl"));
  u.pathname = `/${database}`;
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  tdb = await createTestDatabase("schema_only");
  const database = new URL(tdb.url).pathname.slice(1);
  await asAdmin(database, async (c) => {
    await c.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}'`);
    await c.query(`CREATE SCHEMA chantal AUTHORIZATION ${role}`);
    const { rows } = await c.query(`SELECT has_database_privilege($1, current_database(), 'CREATE') AS c`, [role]);
    expect(rows).toEqual([{ c: false }]);
  });
  const u = new URL(tdb.url);
  u.username = role;
  u.password = password;
  roleUrl = u.toString();
});

afterAll(async () => {
  await tdb?.drop();
  await asAdmin("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
});

describe("a role that only owns the schema chantal", () => {
  it("applies the migrations, then finds nothing to do", async () => {
    const pool = new pg.Pool({ connectionString: roleUrl, max: 1 });
    try {
      expect((await migrate(pool)).length).toBeGreaterThan(0);
      expect(await migrate(pool)).toEqual([]);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'chantal'`);
      expect(rows[0].n).toBeGreaterThan(5);
    } finally {
      await pool.end();
    }
  });
});
