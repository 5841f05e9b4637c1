// dumpSchema -> loadDump round trip on real databases, with the dump cut into chunks of every awkward size:
// lines and the COPY terminator split across chunks, data that looks like a terminator, tabs, backslashes, UTF-8.
import { Readable, Writable } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpSchema } from "../../../core/backup/dump.js";
import { loadDump } from "../../../core/backup/load.js";
import { migrate, readMigrations } from "../../../core/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";

let source: TestDatabase;
let dump: Buffer;
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
  const sink = new Writable({ write: (c, _e, cb) => (chunks.push(c as Buffer), cb()) });
  const client = await pool.connect();
  try {
    await dumpSchema(client, sink, { known: await readMigrations(), chantalVersion: "test", createdAt: new Date(0) });
  } finally {
    client.release();
  }
  dump = Buffer.concat(chunks);
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
      const r = await loadDump(c, chunked(dump, size));
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
      await expect(loadDump(c, chunked(dump.subarray(0, dump.length - 40), 4096))).rejects.toThrow(/the dump is incomplete/);
      await c.query("ROLLBACK");
    } finally {
      await c.end();
      await target.drop();
    }
  });
});
