// dumpSchema -> loadDump round trip on real databases, with the dump cut into chunks of every awkward size (lines and
// the COPY terminator split across chunks, data that looks like a terminator, tabs, backslashes, UTF-8); and crafted
// dumps whose extra SQL must never run: the loader refuses them naming the line, and the database is unchanged.
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpSchema } from "../../../core/backup/dump.js";
import { loadDump, parseIdentifierList, type LoadDumpOptions } from "../../../core/backup/load.js";
import { migrate, readMigrations, type Migration } from "../../../core/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";

let source: TestDatabase;
let dump: Buffer;
let known: Migration[];
let options: LoadDumpOptions;
const tricky = ["a\\.b", "\\.", "tab\there", "line\nbreak", "back\\slash", "ünïcødé ✓", "'quoted' \"double\""];

beforeAll(async () => {
  source = await createTestDatabase("dump");
  const pool = new pg.Pool({ connectionString: source.url, max: 2 });
  await migrate(pool);
  await pool.query(`INSERT INTO chantal.repositories (repo_id, type, upstream_url) VALUES ('r1', 'rpm', 'http://127.0.0.1/')`);
  for (const [i, name] of tricky.entries()) {
    await pool.query(
      `INSERT INTO chantal.packages (sha256, size, type, name, version, arch, checksum, metadata) VALUES ($1, $2, 'rpm', $3, '1', 'noarch', $4, $5)`,
      [String(i).padStart(64, "0"), i, name, `sha256:${i}`, JSON.stringify({ note: name })],
    );
  }
  await pool.query(`INSERT INTO chantal.repository_packages (repository_id, location, package_id) SELECT 1, 'P/' || id, id FROM chantal.packages`);
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write: (c, _e, cb) => {
      chunks.push(c as Buffer);
      cb();
    },
  });
  const client = await pool.connect();
  try {
    await dumpSchema(client, sink, { known: await readMigrations(), chantalVersion: "test", createdAt: new Date(0) });
  } finally {
    client.release();
  }
  dump = Buffer.concat(chunks);
  known = await readMigrations();
  options = { migrations: known.map((m) => m.id), known };
  await pool.end();
});
afterAll(async () => {
  await source?.drop();
});

