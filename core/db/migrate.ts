// Applies committed SQL migrations once, in order, in one transaction, serialized across processes by an advisory lock.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import { DatabaseError } from "../errors.js";
import { packageRoot } from "../package-info.js";
import { LockClass } from "./lock-ids.js";

export const MIGRATIONS_DIR = join(packageRoot, "core", "db", "migrations");

export interface Migration {
  id: string;
  sql: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (f) => ({ id: f.replace(/\.sql$/, ""), sql: await readFile(join(dir, f), "utf8") })));
}

export interface MigrationStatus {
  current: string | null;
  applied: { id: string; appliedAt: Date }[];
  pending: string[];
  /** Applied ids this version does not know: the database is newer than the code. */
  unknown: string[];
}

async function appliedMigrations(client: pg.ClientBase): Promise<{ id: string; appliedAt: Date }[]> {
  const exists = await client.query(`SELECT to_regclass('chantal.schema_migrations') AS t`);
  if (!exists.rows[0].t) return [];
  const r = await client.query(`SELECT id, applied_at FROM chantal.schema_migrations ORDER BY id`);
  return r.rows.map((row) => ({ id: row.id as string, appliedAt: row.applied_at as Date }));
}

export async function migrationStatus(pool: pg.Pool, migrations?: Migration[]): Promise<MigrationStatus> {
  const known = migrations ?? (await readMigrations());
  const client = await pool.connect();
  try {
    const applied = await appliedMigrations(client);
    const appliedIds = new Set(applied.map((a) => a.id));
    const knownIds = new Set(known.map((m) => m.id));
    return {
      current: applied.at(-1)?.id ?? null,
      applied,
      pending: known.filter((m) => !appliedIds.has(m.id)).map((m) => m.id),
      unknown: applied.filter((a) => !knownIds.has(a.id)).map((a) => a.id),
    };
  } finally {
    client.release();
  }
}

/** The table the migrator keeps its own record in (created before any migration). */
export async function createMigrationsTable(client: pg.ClientBase): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS chantal.schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
}

/** Run `migrations` in order inside the caller's transaction, recording each; a failure names the migration. */
export async function applyMigrations(client: pg.ClientBase, migrations: Migration[], what = "migration"): Promise<void> {
  for (const m of migrations) {
    try {
      await client.query(m.sql);
    } catch (err) {
      throw new DatabaseError(`${what} ${m.id} failed: ${(err as Error).message}`, { cause: err });
    }
    await client.query("INSERT INTO chantal.schema_migrations (id) VALUES ($1)", [m.id]);
  }
}

/** Bring the chantal schema up to date; returns the ids applied now (empty when already current). */
export async function migrate(pool: pg.Pool, migrations?: Migration[]): Promise<string[]> {
  const known = migrations ?? (await readMigrations());
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1, 0)", [LockClass.migrate]);
    await client.query("CREATE SCHEMA IF NOT EXISTS chantal");
    await createMigrationsTable(client);
    const applied = new Set((await appliedMigrations(client)).map((a) => a.id));
    const newer = [...applied].filter((id) => !known.some((m) => m.id === id));
    if (newer.length > 0) {
      throw new DatabaseError(`the database schema has migrations this version of Chantal does not know (${newer.join(", ")}): upgrade Chantal`);
    }
    const pending = known.filter((m) => !applied.has(m.id));
    await applyMigrations(client, pending);
    await client.query("COMMIT");
    return pending.map((m) => m.id);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
