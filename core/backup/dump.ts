// A plain SQL dump of the chantal schema without pg_dump: the applied migrations' SQL recreates the schema exactly as the
// migrator built it, then every table's rows stream out with COPY ... TO STDOUT from one REPEATABLE READ snapshot.
import { once } from "node:events";
import type { Writable } from "node:stream";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { DatabaseError } from "../errors.js";
import type { Migration } from "../db/migrate.js";
import { inTransaction } from "../db/transaction.js";

export const SCHEMA = "chantal";
/** The first and last lines of the transaction in a dump: the restorer runs the script inside its own transaction. */
export const DUMP_BEGIN = "BEGIN; -- chantal-dump begin";
export const DUMP_END = "COMMIT; -- chantal-dump end";
/** The migrator creates this table itself (core/db/migrate.ts), before any migration. */
export const SCHEMA_MIGRATIONS_DDL = "CREATE TABLE chantal.schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());";
/** Rows that describe live sessions only (advisory lock holders): their schema is dumped, their rows are not. */
export const TRANSIENT_TABLES = new Set(["lock_holders"]);

export interface TableInfo {
  name: string;
  columns: string[];
}

export interface DumpResult {
  /** Applied migration ids, in order. */
  migrations: string[];
  /** Rows written per table (transient tables: 0). */
  tables: Record<string, number>;
  sequences: number;
}

/** Tables in an order where every referenced table comes before the tables that reference it (COPY checks foreign keys). */
export function orderByDependencies(tables: string[], references: { child: string; parent: string }[]): string[] {
  const parents = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const r of references) if (r.child !== r.parent && parents.has(r.parent)) parents.get(r.child)?.add(r.parent);
  const out: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (t: string): void => {
    if (state.get(t) === "done") return;
    if (state.get(t) === "visiting") throw new DatabaseError(`the foreign keys of schema ${SCHEMA} form a cycle through table ${t}: cannot order the dump`);
    state.set(t, "visiting");
    for (const p of [...parents.get(t)!].sort()) visit(p);
    state.set(t, "done");
    out.push(t);
  };
  for (const t of [...tables].sort()) visit(t);
  return out;
}

export async function schemaTables(client: pg.ClientBase): Promise<TableInfo[]> {
  const cols = await client.query(
    `SELECT c.relname AS table, a.attname AS column
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
     WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     ORDER BY c.relname, a.attnum`,
    [SCHEMA],
  );
  const byTable = new Map<string, string[]>();
  for (const r of cols.rows) {
    const list = byTable.get(r.table) ?? [];
    list.push(r.column as string);
    byTable.set(r.table as string, list);
  }
  const refs = await client.query(
    `SELECT c.relname AS child, p.relname AS parent
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_namespace pn ON pn.oid = p.relnamespace
     WHERE k.contype = 'f' AND n.nspname = $1 AND pn.nspname = $1`,
    [SCHEMA],
  );
  const order = orderByDependencies([...byTable.keys()], refs.rows as { child: string; parent: string }[]);
  return order.map((name) => ({ name, columns: byTable.get(name)! }));
}

export function qualified(table: string): string {
  return `${SCHEMA}.${pg.escapeIdentifier(table)}`;
}

export function copyColumns(t: TableInfo): string {
  return t.columns.map((c) => pg.escapeIdentifier(c)).join(", ");
}

async function write(out: Writable, chunk: string | Buffer, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw signal.reason;
  if (!out.write(chunk)) await once(out, "drain", signal ? { signal } : {});
}

function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

async function copyTable(client: pg.ClientBase, t: TableInfo, out: Writable, signal?: AbortSignal): Promise<number> {
  await write(out, `\nCOPY ${qualified(t.name)} (${copyColumns(t)}) FROM stdin;\n`, signal);
  let rows = 0;
  if (!TRANSIENT_TABLES.has(t.name)) {
    const stream = client.query(copyTo(`COPY ${qualified(t.name)} (${copyColumns(t)}) TO STDOUT`));
    for await (const chunk of stream) {
      rows += countNewlines(chunk as Buffer);
      await write(out, chunk as Buffer, signal);
    }
  }
  await write(out, "\\.\n", signal);
  return rows;
}

