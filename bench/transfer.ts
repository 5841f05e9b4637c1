// Benchmark: export create and import of 20,000 × 20 KB blobs and of 200 × 5 MiB (1 GB) against `tar cf` / `tar xf` of the same pool files, and a delta after a 2% change.
//
//   npx tsx bench/transfer.ts [--quick] [--runs N] [--only small,large,delta] [--json]
//
// The pool and the database rows are generated directly (a repository, a snapshot of every blob as a package, one
// metadata file): the export reads them as it reads a synced repository's. Uses the embedded PostgreSQL under
// $CHANTAL_BENCH_DIR (default /tmp/chantal-bench)/transfer. Both sides read a warm page cache (the pool was just
// written); the export also fsyncs what it writes (tar cf does not) and hashes every blob.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import type { Config } from "../core/config/schema.js";
import { forEachLimited } from "../core/concurrency.js";
import { acquireEmbeddedPostgres } from "../core/db/embedded.js";
import { migrate } from "../core/db/migrate.js";
import { silentLogger } from "../core/log.js";
import { generateSigningKey } from "../core/openpgp/sign.js";
import { FilesystemBlobStore } from "../core/storage/pool.js";
import { verifyBundle } from "../core/transfer/bundle-verify.js";
import { createExport, type ExportOutcome } from "../core/transfer/export.js";
import { importBundle } from "../core/transfer/import.js";
import { childCpuSeconds, cpuStopwatch, freshDatabase, median, round, stopwatch, table } from "./lib.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    only: { type: "string", default: "small,large,delta" },
    json: { type: "boolean", default: false },
    "cpu-prof-dir": { type: "string" },
  },
});
const QUICK = values.quick === true;
const RUNS = Number(values.runs ?? (QUICK ? 1 : 3));
const ONLY = new Set(values.only!.split(","));
const base = join(process.env.CHANTAL_BENCH_DIR ?? join(tmpdir(), "chantal-bench"), "transfer");
const log = (s: string) => process.stderr.write(`${s}\n`);
const PROFILE_DIR = values["cpu-prof-dir"];

/** Run `fn` under V8's CPU profiler when --cpu-prof-dir is given (only the timed call, not the seeding), into <dir>/<name>.cpuprofile. */
async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!PROFILE_DIR) return fn();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    await mkdir(PROFILE_DIR, { recursive: true });
    await writeFile(join(PROFILE_DIR, `${name}-${randomBytes(2).toString("hex")}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

interface Workload {
  id: string;
  count: number;
  bytes: number;
}
const WORKLOADS: Workload[] = [
  { id: "small", count: QUICK ? 4_000 : 20_000, bytes: 20 * 1024 },
  { id: "large", count: QUICK ? 40 : 200, bytes: 5 * 1024 * 1024 },
];

/** Write `count` random blobs of `bytes` into the pool (pool/<aa>/<sha256>); returns their sha256s. */
async function writeBlobs(pool: string, count: number, bytes: number): Promise<string[]> {
  const shas: string[] = new Array(count);
  await forEachLimited(
    Array.from({ length: count }, (_, i) => i),
    16,
    async (i) => {
      const data = randomBytes(bytes);
      const sha = createHash("sha256").update(data).digest("hex");
      shas[i] = sha;
      await mkdir(join(pool, sha.slice(0, 2)), { recursive: true });
      await writeFile(join(pool, sha.slice(0, 2), sha), data);
    },
  );
  return shas;
}

/** A repository's snapshot `name` of these blobs as packages (and one metadata file, the first blob's sha256 as repomd). */
async function recordSnapshot(db: pg.Pool, repoId: string, name: string, shas: string[], bytes: number): Promise<void> {
  await db.query(`INSERT INTO chantal.repositories (repo_id, type, upstream_url) VALUES ($1, 'rpm', 'http://127.0.0.1/') ON CONFLICT DO NOTHING`, [repoId]);
  for (let i = 0; i < shas.length; i += 10_000) {
    const slice = shas.slice(i, i + 10_000);
    await db.query(
      `INSERT INTO chantal.packages (sha256, size, type, name, version, arch, checksum)
       SELECT s, $2, 'rpm', 'p' || s, '1', 'noarch', 'sha256:' || s FROM unnest($1::char(64)[]) s ON CONFLICT DO NOTHING`,
      [slice, bytes],
    );
  }
  const snap = await db.query(`INSERT INTO chantal.snapshots (repository_id, name) SELECT id, $2 FROM chantal.repositories WHERE repo_id = $1 RETURNING id`, [
    repoId,
    name,
  ]);
  const id = snap.rows[0].id as number;
  await db.query(
    `INSERT INTO chantal.snapshot_packages (snapshot_id, location, package_id) SELECT $1, 'Packages/' || p.sha256 || '.rpm', p.id FROM chantal.packages p WHERE p.sha256 = ANY($2::char(64)[])`,
    [id, shas],
  );
  await db.query(`INSERT INTO chantal.metadata_files (sha256, size) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [shas[0], bytes]);
  await db.query(
    `INSERT INTO chantal.snapshot_metadata (snapshot_id, path, metadata_file_id) SELECT $1, 'repodata/repomd.xml', id FROM chantal.metadata_files WHERE sha256 = $2`,
    [id, shas[0]],
  );
  await db.query("ANALYZE");
}

