// Benchmark: db backup and restore of a database with 200,000 packages and 50 snapshots (time and peak RSS), and the
// dump time beside pg_dump of the same schema on the same server when pg_dump can talk to it (as a ratio).
//
//   npx tsx bench/backup.ts [--packages 200000] [--snapshots 50] [--repositories 4] [--runs 3] [--json]
//
// The embedded server is PostgreSQL 18; Debian's pg_dump is 15 and refuses a newer server ("server version mismatch").
// So, when /usr/lib/postgresql/15/bin has a server, the same data is also loaded into a throw-away PostgreSQL 15 and both
// dumps run there side by side. Backup and restore run in child processes that report their own peak RSS.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { createBackup } from "../core/backup/create.js";
import { LocalStore } from "../core/backup/store.js";
import { dumpSchema } from "../core/backup/dump.js";
import { readMigrations } from "../core/db/migrate.js";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { executeRestore, planRestore } from "../core/backup/restore-backup.js";
import { ConfigSchema } from "../core/config/schema.js";
import { acquireEmbeddedPostgres } from "../core/db/embedded.js";
import { migrate } from "../core/db/migrate.js";
import { silentLogger } from "../core/log.js";
import { seedDatabase } from "../test/fixtures/backup-seed.js";
import { freePort, freshDatabase, median, stopwatch } from "./lib.js";

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), "..");
const PG15 = "/usr/lib/postgresql/15/bin";

interface StepResult {
  ms: number;
  rssMb: number;
  bytes?: number;
}

// ------------------------------------------------------------------------------------------- child steps

async function childStep(step: string, url: string, dir: string, compress: boolean): Promise<void> {
  const elapsed = stopwatch();
  const ctx = { log: silentLogger(), signal: new AbortController().signal, now: () => new Date() };
  let bytes: number | undefined;
  if (step === "dump") {
    // The dump alone (what pg_dump does): one snapshot, COPY streams, gzip level 1, to a file.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const gz = createGzip({ level: 1 });
    const file = join(dir, `dump-${Date.now()}.sql.gz`);
    const written = pipeline(gz, createWriteStream(file));
    await dumpSchema(client, gz, { known: await readMigrations(), chantalVersion: "bench", createdAt: new Date() });
    gz.end();
    await written;
    await client.end();
    bytes = (await stat(file)).size;
  } else if (step === "backup") {
    const config = ConfigSchema.parse({ storage: { base_path: dir }, database: { url } });
    const out = await createBackup(
      { output: join(dir, `b-${Date.now()}.tar${compress ? ".gz" : ""}`), includeConfig: false, compress },
      { ...ctx, config, configDir: dir, databaseUrl: url },
    );
    bytes = out.size;
    process.stderr.write(`${out.location}\n`);
  } else {
    const file = process.env.BENCH_ARCHIVE!;
    const db = new pg.Pool({ connectionString: url, max: 2 });
    const store = new LocalStore(dirname(file));
    const env = { ...ctx, databaseUrl: url, db };
    const plan = await planRestore(store, file.split("/").pop()!, { restoreConfig: false, configDir: dir }, env);
    await executeRestore(plan, store, file.split("/").pop()!, env);
    await db.end();
  }
  const ms = elapsed() * 1000;
  process.stdout.write(JSON.stringify({ ms, rssMb: process.resourceUsage().maxRSS / 1024, bytes }) + "\n");
}

