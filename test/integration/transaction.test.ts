// withTransaction / inTransaction against a real server: commit, rollback on throw, release, a failed ROLLBACK, options.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPool } from "../../core/db/client.js";
import { inTransaction, withTransaction } from "../../core/db/transaction.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let tdb: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  tdb = await createTestDatabase("tx");
  // One client: a client not released (or a broken one handed back) would show in the next test.
  pool = await connectPool(tdb.url, { max: 1 });
  await pool.query("CREATE TABLE items (v integer NOT NULL)");
});
afterAll(async () => {
  await pool.end();
  await tdb.drop();
});

async function items(): Promise<number[]> {
  return (await pool.query("SELECT v FROM items ORDER BY v")).rows.map((r) => r.v as number);
}

describe("withTransaction", () => {
  it("commits what fn wrote and returns its value", async () => {
    await pool.query("TRUNCATE items");
    const value = await withTransaction(pool, async (c) => {
      await c.query("INSERT INTO items VALUES (1), (2)");
      return "done";
    });
    expect(value).toBe("done");
    expect(await items()).toEqual([1, 2]);
    expect(pool.idleCount).toBe(1);
  });

  it("rolls back and rethrows fn's error, then releases the client", async () => {
    await pool.query("TRUNCATE items");
    const failure = new Error("the step after the insert failed");
    await expect(
      withTransaction(pool, async (c) => {
        await c.query("INSERT INTO items VALUES (3)");
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await items()).toEqual([]);
    const inTx = await pool.query("SELECT now() = statement_timestamp() AS fresh");
    expect(inTx.rows[0].fresh).toBe(true); // the client handed back is not inside the failed transaction
  });

  it("rethrows fn's error when ROLLBACK fails too, and destroys the broken client", async () => {
    const failure = new Error("fn failed after its session died");
    const killer = new pg.Client({ connectionString: tdb.url });
    await killer.connect();
    try {
      await expect(
        withTransaction(pool, async (c) => {
          const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
          await killer.query("SELECT pg_terminate_backend($1)", [pid]);
          await new Promise((resolve) => setTimeout(resolve, 200));
          throw failure;
        }),
      ).rejects.toBe(failure);
    } finally {
      await killer.end();
    }
    // max 1: this works only when the dead client left the pool.
    expect((await pool.query("SELECT 1 AS one")).rows[0].one).toBe(1);
  });

  it("begins with the isolation level and access mode asked for", async () => {
    const modes = await withTransaction(
      pool,
      async (c) => ({
        isolation: (await c.query("SHOW transaction_isolation")).rows[0].transaction_isolation,
        readOnly: (await c.query("SHOW transaction_read_only")).rows[0].transaction_read_only,
      }),
      { isolation: "repeatable read", readOnly: true },
    );
    expect(modes).toEqual({ isolation: "repeatable read", readOnly: "on" });
    await expect(withTransaction(pool, (c) => c.query("INSERT INTO items VALUES (4)"), { readOnly: true })).rejects.toMatchObject({ code: "25006" });
  });

  it("rolls back a successful fn with commit: false", async () => {
    await pool.query("TRUNCATE items");
    const n = await withTransaction(pool, async (c) => (await c.query("INSERT INTO items VALUES (5)")).rowCount, { commit: false });
    expect(n).toBe(1);
    expect(await items()).toEqual([]);
  });
});

describe("inTransaction", () => {
  it("uses and keeps the caller's client, committing or rolling back", async () => {
    await pool.query("TRUNCATE items");
    const client = await pool.connect();
    try {
      await inTransaction(client, (c) => c.query("INSERT INTO items VALUES (6)"));
      await expect(
        inTransaction(client, async (c) => {
          await c.query("INSERT INTO items VALUES (7)");
          throw new Error("no");
        }),
      ).rejects.toThrow("no");
      expect((await client.query("SELECT v FROM items ORDER BY v")).rows.map((r) => r.v)).toEqual([6]);
    } finally {
      client.release();
    }
  });
});