interface Timed {
  seconds: number;
  /** This process's CPU seconds (every thread; not PostgreSQL's). */
  cpu: number;
  outcome?: ExportOutcome;
}

async function timeExport(
  db: pg.Pool,
  config: Config,
  blobs: FilesystemBlobStore,
  repoId: string,
  snapshot: string,
  format: "dir" | "tar",
  extra: { since?: string } = {},
): Promise<Timed> {
  const output = join(base, "out", `${repoId}-${snapshot}-${format}-${randomBytes(3).toString("hex")}`);
  const elapsed = stopwatch();
  const cpu = cpuStopwatch();
  const outcome = await profiled(`export-${repoId}-${format}`, () =>
    createExport(db, blobs, config, {
      selection: { kind: "snapshot", repo_id: repoId, snapshot },
      format,
      output,
      now: new Date(),
      ...extra,
    }),
  );
  return { seconds: elapsed(), cpu: cpu(), outcome };
}

/** export verify of a bundle (signature skipped: one signature is not what is measured); fails on any problem. */
async function timeVerify(bundle: string): Promise<number> {
  const elapsed = stopwatch();
  const r = await verifyBundle(bundle, { insecure: true });
  if (r.problems.length > 0) throw new Error(`${bundle}: ${r.problems[0]}`);
  return elapsed();
}

/** `sh -c SCRIPT ARGS…` followed by `times`: the CPU seconds of what the script ran. */
function shCpu(script: string, args: string[]): number {
  return childCpuSeconds(execFileSync("sh", ["-c", `${script} && times`, ...args], { encoding: "utf8" }));
}

/**
 * `tar cf` of the pool's files (`seconds`), then again followed by `sync FILE` (its data on disk, as the export's
 * fsyncs make it): `syncedSeconds`, and `cpu`, the CPU seconds of that tar and sync (a measure the other jobs on a
 * shared machine move less than the wall clock).
 */
function timeTar(pool: string, dirs: string[]): { seconds: number; syncedSeconds: number; cpu: number; file: string } {
  const out = join(base, "out", `tar-${randomBytes(3).toString("hex")}.tar`);
  const elapsed = stopwatch();
  execFileSync("sh", ["-c", 'out=$0 pool=$1; shift; tar cf "$out" -C "$pool" "$@"', out, pool, ...dirs]);
  const seconds = elapsed();
  execFileSync("rm", ["-f", out]);
  execFileSync("sync");
  // The CPU ratio's baseline includes the flush, as the export's CPU includes its own fsync.
  const synced = stopwatch();
  const cpu = shCpu('out=$0 pool=$1; shift; tar cf "$out" -C "$pool" "$@" && sync "$out"', [out, pool, ...dirs]);
  return { seconds, syncedSeconds: synced(), cpu, file: out };
}

/** import of a bundle into a fresh receiver (its own database and pool), signature skipped as in timeVerify. */
async function timeImport(adminUrl: string, bundle: string, repoId: string): Promise<{ seconds: number; cpu: number }> {
  const recv = join(base, "receiver");
  await rm(recv, { recursive: true, force: true });
  const db = new pg.Pool({ connectionString: await freshDatabase(adminUrl, "bench_transfer_recv"), max: 4 });
  try {
    await migrate(db);
    const config = {
      storage: { base_path: recv, pool_path: join(recv, "pool"), temp_path: join(recv, "pool", ".tmp"), published_path: join(recv, "published") },
      repositories: [{ id: repoId, type: "rpm", upstream_url: "http://127.0.0.1/", enabled: false }],
      groups: [],
      environments: [],
    } as unknown as Config;
    const elapsed = stopwatch();
    const cpu = cpuStopwatch();
    const r = await profiled(`import-${repoId}`, () => importBundle(db, config, bundle, { insecure: true }));
    const seconds = elapsed();
    const cpuSeconds = cpu();
    if (r.snapshotsCreated.length !== 1) throw new Error(`${bundle}: import created ${r.snapshotsCreated.length} snapshots`);
    return { seconds, cpu: cpuSeconds };
  } finally {
    await db.end();
    await rm(recv, { recursive: true, force: true });
  }
}