function runChild(step: string, url: string, dir: string, extraEnv: Record<string, string> = {}, compress = true): Promise<StepResult & { location?: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", SELF, "--step", step, "--url", url, "--dir", dir, ...(compress ? [] : ["--no-compress"])], {
      cwd: ROOT,
      env: { ...process.env, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${step} failed (${code}): ${err}`));
      resolvePromise({ ...JSON.parse(out.trim().split("\n").pop()!), location: err.trim().split("\n").pop() });
    });
  });
}

// ------------------------------------------------------------------------------------------- servers

/** A throw-away PostgreSQL 15 (Debian's binaries), run as `postgres` when we are root. */
async function startPg15(dir: string): Promise<{ url: string; stop(): void } | { error: string }> {
  if (!existsSync(join(PG15, "postgres"))) return { error: `${PG15}/postgres not installed` };
  const asUser = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const run = (cmd: string, args: string[]) => spawnSync(asUser[0] ?? cmd, asUser.length ? [...asUser.slice(1), cmd, ...args] : args, { encoding: "utf8" });
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o777);
  const data = join(dir, "data");
  const init = run(join(PG15, "initdb"), ["-D", data, "-U", "bench", "--auth=trust", "-E", "UTF8"]);
  if (init.status !== 0) return { error: `initdb failed: ${init.stderr.trim().split("\n")[0]}` };
  const port = await freePort();
  const start = run(join(PG15, "pg_ctl"), [
    "-D",
    data,
    "-l",
    join(dir, "log"),
    "-w",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    "start",
  ]);
  if (start.status !== 0) return { error: `pg_ctl start failed: ${start.stderr.trim()}` };
  return { url: `postgres://bench@127.0.0.1:${port}/postgres`, stop: () => void run(join(PG15, "pg_ctl"), ["-D", data, "-m", "fast", "stop"]) };
}

async function prepare(url: string, o: { packages: number; snapshots: number; repositories: number }): Promise<{ ms: number; rows: Record<string, number> }> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const elapsed = stopwatch();
  await migrate(pool);
  await seedDatabase(pool, o);
  const rows: Record<string, number> = {};
  for (const table of ["packages", "repository_packages", "snapshots", "snapshot_packages"])
    rows[table] = Number((await pool.query(`SELECT count(*) FROM chantal.${table}`)).rows[0].count);
  await pool.end();
  return { ms: elapsed() * 1000, rows };
}

function pgDump(url: string, file: string, compress: boolean, bin = "pg_dump"): { ms: number; bytes: number } | { error: string } {
  const elapsed = stopwatch();
  const r = spawnSync(bin, ["-n", "chantal", "-Fp", ...(compress ? ["-Z", "1"] : []), "-f", file, url], { encoding: "utf8" });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || "failed").trim().split("\n").slice(0, 2).join(" ") };
  return { ms: elapsed() * 1000, bytes: spawnSync("stat", ["-c", "%s", file], { encoding: "utf8" }).stdout.trim() as unknown as number };
}

/** The median of millisecond samples, in seconds. */
const medianSec = (ms: number[]) => (median(ms) ?? NaN) / 1000;

