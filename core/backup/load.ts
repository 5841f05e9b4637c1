// Loads a dump as data, never as code: the schema comes from this Chantal's own migrations, and the dump may only hold
// the statements our dumper writes (checked line by line); of those, only COPY rows and sequence values are used.
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { applyMigrations, createMigrationsTable, type Migration } from "../db/migrate.js";
import { BackupInvalidError } from "./manifest.js";
import { DUMP_BEGIN, DUMP_END, SCHEMA, SCHEMA_MIGRATIONS_DDL } from "./dump.js";
import { dropSecondaryStructures, restoreSecondaryStructures, type DeferredStructures } from "./deferred-constraints.js";

const NEWLINE = 10;
/** How long a failed COPY waits for the server's answer before the connection is taken as gone. */
const COPY_FAIL_WAIT_MS = 5_000;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

/** Bounds on what a dump may make us read: a crafted one cannot make the loader buffer or run without end. */
export interface DumpLimits {
  /** Longest line outside COPY data (our SQL lines are short). */
  maxStatementLine: number;
  /** Longest COPY row (a package's metadata is a few KiB; this is generous). */
  maxRowLine: number;
  /** Decompressed bytes in all. */
  maxBytes: number;
}

export const DEFAULT_DUMP_LIMITS: DumpLimits = { maxStatementLine: 64 * 1024, maxRowLine: 16 * 1024 * 1024, maxBytes: Number.MAX_SAFE_INTEGER };

export interface LoadResult {
  /** Rows' tables loaded with COPY. */
  copies: number;
  /** Sequences set. */
  sequences: number;
}

export interface LoadDumpOptions {
  /** The migrations the dump's schema was built with (the manifest's database_migrations), in order. */
  migrations: string[];
  /** The migrations this Chantal knows; every one of `migrations` must be among them. */
  known: Migration[];
  signal?: AbortSignal;
  limits?: Partial<DumpLimits>;
  /** Drop foreign keys and secondary indexes before the rows and rebuild them after (restore speed). */
  deferConstraints?: boolean;
}

/** The header lines our dumper writes before its begin marker (comments aside). */
const HEADER_LINES = new Set([
  "\\set ON_ERROR_STOP on",
  "SET client_encoding = 'UTF8';",
  "SET standard_conforming_strings = on;",
  "SET client_min_messages = warning;",
  "SET check_function_bodies = false;",
]);
const COPY_LINE = /^COPY chantal\.("(?:[^"]|"")+") \((.+)\) FROM stdin;$/;
const SETVAL_LINE = /^SELECT pg_catalog\.setval\('chantal\.("(?:[^"']|"")+")', (-?\d{1,19}), (true|false)\);$/;
const TRUNCATE_LINE = /^TRUNCATE chantal\."(?:[^"]|"")+"(?:, chantal\."(?:[^"]|"")+")*;$/;
const MIGRATION_LINE = /^-- migration (\S+)$/;

/** `"a", "b""c"` -> ["a", 'b"c']; null when the text is not exactly a list of quoted identifiers. */
export function parseIdentifierList(text: string): string[] | null {
  const out: string[] = [];
  const re = /"((?:[^"]|"")+)"(, |$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return null;
    out.push(m[1]!.replace(/""/g, '"'));
    at = re.lastIndex;
    if (m[2] === "" && at !== text.length) return null;
  }
  return out.length > 0 ? out : null;
}

function unquote(quoted: string): string {
  return quoted.slice(1, -1).replace(/""/g, '"');
}

function shown(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}

interface Catalog {
  tables: Map<string, Set<string>>;
  sequences: Set<string>;
}

