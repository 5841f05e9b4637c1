// The named writes of a repository row (core/db/repositories.ts) and orm()'s errors, on a real migrated database.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DrizzleQueryError } from "../../core/db/drizzle.js";
import { connectPool } from "../../core/db/client.js";
import { migrate } from "../../core/db/migrate.js";
import { orm } from "../../core/db/orm.js";
import {
  deleteRepositoryRow,
  ensureRepository,
  findRepositoryRow,
  forgetAllChecksums,
  forgetIndexChecksums,
  forgetSyncedState,
  recordIndexChecksum,
  recordPublished,
  repositoryChecksums,
} from "../../core/db/repositories.js";
import { repositories } from "../../core/db/schema.js";
import type { RepositoryConfig } from "../../core/config/schema.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let tdb: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  tdb = await createTestDatabase("repos");
  pool = await connectPool(tdb.url, { max: 2 });
  await migrate(pool);
});
afterAll(async () => {
  await pool.end();
  await tdb.drop();
});
beforeEach(async () => {
  await pool.query("TRUNCATE chantal.repositories CASCADE");
});

const repo = (id: string, upstream = `http://127.0.0.1/${id}/`) => ({ id, type: "rpm", upstream_url: upstream }) as RepositoryConfig;

async function rawRow(id: number) {
  return (await pool.query(`SELECT index_checksum, published_checksum, last_synced_at, updated_at FROM chantal.repositories WHERE id = $1`, [id])).rows[0];
}

describe("repository rows", () => {
  it("ensureRepository creates the row once and moves updated_at only when the upstream changes", async () => {
    const a = await ensureRepository(pool, repo("a"));
    expect(a).toEqual({ id: expect.any(Number), repoId: "a", type: "rpm", upstreamUrl: "http://127.0.0.1/a/", indexChecksum: null });
    await pool.query(`UPDATE chantal.repositories SET updated_at = '2020-01-01Z' WHERE id = $1`, [a.id]);
    expect(await ensureRepository(pool, repo("a"))).toEqual(a);
    expect((await rawRow(a.id)).updated_at).toEqual(new Date("2020-01-01Z"));
    const moved = await ensureRepository(pool, repo("a", "http://127.0.0.1/elsewhere/"));
    expect(moved).toMatchObject({ id: a.id, upstreamUrl: "http://127.0.0.1/elsewhere/" });
    expect((await rawRow(a.id)).updated_at.getTime()).toBeGreaterThan(new Date("2020-01-01Z").getTime());
    expect(await findRepositoryRow(pool, "a")).toEqual(moved);
    expect(await findRepositoryRow(pool, "nope")).toBeNull();
  });

  it("records the synced index and the published one, and forgets them for the rows asked", async () => {
    const a = await ensureRepository(pool, repo("a"));
    const b = await ensureRepository(pool, repo("b"));
    const client = await pool.connect();
    try {
      await recordIndexChecksum(client, a.id, "sha256:aaa");
      await recordIndexChecksum(client, b.id, "sha256:bbb");
    } finally {
      client.release();
    }
    expect((await rawRow(a.id)).last_synced_at).toBeInstanceOf(Date);
    await recordPublished(pool, a.id, "sha256:aaa");
    expect(await repositoryChecksums(pool, a.id)).toEqual({ indexChecksum: "sha256:aaa", publishedChecksum: "sha256:aaa" });
    expect(await repositoryChecksums(pool, 999_999)).toBeNull();

    await forgetIndexChecksums(pool, [a.id]);
    await forgetIndexChecksums(pool, []);
    expect(await repositoryChecksums(pool, a.id)).toEqual({ indexChecksum: null, publishedChecksum: "sha256:aaa" });
    expect(await repositoryChecksums(pool, b.id)).toEqual({ indexChecksum: "sha256:bbb", publishedChecksum: null });

    await recordPublished(pool, b.id, "sha256:bbb");
    const c = await pool.connect();
    try {
      await forgetAllChecksums(c);
    } finally {
      c.release();
    }
    expect(await repositoryChecksums(pool, b.id)).toEqual({ indexChecksum: null, publishedChecksum: null });
    expect((await rawRow(b.id)).last_synced_at).toBeInstanceOf(Date); // a restore keeps when it was last synced
  });

  it("forgetSyncedState clears what was synced and published; deleteRepositoryRow removes the row", async () => {
    const a = await ensureRepository(pool, repo("a"));
    const client = await pool.connect();
    try {
      await recordIndexChecksum(client, a.id, "sha256:aaa");
    } finally {
      client.release();
    }
    await recordPublished(pool, a.id, "sha256:aaa");
    await forgetSyncedState(pool, a.id);
    expect(await rawRow(a.id)).toMatchObject({ index_checksum: null, published_checksum: null, last_synced_at: null });
    await deleteRepositoryRow(pool, a.id);
    expect(await findRepositoryRow(pool, "a")).toBeNull();
  });
});

describe("orm()", () => {
  it("fails with the driver's error (SQLSTATE, message), not drizzle's wrapper naming the query and its parameters", async () => {
    await ensureRepository(pool, repo("a"));
    const err = await orm(pool, (db) => db.insert(repositories).values({ repoId: "a", type: "rpm", upstreamUrl: "http://secret@127.0.0.1/" })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(pg.DatabaseError);
    expect(err).not.toBeInstanceOf(DrizzleQueryError);
    expect(err).toMatchObject({ code: "23505", constraint: "repositories_repo_id_key" });
    expect((err as Error).message).not.toMatch(/secret|Failed query/);
  });
});