// ------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      step: { type: "string" },
      url: { type: "string" },
      dir: { type: "string" },
      "no-compress": { type: "boolean" },
      packages: { type: "string", default: "200000" },
      snapshots: { type: "string", default: "50" },
      repositories: { type: "string", default: "4" },
      runs: { type: "string", default: "3" },
      json: { type: "boolean" },
    },
  });
  if (values.step) return childStep(values.step, values.url!, values.dir!, !values["no-compress"]);
  const o = { packages: Number(values.packages), snapshots: Number(values.snapshots), repositories: Number(values.repositories) };
  const runs = Number(values.runs);
  const base = join(process.env.CHANTAL_BENCH_DIR ?? join(tmpdir(), "chantal-bench"), "backup");
  await mkdir(base, { recursive: true });
  await chmod(base, 0o755);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const report: Record<string, unknown> = { workload: o, runs };

  log(`PostgreSQL 18 (embedded): seeding ${o.packages} packages, ${o.snapshots} snapshots…`);
  await mkdir(join(base, "pg18"), { recursive: true });
  await chmod(join(base, "pg18"), 0o755);
  const lease = await acquireEmbeddedPostgres({ basePath: join(base, "pg18"), log: silentLogger() });
  try {
    const url = await freshDatabase(lease.adminUrl, "bench_backup");
    const seeded = await prepare(url, o);
    report.rows = seeded.rows;
    log(`  seeded in ${(seeded.ms / 1000).toFixed(1)} s: ${JSON.stringify(seeded.rows)}`);
    const work = join(base, "archives");
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    const backups: (StepResult & { location?: string })[] = [];
    for (let i = 0; i < runs; i++) backups.push(await runChild("backup", url, work));
    const dumps: StepResult[] = [];
    for (let i = 0; i < runs; i++) dumps.push(await runChild("dump", url, work));
    const restores: StepResult[] = [];
    for (let i = 0; i < runs; i++) restores.push(await runChild("restore", url, work, { BENCH_ARCHIVE: backups[0]!.location! }));
    report.pg18 = {
      dump: { medianSec: medianSec(dumps.map((d) => d.ms)), peakRssMb: Math.max(...dumps.map((d) => d.rssMb)), bytes: dumps[0]!.bytes },
      backup: {
        medianSec: medianSec(backups.map((b) => b.ms)),
        peakRssMb: Math.max(...backups.map((b) => b.rssMb)),
        archiveBytes: (await stat(backups[0]!.location!)).size,
      },
      restore: { medianSec: medianSec(restores.map((r) => r.ms)), peakRssMb: Math.max(...restores.map((r) => r.rssMb)) },
      pg_dump: pgDump(url, join(work, "pg_dump.sql.gz"), true),
    };
    log(`  ${JSON.stringify(report.pg18)}`);
  } finally {
    await lease.release();
  }

  log("PostgreSQL 15 (Debian's binaries): the same data, our dump beside pg_dump 15…");
  const pg15 = await startPg15(join(base, "pg15"));
  if ("error" in pg15) report.pg15 = { skipped: pg15.error };
  else {
    try {
      const url = await freshDatabase(pg15.url, "bench_backup");
      await prepare(url, o);
      const work = join(base, "archives15");
      await rm(work, { recursive: true, force: true });
      await mkdir(work, { recursive: true });
      await chmod(work, 0o777);
      const ours: StepResult[] = [];
      const oursBackup: StepResult[] = [];
      const theirs: number[] = [];
      let theirBytes = 0;
      for (let i = 0; i < runs; i++) {
        ours.push(await runChild("dump", url, work));
        oursBackup.push(await runChild("backup", url, work));
        const d = pgDump(url, join(work, `pg_dump-${i}.sql.gz`), true, join(PG15, "pg_dump"));
        if ("error" in d) throw new Error(`pg_dump: ${d.error}`);
        theirs.push(d.ms);
        theirBytes = Number(d.bytes);
      }
      const oursSec = medianSec(ours.map((b) => b.ms));
      const theirsSec = medianSec(theirs);
      report.pg15 = {
        chantalDumpSec: oursSec,
        chantalDumpBytes: ours[0]!.bytes,
        chantalBackupSec: medianSec(oursBackup.map((b) => b.ms)),
        pgDumpSec: theirsSec,
        pgDumpBytes: theirBytes,
        dumpRatio: oursSec / theirsSec,
      };
      log(`  ${JSON.stringify(report.pg15)}`);
    } finally {
      pg15.stop();
    }
  }
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else {
    const r18 = report.pg18 as {
      dump: { medianSec: number };
      backup: { medianSec: number; peakRssMb: number; archiveBytes: number };
      restore: { medianSec: number; peakRssMb: number };
      pg_dump: { ms?: number; error?: string };
    };
    const lines = [
      `workload: ${o.packages} packages, ${o.snapshots} snapshots, ${o.repositories} repositories — rows ${JSON.stringify(report.rows)}; median of ${runs}`,
      `PostgreSQL 18: dump ${r18.dump.medianSec.toFixed(1)} s; backup ${r18.backup.medianSec.toFixed(1)} s (peak RSS ${r18.backup.peakRssMb.toFixed(0)} MB, archive ${(r18.backup.archiveBytes / 1e6).toFixed(1)} MB); restore ${r18.restore.medianSec.toFixed(1)} s (peak RSS ${r18.restore.peakRssMb.toFixed(0)} MB)`,
      `  pg_dump there: ${r18.pg_dump.error ?? `${((r18.pg_dump.ms ?? 0) / 1000).toFixed(1)} s`}`,
      `PostgreSQL 15: ${JSON.stringify(report.pg15)}`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }
}

await main();