async function readCatalog(client: pg.ClientBase): Promise<Catalog> {
  const cols = await client.query(
    `SELECT c.relname AS table, a.attname AS column FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_attribute a ON a.attrelid = c.oid
     WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''`,
    [SCHEMA],
  );
  const tables = new Map<string, Set<string>>();
  for (const r of cols.rows) {
    if (!tables.has(r.table)) tables.set(r.table, new Set());
    tables.get(r.table)!.add(r.column);
  }
  const seqs = await client.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'S'`, [
    SCHEMA,
  ]);
  return { tables, sequences: new Set(seqs.rows.map((r) => r.relname as string)) };
}

/**
 * Create the chantal schema as `migrations` built it, from this Chantal's own SQL (never the archive's), and empty
 * every table (migrations may seed rows; the dump's rows are the truth).
 */
export async function createSchemaFromMigrations(client: pg.ClientBase, migrations: string[], known: Migration[]): Promise<void> {
  const byId = new Map(known.map((m) => [m.id, m]));
  const missing = migrations.filter((id) => !byId.has(id));
  if (missing.length > 0) throw new BackupInvalidError(`the dump was made with migrations this Chantal does not know (${missing.join(", ")}): upgrade Chantal`);
  await client.query(`CREATE SCHEMA ${SCHEMA}`);
  await createMigrationsTable(client);
  await applyMigrations(
    client,
    migrations.map((id) => byId.get(id)!),
  );
  const tables = await client.query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`,
    [SCHEMA],
  );
  if (tables.rows.length > 0) await client.query(`TRUNCATE ${tables.rows.map((r) => `${SCHEMA}.${pg.escapeIdentifier(r.relname)}`).join(", ")}`);
}

type State = "header" | "schema" | "migration" | "data" | "end";

/** The dump's statement lines, checked against what our dumper writes; only COPY and setval lines have an effect. */
class DumpInterpreter {
  state: State = "header";
  private migrationIndex = 0;
  private migrationLines: string[] = [];
  private migrationLine = 0;
  private migrationId = "";
  private copied = new Set<string>();
  private deferred: DeferredStructures | undefined;
  copy: Writable | undefined;
  private copyError: Error | undefined;

  get connectionFailed(): boolean {
    return this.copyError !== undefined;
  }
  readonly result: LoadResult = { copies: 0, sequences: 0 };

  constructor(
    private readonly client: pg.ClientBase,
    private readonly catalog: Catalog,
    private readonly opts: LoadDumpOptions,
    private readonly byId: Map<string, Migration>,
  ) {}

  private refuse(lineNo: number, why: string): never {
    throw new BackupInvalidError(
      `database dump line ${lineNo}: ${why}; a backup may hold only the schema of Chantal's own migrations and COPY data: refused, nothing was restored`,
    );
  }

  async line(text: string, lineNo: number): Promise<void> {
    switch (this.state) {
      case "header":
        if (text === DUMP_BEGIN) this.state = "schema";
        else if (text !== "" && !text.startsWith("--") && !HEADER_LINES.has(text))
          this.refuse(lineNo, `unexpected statement ${shown(text)} before the dump's begin marker`);
        return;
      case "migration":
        if (text !== this.migrationLines[this.migrationLine]) {
          this.refuse(
            lineNo,
            `${shown(text)} differs from line ${this.migrationLine + 1} of migration ${this.migrationId} as this Chantal has it (${shown(this.migrationLines[this.migrationLine] ?? "")})`,
          );
        }
        if (++this.migrationLine === this.migrationLines.length) this.state = "schema";
        return;
      case "schema":
        return this.schemaLine(text, lineNo);
      case "data":
        return this.dataLine(text, lineNo);
      case "end":
        if (text.trim() !== "") this.refuse(lineNo, `content after the dump's end marker (${shown(text)})`);
        return;
    }
  }

  private schemaLine(text: string, lineNo: number): void {
    if (text === "" || text === `CREATE SCHEMA ${SCHEMA};` || text === SCHEMA_MIGRATIONS_DDL) return;
    const migration = MIGRATION_LINE.exec(text);
    if (migration) {
      const id = migration[1]!;
      const expected = this.opts.migrations[this.migrationIndex];
      if (id !== expected) this.refuse(lineNo, `migration ${id} where the manifest lists ${expected ?? "no further migration"}`);
      this.migrationIndex++;
      this.migrationId = id;
      this.migrationLines = this.byId.get(id)!.sql.trimEnd().split("\n");
      this.migrationLine = 0;
      this.state = "migration";
      return;
    }
    if (TRUNCATE_LINE.test(text)) {
      if (this.migrationIndex !== this.opts.migrations.length)
        this.refuse(lineNo, `the dump holds ${this.migrationIndex} of the manifest's ${this.opts.migrations.length} migrations`);
      this.state = "data";
      return;
    }
    this.refuse(lineNo, `unexpected statement ${shown(text)}`);
  }

