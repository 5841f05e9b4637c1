// Applies committed SQL migrations once, in order, in one transaction, serialized across processes by an advisory lock.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import { AbortedError, DatabaseError } from "../errors.js";
import type { Logger } from "../log.js";
import { sleep } from "../runtime/sleep.js";
import { packageRoot } from "../package-info.js";
import { LockClass } from "./lock-ids.js";
import { inTransaction } from "./transaction.js";

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

function newerThanKnown(applied: Set<string>, known: Migration[]): void {
  const newer = [...applied].filter((id) => !known.some((m) => m.id === id));
  if (newer.length > 0) {
    throw new DatabaseError(`the database schema has migrations this version of Chantal does not know (${newer.join(", ")}): upgrade Chantal`);
  }
}

export interface MigrateOptions {
  log?: Logger;
  signal?: AbortSignal;
}

const MIGRATE_POLL_MS = 250;

/**
 * Take the migration lock inside the open transaction, polling so that a signal ends the wait; the wait is logged once,
 * naming who holds it (a restore or a deep verify holds it for its whole load).
 */
async function takeMigrationLock(client: pg.ClientBase, opts: MigrateOptions): Promise<void> {
  for (let logged = false; ; ) {
    if ((await client.query("SELECT pg_try_advisory_xact_lock($1, 0) AS ok", [LockClass.migrate])).rows[0].ok) return;
    if (!logged) {
      logged = true;
      const holder = await client.query(
        `SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = 0 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [LockClass.migrate],
      );
      const h = holder.rows[0];
      opts.log?.warn(
        { holder: h ? { backend: h.pid, application: h.application_name, since: h.backend_start } : undefined },
        `waiting for the database maintenance lock: ${h ? `${h.application_name || "a session"} (database backend ${h.pid})` : "another session"} is migrating or restoring the database`,
      );
    }
    if (opts.signal?.aborted)
      throw opts.signal.reason instanceof Error ? opts.signal.reason : new AbortedError("interrupted while waiting for the database maintenance lock");
    await sleep(MIGRATE_POLL_MS);
  }
}

/**
 * Bring the chantal schema up to date; returns the ids applied now (empty when already current). A current schema
 * is seen without any lock, so commands start at once even while a restore holds the lock.
 */
export async function migrate(pool: pg.Pool, migrations?: Migration[], opts: MigrateOptions = {}): Promise<string[]> {
  const known = migrations ?? (await readMigrations());
  const client = await pool.connect();
  try {
    const seen = new Set((await appliedMigrations(client)).map((a) => a.id));
    newerThanKnown(seen, known);
    if (known.every((m) => seen.has(m.id))) return [];
    return await inTransaction(client, async () => {
      await takeMigrationLock(client, opts);
      // Not CREATE SCHEMA IF NOT EXISTS: it needs CREATE on the database even when the schema exists, and a role
      // that owns an existing schema chantal needs nothing more to migrate.
      const hasSchema = (await client.query(`SELECT to_regnamespace('chantal') IS NOT NULL AS ok`)).rows[0].ok === true;
      if (!hasSchema) await client.query("CREATE SCHEMA chantal");
      await createMigrationsTable(client);
      const applied = new Set((await appliedMigrations(client)).map((a) => a.id));
      newerThanKnown(applied, known);
      const pending = known.filter((m) => !applied.has(m.id));
      await applyMigrations(client, pending);
      return pending.map((m) => m.id);
    });
  } finally {
    client.release();
  }
}
