// core/db/schema.ts and the SQL migrations describe the same database: every table's columns, keys, indexes and foreign keys.
import pg from "pg";
import { getTableConfig, is, type PgColumn, PgDialect, PgTable, SQL } from "../../core/db/drizzle.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../core/db/migrate.js";
import * as schema from "../../core/db/schema.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

/** One table as both sides can state it; names of keys and unique constraints are the database's choice, so only their columns count. */
interface TableShape {
  columns: string[];
  primaryKey: string[];
  uniques: string[];
  indexes: string[];
  foreignKeys: string[];
}

const SCHEMA = "chantal";
const ON_DELETE: Record<string, string> = { a: "no action", r: "restrict", c: "cascade", n: "set null", d: "set default" };

function column(name: string, type: string, notNull: boolean, hasDefault: boolean): string {
  return `${name} ${type}${notNull ? " not null" : ""}${hasDefault ? " default" : ""}`;
}

/** A partial index's predicate, as written or as pg_get_expr prints it: without outer parentheses, one case. */
function predicate(text: string): string {
  let t = text.trim();
  while (t.startsWith("(") && t.endsWith(")")) t = t.slice(1, -1).trim();
  return t.toLowerCase();
}

async function catalogShapes(client: pg.ClientBase): Promise<Record<string, TableShape>> {
  const out: Record<string, TableShape> = {};
  const shape = (table: string): TableShape => (out[table] ??= { columns: [], primaryKey: [], uniques: [], indexes: [], foreignKeys: [] });
  const tables = await client.query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`,
    [SCHEMA],
  );
  for (const r of tables.rows) shape(r.relname);
  const columns = await client.query(
    `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, a.atthasdef
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [SCHEMA],
  );
  for (const r of columns.rows) shape(r.relname).columns.push(column(r.attname, r.type, r.attnotnull, r.atthasdef));
  const constraints = await client.query(
    `SELECT c.relname, k.contype, k.confdeltype, f.relname AS foreign_table,
       ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, o) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o)::text[] AS cols,
       ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, o) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o)::text[] AS foreign_cols
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class f ON f.oid = k.confrelid
     WHERE n.nspname = $1 AND k.contype IN ('p', 'u', 'f')`,
    [SCHEMA],
  );
  for (const r of constraints.rows) {
    const s = shape(r.relname);
    if (r.contype === "p") s.primaryKey = r.cols;
    else if (r.contype === "u") s.uniques.push(r.cols.join(","));
    else s.foreignKeys.push(`(${r.cols.join(",")}) -> ${r.foreign_table}(${r.foreign_cols.join(",")}) on delete ${ON_DELETE[r.confdeltype]}`);
  }
  // Indexes of their own: those behind a primary key or unique constraint are counted above.
  const indexes = await client.query(
    `SELECT t.relname, i.relname AS name, x.indisunique, pg_get_expr(x.indpred, x.indrelid) AS pred,
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) || CASE WHEN x.indoption[k - 1] & 1 = 1 THEN ' desc' ELSE '' END
             FROM generate_series(1, x.indnkeyatts) k ORDER BY k)::text[] AS cols
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid)`,
    [SCHEMA],
  );
  for (const r of indexes.rows) {
    const s = shape(r.relname);
    if (r.indisunique && !r.pred) s.uniques.push(r.cols.join(","));
    s.indexes.push(`${r.indisunique ? "unique " : ""}${r.name} (${r.cols.join(", ")})${r.pred ? ` where ${predicate(r.pred)}` : ""}`);
  }
  return sorted(out);
}