  private async dataLine(text: string, lineNo: number): Promise<void> {
    if (text === "") return;
    if (text === DUMP_END) {
      if (this.deferred) await restoreSecondaryStructures(this.client, this.deferred);
      this.state = "end";
      return;
    }
    const copy = COPY_LINE.exec(text);
    if (copy) return this.startCopy(unquote(copy[1]!), copy[2]!, lineNo);
    const setval = SETVAL_LINE.exec(text);
    if (setval) {
      const seq = unquote(setval[1]!);
      if (!this.catalog.sequences.has(seq)) this.refuse(lineNo, `sets the unknown sequence ${shown(seq)}`);
      await this.client.query(`SELECT pg_catalog.setval($1::regclass, $2::bigint, $3::boolean)`, [
        `${SCHEMA}.${pg.escapeIdentifier(seq)}`,
        setval[2],
        setval[3] === "true",
      ]);
      this.result.sequences++;
      return;
    }
    this.refuse(lineNo, `unexpected statement ${shown(text)}`);
  }

  private async startCopy(table: string, columnText: string, lineNo: number): Promise<void> {
    const known = this.catalog.tables.get(table);
    if (!known) this.refuse(lineNo, `COPY into ${shown(table)}, which is not a table of the ${SCHEMA} schema`);
    if (this.copied.has(table)) this.refuse(lineNo, `a second COPY into table ${table}`);
    const columns = parseIdentifierList(columnText);
    if (!columns) this.refuse(lineNo, `the column list of the COPY into ${table} is not a list of quoted names`);
    for (const c of columns) if (!known.has(c)) this.refuse(lineNo, `COPY into ${table} names the unknown column ${shown(c)}`);
    if (new Set(columns).size !== columns.length) this.refuse(lineNo, `COPY into ${table} names a column twice`);
    this.copied.add(table);
    if (this.opts.deferConstraints && !this.deferred) this.deferred = await dropSecondaryStructures(this.client, SCHEMA);
    // Built from checked names: the archive's text is never sent as SQL.
    const copy = this.client.query(
      copyFrom(`COPY ${SCHEMA}.${pg.escapeIdentifier(table)} (${columns.map((c) => pg.escapeIdentifier(c)).join(", ")}) FROM STDIN`),
    );
    // The stream fails while we may be reading the archive (a cut connection): keep the error for the next write.
    copy.on("error", (err: Error) => {
      this.copyError ??= err;
    });
    this.copy = copy;
    this.result.copies++;
  }

  async copyData(chunk: Buffer): Promise<void> {
    if (this.opts.signal?.aborted) throw this.opts.signal.reason;
    if (this.copyError) throw this.copyError;
    if (chunk.length > 0 && !this.copy!.write(chunk)) await once(this.copy!, "drain", this.opts.signal ? { signal: this.opts.signal } : {});
  }

  async endCopy(): Promise<void> {
    const copy = this.copy!;
    this.copy = undefined;
    copy.end();
    await finished(copy);
  }
}

/**
 * Load the dump read from `input` (decompressed) into a new chantal schema, inside the caller's transaction (which
 * the dump cannot end: none of its text is executed). Throws BackupInvalidError naming the line of anything our dumper
 * would not have written, a line or a total beyond the limits, or a dump that ends early.
 */
export async function loadDump(client: pg.ClientBase, input: Readable, opts: LoadDumpOptions): Promise<LoadResult> {
  await createSchemaFromMigrations(client, opts.migrations, opts.known);
  const run = new DumpInterpreter(client, await readCatalog(client), opts, new Map(opts.known.map((m) => [m.id, m])));
  try {
    return await interpret(run, input, { ...DEFAULT_DUMP_LIMITS, ...opts.limits }, opts.signal);
  } catch (err) {
    // An open COPY is failed (CopyFail), so the connection is usable again for the caller's ROLLBACK; on a connection
    // that is gone (cut on abort) no answer comes, so the wait is bounded.
    if (run.copy) {
      const copy = run.copy;
      copy.destroy(err as Error);
      if (!run.connectionFailed) await Promise.race([finished(copy).catch(() => undefined), new Promise((r) => setTimeout(r, COPY_FAIL_WAIT_MS).unref())]);
    }
    throw err;
  }
}