/** `tar xf` of a tar of the pool's files into an empty directory, then `sync` (the import fsyncs its blobs). */
function timeUntar(tarFile: string): { seconds: number; cpu: number } {
  const into = join(base, "untar");
  execFileSync("rm", ["-rf", into]);
  execFileSync("mkdir", ["-p", into]);
  const elapsed = stopwatch();
  const cpu = shCpu('tar xf "$0" -C "$1" && sync -f "$1"', [tarFile, into]);
  const seconds = elapsed();
  execFileSync("rm", ["-rf", into]);
  return { seconds, cpu };
}

await mkdir(join(base, "pg18"), { recursive: true });
await chmod(base, 0o755);
await chmod(join(base, "pg18"), 0o755);
const lease = await acquireEmbeddedPostgres({ basePath: join(base, "pg18"), log: silentLogger() });
const results: Record<string, unknown>[] = [];
try {
  const url = await freshDatabase(lease.adminUrl, "bench_transfer");
  const db = new pg.Pool({ connectionString: url, max: 4 });
  await migrate(db);
  const key = await generateSigningKey({ name: "Bench", email: "bench@example.invalid", algorithm: "ed25519" });
  await mkdir(base, { recursive: true });
  await writeFile(join(base, "key.asc"), key.armoredPrivateKey, { mode: 0o600 });
  const config = { storage: { base_path: base }, export: { dir: join(base, "out") }, signing: { key_file: join(base, "key.asc") } } as unknown as Config;
  for (const w of WORKLOADS) {
    if (!ONLY.has(w.id) && !(w.id === "small" && ONLY.has("delta"))) continue;
    const pool = join(base, `pool-${w.id}`);
    await rm(pool, { recursive: true, force: true });
    await rm(join(base, "out"), { recursive: true, force: true });
    await mkdir(join(base, "out"), { recursive: true });
    const seeding = stopwatch();
    log(`${w.id}: writing ${w.count} blobs of ${w.bytes} bytes and their rows…`);
    const shas = await writeBlobs(pool, w.count, w.bytes);
    await recordSnapshot(db, w.id, "s1", shas, w.bytes);
    log(`  seeded in ${seeding().toFixed(1)} s`);
    const blobs = new FilesystemBlobStore(pool, join(pool, ".tmp"));
    const prefixes = [...new Set(shas.map((s) => s.slice(0, 2)))].sort();
    if (ONLY.has(w.id)) {
      const tar: number[] = [];
      const tarSynced: number[] = [];
      const dir: number[] = [];
      const vol: number[] = [];
      const verifyTar: number[] = [];
      const verifyDir: number[] = [];
      const untar: number[] = [];
      const importTar: number[] = [];
      const tarCpu: number[] = [];
      const exportCpu: number[] = [];
      const untarCpu: number[] = [];
      const importCpu: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const t = timeTar(pool, prefixes);
        tar.push(t.seconds);
        tarSynced.push(t.syncedSeconds);
        tarCpu.push(t.cpu);
        const u = timeUntar(t.file);
        untar.push(u.seconds);
        untarCpu.push(u.cpu);
        const tarExport = await timeExport(db, config, blobs, w.id, "s1", "tar");
        vol.push(tarExport.seconds);
        exportCpu.push(tarExport.cpu);
        verifyTar.push(await timeVerify(tarExport.outcome!.path));
        const imp = await timeImport(lease.adminUrl, tarExport.outcome!.path, w.id);
        importTar.push(imp.seconds);
        importCpu.push(imp.cpu);
        const dirExport = await timeExport(db, config, blobs, w.id, "s1", "dir");
        dir.push(dirExport.seconds);
        verifyDir.push(await timeVerify(dirExport.outcome!.path));
        await rm(join(base, "out"), { recursive: true, force: true });
        await mkdir(join(base, "out"), { recursive: true });
      }
      const t = median(tar)!;
      const ts = median(tarSynced)!;
      const row = {
        workload: w.id,
        blobs: w.count,
        mb: round((w.count * w.bytes) / 1_048_576, 0),
        tarCfSeconds: round(t),
        tarCfSyncSeconds: round(ts),
        exportTarSeconds: round(median(vol)),
        exportDirSeconds: round(median(dir)),
        tarRatio: round(median(vol)! / t),
        dirRatio: round(median(dir)! / t),
        tarRatioSynced: round(median(vol)! / ts),
        dirRatioSynced: round(median(dir)! / ts),
        verifyTarSeconds: round(median(verifyTar)),
        verifyDirSeconds: round(median(verifyDir)),
        tarXfSyncSeconds: round(median(untar)),
        importTarSeconds: round(median(importTar)),
        importRatio: round(median(importTar)! / median(untar)!),
        tarCfCpu: round(median(tarCpu)),
        exportTarCpu: round(median(exportCpu)),
        exportCpuRatio: round(median(exportCpu)! / median(tarCpu)!),
        tarXfCpu: round(median(untarCpu)),
        importCpu: round(median(importCpu)),
        importCpuRatio: round(median(importCpu)! / median(untarCpu)!),
      };
      results.push(row);
      log(
        `  tar cf ${row.tarCfSeconds} s (+ sync ${row.tarCfSyncSeconds} s), export --format tar ${row.exportTarSeconds} s (×${row.tarRatio}; ×${row.tarRatioSynced} of tar cf + sync), --format dir ${row.exportDirSeconds} s (×${row.dirRatio}; ×${row.dirRatioSynced}); verify tar ${row.verifyTarSeconds} s, dir ${row.verifyDirSeconds} s; tar xf + sync ${row.tarXfSyncSeconds} s, import of the tar bundle ${row.importTarSeconds} s (×${row.importRatio}); CPU s: tar cf ${row.tarCfCpu}, export tar ${row.exportTarCpu} (×${row.exportCpuRatio}), tar xf ${row.tarXfCpu}, import ${row.importCpu} (×${row.importCpuRatio})`,
      );
    }
    if (w.id === "small" && ONLY.has("delta")) {
      // A 2% upstream change: 2% of the packages replaced by new builds in snapshot s2; the delta against the full export holds only those.
      const full = await timeExport(db, config, blobs, w.id, "s1", "tar");
      const changed = Math.round(w.count * 0.02);
      const fresh = await writeBlobs(pool, changed, w.bytes);
      await recordSnapshot(db, w.id, "s2", [...shas.slice(changed), ...fresh], w.bytes);
      const delta = await timeExport(db, config, blobs, w.id, "s2", "tar", { since: full.outcome!.exportId });
      const o = delta.outcome!;
      const row = {
        workload: "delta",
        blobs: o.blobsReferenced,
        changed,
        included: o.blobsIncluded,
        includedMb: round(o.bytesIncluded / 1_048_576),
        referencedMb: round(o.bytesReferenced / 1_048_576),
        seconds: round(delta.seconds),
        ok: o.blobsIncluded === changed,
      };
      results.push(row);
      log(
        `  delta after a 2% change: ${o.blobsIncluded} of ${o.blobsReferenced} blobs (${row.includedMb} of ${row.referencedMb} MB) in ${row.seconds} s${row.ok ? " ✓" : " ✗"}`,
      );
    }
    await rm(pool, { recursive: true, force: true });
  }
  await db.end();
} finally {
  await lease.release();
  await rm(join(base, "out"), { recursive: true, force: true });
}
if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
const sizes = results.filter((r) => r.workload !== "delta");
process.stderr.write(
  `${table(
    [
      "workload",
      "blobs",
      "MB",
      "tar cf s",
      "+sync s",
      "export tar s",
      "ratio",
      "vs +sync",
      "export dir s",
      "ratio",
      "vs +sync",
      "tar xf+sync s",
      "import s",
      "ratio",
      "cpu: export/tar cf",
      "import/tar xf",
    ],
    sizes.map((r) => [
      String(r.workload),
      String(r.blobs),
      String(r.mb),
      String(r.tarCfSeconds),
      String(r.tarCfSyncSeconds),
      String(r.exportTarSeconds),
      `${r.tarRatio}${Number(r.tarRatio) <= 1 ? " ✓" : " ✗"}`,
      `${r.tarRatioSynced}${Number(r.tarRatioSynced) <= 1 ? " ✓" : " ✗"}`,
      String(r.exportDirSeconds),
      `${r.dirRatio}${Number(r.dirRatio) <= 1 ? " ✓" : " ✗"}`,
      `${r.dirRatioSynced}${Number(r.dirRatioSynced) <= 1 ? " ✓" : " ✗"}`,
      String(r.tarXfSyncSeconds),
      String(r.importTarSeconds),
      `${r.importRatio}${Number(r.importRatio) <= 1 ? " ✓" : " ✗"}`,
      `${r.exportTarCpu}/${r.tarCfCpu} = ${r.exportCpuRatio}`,
      `${r.importCpu}/${r.tarXfCpu} = ${r.importCpuRatio}`,
    ]),
  )}\n`,
);