function chunked(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

describe("loadDump", () => {
  it.each([1, 2, 3, 7, 64, 4096, 1 << 20])("restores the same rows when the dump arrives in %i-byte chunks", async (size) => {
    const target = await createTestDatabase("load");
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    try {
      await c.query("BEGIN");
      const r = await loadDump(c, chunked(dump, size), options);
      await c.query("COMMIT");
      expect(r.copies).toBeGreaterThanOrEqual(10);
      const rows = await c.query(`SELECT name, metadata->>'note' AS note FROM chantal.packages ORDER BY id`);
      expect(rows.rows.map((x) => x.name)).toEqual(tricky);
      expect(rows.rows.map((x) => x.note)).toEqual(tricky);
      expect((await c.query(`SELECT count(*)::int AS n FROM chantal.repository_packages`)).rows[0].n).toBe(tricky.length);
      expect((await c.query(`SELECT last_value::int AS v FROM chantal.packages_id_seq`)).rows[0].v).toBe(tricky.length);
    } finally {
      await c.end();
      await target.drop();
    }
  });

  it("refuses a dump cut before its final COMMIT", async () => {
    const target = await createTestDatabase("load");
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    try {
      await c.query("BEGIN");
      await expect(loadDump(c, chunked(dump.subarray(0, dump.length - 40), 4096), options)).rejects.toThrow(/the dump is incomplete/);
      await c.query("ROLLBACK");
    } finally {
      await c.end();
      await target.drop();
    }
  });

  it("loads with foreign keys and indexes deferred, and rebuilds them", async () => {
    await withTarget(async (c) => {
      await loadDump(c, chunked(dump, 65536), { ...options, deferConstraints: true });
      const fks = await c.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f' AND connamespace = 'chantal'::regnamespace`);
      expect(fks.rows[0].n).toBeGreaterThan(3);
    });
  });
});

/** A fresh database with a canary table outside the chantal schema, inside an open transaction. */
async function withTarget(body: (c: pg.Client) => Promise<void>): Promise<void> {
  const target = await createTestDatabase("load");
  const c = new pg.Client({ connectionString: target.url });
  await c.connect();
  try {
    await c.query("CREATE TABLE public.other_app_data (v text)");
    await c.query("INSERT INTO public.other_app_data VALUES ('keep')");
    await c.query("BEGIN");
    await body(c);
    await c.query("ROLLBACK");
  } finally {
    await c.end();
    await target.drop();
  }
}

/** The dump with `extra` inserted before the line that starts with `before`. */
function injected(before: string, extra: string): Buffer {
  const text = dump.toString("utf8");
  const at = text.indexOf(before);
  expect(at).toBeGreaterThan(0);
  return Buffer.from(text.slice(0, at) + extra + text.slice(at));
}

describe("loadDump refuses anything but the schema of our migrations and COPY data", () => {
  const marker = join(tmpdir(), `chantal-injected-${process.pid}`);
  it.each([
    [
      "COPY ... TO PROGRAM before the data",
      "TRUNCATE ",
      `COPY (SELECT 1) TO PROGRAM 'id > ${marker}';\n`,
      /line \d+: unexpected statement "COPY \(SELECT 1\) TO PROGRAM/,
    ],
    [
      "a statement among the sequence values",
      "SELECT pg_catalog.setval",
      "DROP TABLE public.other_app_data;\n",
      /line \d+: unexpected statement "DROP TABLE public.other_app_data;"/,
    ],
    [
      "a COMMIT that would end the caller's transaction",
      "\nCOPY chantal.",
      "\nCOMMIT;\nCREATE TABLE public.evil (x int);\n",
      /line \d+: unexpected statement "COMMIT;"/,
    ],
    ["an edited migration", "CREATE TABLE chantal.repositories", "CREATE TABLE public.evil (x int);\n", /differs from line \d+ of migration 0001_initial/],
    ["SQL in the header", "BEGIN; -- chantal-dump begin", "CREATE TABLE public.evil (x int);\n", /before the dump's begin marker/],
    [
      "COPY into a table outside the schema",
      "\nCOPY chantal.",
      '\nCOPY chantal."../public.other_app_data" ("v") FROM stdin;\nx\n\\.\n',
      /not a table of the chantal schema/,
    ],
    ["COPY into an unknown column", "\nCOPY chantal.", '\nCOPY chantal."repositories" ("evil") FROM stdin;\n\\.\n', /unknown column "evil"/],
    ["setval of a sequence elsewhere", "SELECT pg_catalog.setval", "SELECT pg_catalog.setval('chantal.\"x\"', 1, true);\n", /unknown sequence "x"/],
    ["content after the end marker", "\u0000never", "", /./],
  ])("%s", async (_label, before, extra, message) => {
    if (before === "\u0000never") {
      const evil = Buffer.concat([dump, Buffer.from("DROP TABLE public.other_app_data;\n")]);
      await withTarget(async (c) => {
        await expect(loadDump(c, chunked(evil, 4096), options)).rejects.toThrow(/content after the dump's end marker/);
      });
      return;
    }
    await withTarget(async (c) => {
      await expect(loadDump(c, chunked(injected(before, extra), 4096), options)).rejects.toThrow(message);
      // The caller's transaction is still open (nothing ended it) and nothing outside the schema ran.
      expect((await c.query("SELECT transaction_timestamp() < statement_timestamp() AS open")).rows[0].open).toBe(true);
      expect((await c.query("SELECT v FROM public.other_app_data")).rows).toEqual([{ v: "keep" }]);
      expect((await c.query("SELECT to_regclass('public.evil') AS t")).rows[0].t).toBeNull();
    });
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses a 100 MiB statement line at its first 64 KiB, and a row beyond the row limit", async () => {
    await withTarget(async (c) => {
      const long = Buffer.concat([Buffer.from("-- "), Buffer.alloc(100 * 1024 * 1024, 0x41)]);
      await expect(loadDump(c, chunked(Buffer.concat([long, dump]), 1 << 16), options)).rejects.toThrow(/line 1: a statement line longer than 65536 bytes/);
    });
    await withTarget(async (c) => {
      const row = injected("1\tr1\t", "x".repeat(2048));
      await expect(loadDump(c, chunked(row, 512), { ...options, limits: { maxRowLine: 1024 } })).rejects.toThrow(/a row longer than 1024 bytes/);
    });
  });

  it("stops at the total byte limit and when aborted", async () => {
    await withTarget(async (c) => {
      await expect(loadDump(c, chunked(dump, 1024), { ...options, limits: { maxBytes: 2048 } })).rejects.toThrow(/decompresses to more than 2048 bytes/);
    });
    await withTarget(async (c) => {
      const ac = new AbortController();
      ac.abort(new Error("stop now"));
      await expect(loadDump(c, chunked(dump, 1024), { ...options, signal: ac.signal })).rejects.toThrow(/stop now/);
    });
  });

  it("refuses a dump whose migrations differ from the manifest's", async () => {
    await withTarget(async (c) => {
      await expect(loadDump(c, chunked(dump, 4096), { ...options, migrations: [known[0]!.id] })).rejects.toThrow(
        /migration \S+ where the manifest lists no further migration/,
      );
    });
  });
});

describe("parseIdentifierList", () => {
  it.each([
    ['"a", "b"', ["a", "b"]],
    ['"with ""quote"""', ['with "quote"']],
    ['"a",  "b"', null],
    ['"a"; DROP', null],
    ["a, b", null],
    ["", null],
  ])("%s", (text, expected) => {
    expect(parseIdentifierList(text)).toEqual(expected);
  });
});