async function interpret(run: DumpInterpreter, input: Readable, limits: DumpLimits, signal: AbortSignal | undefined): Promise<LoadResult> {
  let lineNo = 1;
  let total = 0;
  // A statement line in pieces (no quadratic concatenation), or up to two held-back bytes of a possible `\.` row.
  let pieces: Buffer[] = [];
  let pieceBytes = 0;
  let rowBytes = 0;
  for await (const raw of input) {
    if (signal?.aborted) throw signal.reason;
    const buf = raw as Buffer;
    total += buf.length;
    if (total > limits.maxBytes)
      throw new BackupInvalidError(
        `the database dump decompresses to more than ${limits.maxBytes} bytes (a decompression bomb?): refused, nothing was restored`,
      );
    let pos = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(NEWLINE, pos);
      const end = nl === -1 ? buf.length : nl;
      if (run.copy) {
        // COPY rows pass through in one write per chunk; only a line that is exactly `\.` ends them.
        rowBytes += end - pos;
        if (rowBytes > limits.maxRowLine)
          throw new BackupInvalidError(`database dump line ${lineNo}: a row longer than ${limits.maxRowLine} bytes: refused, nothing was restored`);
        const maybeEnd = rowBytes <= 2 && isEndPrefix(pieces, buf.subarray(pos, end));
        if (nl === -1) {
          if (maybeEnd) pieces.push(buf.subarray(pos));
          else {
            for (const p of pieces) await run.copyData(p);
            pieces = [];
            await run.copyData(buf.subarray(pos));
          }
          pos = buf.length;
          continue;
        }
        if (maybeEnd && rowBytes === 2) {
          pieces = [];
          await run.endCopy();
        } else {
          for (const p of pieces) await run.copyData(p);
          pieces = [];
          // Hand over every complete row up to the next possible terminator at once.
          let upto = nl + 1;
          lineNo++;
          for (
            let next = buf.indexOf(NEWLINE, upto);
            next !== -1 && !(next - upto === 2 && buf[upto] === BACKSLASH && buf[upto + 1] === DOT);
            next = buf.indexOf(NEWLINE, upto)
          ) {
            if (next - upto > limits.maxRowLine)
              throw new BackupInvalidError(`database dump line ${lineNo}: a row longer than ${limits.maxRowLine} bytes: refused, nothing was restored`);
            upto = next + 1;
            lineNo++;
          }
          await run.copyData(buf.subarray(pos, upto));
          rowBytes = 0;
          pos = upto;
          continue;
        }
        rowBytes = 0;
        lineNo++;
        pos = nl + 1;
        continue;
      }
      pieceBytes += end - pos;
      if (pieceBytes > limits.maxStatementLine)
        throw new BackupInvalidError(
          `database dump line ${lineNo}: a statement line longer than ${limits.maxStatementLine} bytes: refused, nothing was restored`,
        );
      pieces.push(buf.subarray(pos, end));
      if (nl === -1) break;
      const text = Buffer.concat(pieces, pieceBytes).toString("utf8");
      pieces = [];
      pieceBytes = 0;
      await run.line(text, lineNo);
      lineNo++;
      pos = nl + 1;
    }
  }
  // Our dumps end with a newline: a last line without one was cut off.
  if (run.copy || run.state !== "end" || pieceBytes > 0) throw new BackupInvalidError("the dump is incomplete: it ends before its final COMMIT (truncated?)");
  return run.result;
}

/** Whether the held pieces plus `tail` are a prefix of `\.` (the COPY terminator line). */
function isEndPrefix(held: Buffer[], tail: Buffer): boolean {
  const bytes = [...held.flatMap((b) => [...b]), ...tail];
  return bytes.length <= 2 && (bytes.length < 1 || bytes[0] === BACKSLASH) && (bytes.length < 2 || bytes[1] === DOT);
}