async function appliedMigrationIds(client: pg.ClientBase): Promise<string[]> {
  const exists = await client.query(`SELECT to_regclass('chantal.schema_migrations') AS t`);
  if (!exists.rows[0].t) throw new DatabaseError(`the database has no ${SCHEMA} schema: nothing to back up`);
  return (await client.query(`SELECT id FROM chantal.schema_migrations ORDER BY id`)).rows.map((r) => r.id as string);
}

/** The migrations to replay: every applied one, which this version must know (else the schema is newer than the code). */
export function migrationsToReplay(applied: string[], known: Migration[]): Migration[] {
  const byId = new Map(known.map((m) => [m.id, m]));
  const unknown = applied.filter((id) => !byId.has(id));
  if (unknown.length > 0)
    throw new DatabaseError(`the database schema has migrations this version of Chantal does not know (${unknown.join(", ")}): upgrade Chantal to back it up`);
  if (applied.length === 0) throw new DatabaseError(`the ${SCHEMA} schema has no migration applied: nothing to back up`);
  return applied.map((id) => byId.get(id)!);
}

async function sequenceValues(client: pg.ClientBase): Promise<{ name: string; lastValue: string; isCalled: boolean }[]> {
  const seqs = await client.query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'S' ORDER BY 1`,
    [SCHEMA],
  );
  const out = [];
  for (const s of seqs.rows) {
    const v = await client.query(`SELECT last_value::text AS last_value, is_called FROM ${qualified(s.relname)}`);
    out.push({ name: s.relname as string, lastValue: v.rows[0].last_value as string, isCalled: v.rows[0].is_called as boolean });
  }
  return out;
}

function header(opts: { chantalVersion: string; createdAt: Date; migrations: string[] }): string {
  return [
    `-- Chantal ${opts.chantalVersion}: dump of schema ${SCHEMA}, taken ${opts.createdAt.toISOString()}, schema version ${opts.migrations.at(-1)}.`,
    `-- Restore into an empty database with: psql -v ON_ERROR_STOP=1 -f database.sql "postgres://..."  (or chantal-run db restore).`,
    `\\set ON_ERROR_STOP on`,
    `SET client_encoding = 'UTF8';`,
    `SET standard_conforming_strings = on;`,
    `SET client_min_messages = warning;`,
    `SET check_function_bodies = false;`,
    DUMP_BEGIN,
    `CREATE SCHEMA ${SCHEMA};`,
    SCHEMA_MIGRATIONS_DDL,
    "",
  ].join("\n");
}

/**
 * Write the dump to `out` (not ended). One REPEATABLE READ READ ONLY transaction on `client` makes it a consistent
 * snapshot while syncs write; memory stays flat because rows stream from COPY straight into `out`.
 */
export async function dumpSchema(
  client: pg.ClientBase,
  out: Writable,
  opts: { known: Migration[]; chantalVersion: string; createdAt: Date; signal?: AbortSignal },
): Promise<DumpResult> {
  return inTransaction(
    client,
    async () => {
      const replay = migrationsToReplay(await appliedMigrationIds(client), opts.known);
      const migrations = replay.map((m) => m.id);
      const tables = await schemaTables(client);
      await write(out, header({ chantalVersion: opts.chantalVersion, createdAt: opts.createdAt, migrations }), opts.signal);
      for (const m of replay) await write(out, `\n-- migration ${m.id}\n${m.sql.trimEnd()}\n`, opts.signal);
      // Migrations may seed rows; the dump's rows are the truth.
      await write(out, `\nTRUNCATE ${tables.map((t) => qualified(t.name)).join(", ")};\n`, opts.signal);
      const counts: Record<string, number> = {};
      for (const t of tables) counts[t.name] = await copyTable(client, t, out, opts.signal);
      const seqs = await sequenceValues(client);
      await write(out, "\n", opts.signal);
      for (const s of seqs)
        await write(
          out,
          `SELECT pg_catalog.setval(${pg.escapeLiteral(`${SCHEMA}.${pg.escapeIdentifier(s.name)}`)}, ${s.lastValue}, ${s.isCalled});\n`,
          opts.signal,
        );
      await write(out, `${DUMP_END}\n`, opts.signal);
      return { migrations, tables: counts, sequences: seqs.length };
    },
    { isolation: "repeatable read", readOnly: true },
  );
}