/** The type as format_type prints it: serials are integers with a default, char(n) is character(n). */
function catalogType(c: PgColumn): string {
  const t = c.getSQLType();
  const serials: Record<string, string> = { serial: "integer", bigserial: "bigint", smallserial: "smallint" };
  return serials[t] ?? t.replace(/^char\(/, "character(").replace(/^varchar\(/, "character varying(");
}

function drizzleShapes(tables: readonly PgTable[]): Record<string, TableShape> {
  const dialect = new PgDialect();
  const out: Record<string, TableShape> = {};
  for (const table of tables) {
    const config = getTableConfig(table);
    expect(config.schema, `table ${config.name}`).toBe(SCHEMA);
    const s: TableShape = { columns: [], primaryKey: [], uniques: [], indexes: [], foreignKeys: [] };
    for (const c of config.columns) {
      s.columns.push(column(c.name, catalogType(c), c.notNull, c.hasDefault));
      if (c.primary) s.primaryKey = [c.name];
      if (c.isUnique) s.uniques.push(c.name);
    }
    for (const pk of config.primaryKeys) s.primaryKey = pk.columns.map((c) => c.name);
    for (const u of config.uniqueConstraints) s.uniques.push(u.columns.map((c) => c.name).join(","));
    for (const fk of config.foreignKeys) {
      const ref = fk.reference();
      s.foreignKeys.push(
        `(${ref.columns.map((c) => c.name).join(",")}) -> ${getTableConfig(ref.foreignTable).name}(${ref.foreignColumns.map((c) => c.name).join(",")}) on delete ${fk.onDelete ?? "no action"}`,
      );
    }
    for (const ix of config.indexes) {
      const { name, unique, where, columns } = ix.config;
      const cols = columns.map((c) => {
        if (is(c, SQL)) return dialect.sqlToQuery(c).sql;
        const indexed = c as { name?: string; indexConfig?: { order?: string } };
        return `${indexed.name}${indexed.indexConfig?.order === "desc" ? " desc" : ""}`;
      });
      if (unique && !where) s.uniques.push(cols.join(","));
      s.indexes.push(`${unique ? "unique " : ""}${name} (${cols.join(", ")})${where ? ` where ${predicate(dialect.sqlToQuery(where).sql)}` : ""}`);
    }
    out[config.name] = s;
  }
  return sorted(out);
}

function sorted(shapes: Record<string, TableShape>): Record<string, TableShape> {
  const out: Record<string, TableShape> = {};
  for (const name of Object.keys(shapes).sort()) {
    const s = shapes[name]!;
    out[name] = {
      columns: [...s.columns].sort(),
      primaryKey: s.primaryKey,
      uniques: [...s.uniques].sort(),
      indexes: [...s.indexes].sort(),
      foreignKeys: [...s.foreignKeys].sort(),
    };
  }
  return out;
}

const drizzleTables: PgTable[] = Object.values(schema as Record<string, unknown>).filter((v): v is PgTable => is(v, PgTable));

let tdb: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  tdb = await createTestDatabase("schema");
  pool = new pg.Pool({ connectionString: tdb.url, max: 2 });
  await migrate(pool);
});
afterAll(async () => {
  await pool.end();
  await tdb.drop();
});

/** The catalog of the migrated database after `ddl`, which is rolled back (DDL is transactional in PostgreSQL). */
async function catalogAfter(ddl: string): Promise<Record<string, TableShape>> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(ddl);
    return await catalogShapes(client);
  } finally {
    await client.query("ROLLBACK");
    client.release();
  }
}

describe("the drizzle schema", () => {
  it("describes exactly the tables the migrations create", async () => {
    const client = await pool.connect();
    try {
      const catalog = await catalogShapes(client);
      expect(Object.keys(catalog)).toContain("schedule_fires");
      expect(drizzleShapes(drizzleTables)).toEqual(catalog);
    } finally {
      client.release();
    }
  });

  it("differs when a migration adds a column schema.ts lacks, or drops one it has", async () => {
    const declared = drizzleShapes(drizzleTables);
    const added = await catalogAfter("ALTER TABLE chantal.repositories ADD COLUMN mirror_note text");
    expect(added.repositories!.columns).toContain("mirror_note text");
    expect(declared).not.toEqual(added);
    const dropped = await catalogAfter("ALTER TABLE chantal.sync_runs DROP COLUMN snapshot_name");
    expect(declared.sync_runs!.columns).toContain("snapshot_name text");
    expect(declared).not.toEqual(dropped);
    const unindexed = await catalogAfter("DROP INDEX chantal.schedule_fires_open_idx");
    expect(declared).not.toEqual(unindexed);
    const cascadeLost = await catalogAfter(
      "ALTER TABLE chantal.snapshots DROP CONSTRAINT snapshots_repository_id_fkey, ADD FOREIGN KEY (repository_id) REFERENCES chantal.repositories(id)",
    );
    expect(declared).not.toEqual(cascadeLost);
  });
});
