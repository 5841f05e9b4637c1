// Benchmark: pool gc over a filesystem pool of 200,000 blobs of which 50,000 are orphans (rows and files), the dry run
// and the real run, time and peak RSS (targets: real under 30 s, dry run under 10 s, memory bounded by one prefix).
//
//   npx tsx bench/pool-gc.ts [--blobs 200000] [--orphans 50000] [--json]
//
// Uses the embedded PostgreSQL under $CHANTAL_BENCH_DIR (default /tmp/chantal-bench)/gc; blobs are 64-byte files.
import { mkdir, rm, chmod, utimes, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { acquireEmbeddedPostgres } from "../core/db/embedded.js";
import { migrate } from "../core/db/migrate.js";
import { silentLogger } from "../core/log.js";
import { forEachLimited } from "../core/concurrency.js";
import { collectPoolGarbage } from "../core/storage/gc.js";
import { FilesystemBlobStore } from "../core/storage/pool.js";
import { freshDatabase, round, stopwatch, table } from "./lib.js";

const { values } = parseArgs({
  options: { blobs: { type: "string", default: "200000" }, orphans: { type: "string", default: "50000" }, json: { type: "boolean", default: false } },
});
const BLOBS = Number(values.blobs);
const ORPHANS = Number(values.orphans);
const base = join(process.env.CHANTAL_BENCH_DIR ?? join(tmpdir(), "chantal-bench"), "gc");
const log = (s: string) => process.stderr.write(`${s}\n`);
const shaOf = (i: number) => createHash("sha256").update(`blob-${i}`).digest("hex");

/** Rows for every blob (sha256 of "blob-<i>", as the files), the first BLOBS - ORPHANS in one repository's current set. */
async function seed(db: pg.Pool): Promise<void> {
  await db.query(`INSERT INTO chantal.repositories (repo_id, type, upstream_url) VALUES ('bench', 'rpm', 'http://127.0.0.1/')`);
  await db.query(
    `INSERT INTO chantal.packages (sha256, size, type, name, version, arch, checksum)
     SELECT encode(sha256(('blob-' || i)::bytea), 'hex'), 64, 'rpm', 'p' || i, '1', 'noarch', 'sha256:x' FROM generate_series(0, $1::int - 1) i`,
    [BLOBS],
  );
  await db.query(
    `INSERT INTO chantal.repository_packages (repository_id, location, package_id)
     SELECT r.id, 'Packages/' || p.name || '.rpm', p.id FROM chantal.packages p, chantal.repositories r WHERE p.name::text NOT IN (SELECT 'p' || i FROM generate_series($1::int - $2::int, $1::int - 1) i)`,
    [BLOBS, ORPHANS],
  );
  await db.query("ANALYZE");
}

async function writePool(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
  const dirs = new Set<string>();
  for (let i = 0; i < BLOBS; i++) {
    const s = shaOf(i);
    dirs.add(join(root, s.slice(0, 2)));
  }
  for (const d of dirs) await mkdir(d, { recursive: true });
  const old = new Date(Date.now() - 24 * 3_600_000);
  await forEachLimited(
    Array.from({ length: BLOBS }, (_, i) => i),
    64,
    async (i) => {
      const s = shaOf(i);
      const f = join(root, s.slice(0, 2), s);
      await writeFile(f, Buffer.alloc(64, i % 251));
      await utimes(f, old, old);
    },
  );
}

/** Peak RSS while fn runs, sampled every 50 ms (MB). */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; rssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const elapsed = stopwatch();
  try {
    const value = await fn();
    return { value, seconds: elapsed(), rssMb: Math.max(peak, process.memoryUsage().rss) / 1_048_576 };
  } finally {
    clearInterval(timer);
  }
}

await mkdir(join(base, "pg18"), { recursive: true });
await chmod(base, 0o755);
await chmod(join(base, "pg18"), 0o755);
const lease = await acquireEmbeddedPostgres({ basePath: join(base, "pg18"), log: silentLogger() });
try {
  const url = await freshDatabase(lease.adminUrl, "bench_gc");
  const db = new pg.Pool({ connectionString: url, max: 4 });
  await migrate(db);
  const seeding = stopwatch();
  log(`seeding ${BLOBS} rows (${ORPHANS} unreferenced) and ${BLOBS} pool files…`);
  await seed(db);
  const pool = join(base, "pool");
  await writePool(pool);
  log(`  seeded in ${seeding().toFixed(1)} s`);
  const blobs = new FilesystemBlobStore(pool, join(pool, ".tmp"));
  const before = process.memoryUsage().rss / 1_048_576;
  const dry = await measured(() => collectPoolGarbage(db, blobs, { dryRun: true, protectMs: 0 }));
  const real = await measured(() => collectPoolGarbage(db, blobs, { protectMs: 0 }));
  const again = await measured(() => collectPoolGarbage(db, blobs, { dryRun: true, protectMs: 0 }));
  if (dry.value.freed.blobs !== ORPHANS || real.value.freed.blobs !== ORPHANS || real.value.rows.packages !== ORPHANS || again.value.freed.blobs !== 0)
    throw new Error(
      `unexpected counts: dry ${dry.value.freed.blobs}, real ${real.value.freed.blobs} (rows ${real.value.rows.packages}), after ${again.value.freed.blobs}`,
    );
  const rows = [
    ["dry run", dry, 10],
    ["real run", real, 30],
    ["dry run after", again, 10],
  ] as const;
  const result = {
    blobs: BLOBS,
    orphans: ORPHANS,
    rssBeforeMb: round(before, 0),
    runs: rows.map(([name, m, target]) => ({ name, seconds: round(m.seconds), rssMb: round(m.rssMb, 0), targetSeconds: target, ok: m.seconds < target })),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(
    `${table(
      ["run", "seconds", "target", "peak RSS MB"],
      result.runs.map((r) => [r.name, String(r.seconds), `< ${r.targetSeconds}${r.ok ? " ✓" : " ✗"}`, String(r.rssMb)]),
    )}\n(RSS before the runs: ${result.rssBeforeMb} MB)\n`,
  );
  await db.end();
} finally {
  await lease.release();
}
