// db backup / restore through the real CLI on a real database: sync A, back up, sync B, restore -> A; psql -f; refusals;
// a restore killed midway; the maintenance lock; retention on disk.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { x as extractTar } from "tar";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { seedDatabase } from "../fixtures/backup-seed.js";
import { journalPath } from "../../core/backup/config-swap.js";
import { createBackup } from "../../core/backup/create.js";
import { ownerTag } from "../../core/leftovers.js";
import { readMigrations } from "../../core/db/migrate.js";
import { acquireLock, maintenanceLockRequest } from "../../core/db/locks.js";
import { loadConfig } from "../../core/config/load.js";
import { silentLogger } from "../../core/log.js";
import { cliPath, repoRoot } from "../helpers/cli.js";
import { createTestDatabase } from "../helpers/db.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";
import { rawTar, recraftArchive, validEntries, validMembers } from "../unit/backup/craft-archive.js";

let env: SyncEnvironment;
let upstream: string;
let work: string;

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
  work = mkdtempSync(join(tmpdir(), "chantal-backups-"));
  await generateRpmRepo(upstream, 8, 2_048, { version: "1.0" });
  env = await startSyncEnvironment({ upstream });
});
afterAll(async () => {
  await env?.close();
  rmSync(upstream, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  for (const d of readdirSync(dirname(env.configDir)))
    if (d.startsWith(`${basename(env.configDir)}.backup-`)) rmSync(join(dirname(env.configDir), d), { recursive: true, force: true });
});

/** What "the state" of the database is: the current set with blobs, snapshots, runs and the index checksum. */
async function state() {
  const q = async (sql: string) => (await env.pg.query(sql)).rows;
  return {
    current: await q(
      `SELECT r.repo_id, rp.location, p.sha256 FROM chantal.repository_packages rp JOIN chantal.repositories r ON r.id = rp.repository_id JOIN chantal.packages p ON p.id = rp.package_id ORDER BY 1, 2`,
    ),
    packages: await q(`SELECT sha256, name, version FROM chantal.packages ORDER BY sha256`),
    snapshots: await q(`SELECT name, package_count FROM chantal.snapshots ORDER BY name`),
    runs: await q(`SELECT id, status FROM chantal.sync_runs ORDER BY id`),
    index: await q(`SELECT repo_id, index_checksum FROM chantal.repositories ORDER BY repo_id`),
    schemas: await q(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'chantal%' ORDER BY 1`),
  };
}

async function counts() {
  const r = await env.pg.query(
    `SELECT (SELECT count(*) FROM chantal.packages)::int AS packages, (SELECT count(*) FROM chantal.repositories)::int AS repositories, (SELECT count(*) FROM chantal.sync_runs)::int AS runs`,
  );
  return r.rows[0];
}

function configBackups(): string[] {
  return readdirSync(dirname(env.configDir)).filter((d) => d.startsWith(`${basename(env.configDir)}.backup-`));
}

let backupA: string;
let stateA: Awaited<ReturnType<typeof state>>;

describe("db backup and restore", () => {
  it("sync A, back up, sync B, restore: the state is A's, B is gone, and a re-sync works", async () => {
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "snap-a")).code).toBe(0);
    stateA = await state();
    expect(stateA.current).toHaveLength(8);

    const b = await env.cli("db", "backup", "--target", work, "--json");
    expect(b.code, b.stderr).toBe(0);
    const result = JSON.parse(b.stdout);
    expect(result.status).toBe("success");
    expect(result.location).toMatch(new RegExp(`^${work}/chantal-backup-\\d{8}-\\d{6}\\.tar\\.gz$`));
    expect(result.counts).toMatchObject({ repositories: 1, packages: 8, snapshots: 1 });
    expect(result.size).toBe(readFileSync(result.location).length);
    expect(result.manifest.config_files).toEqual(["config.yaml"]);
    backupA = result.location;
    const text = await env.cli("db", "backup", "--output", join(work, "named.tar"), "--no-compress", "--no-include-config");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^backup: .*named\.tar\nsize: .*\ncontents: 1 repositories, 8 packages, 1 snapshots\n$/);

    // B: upstream drops pkg000000-3, upgrades the rest, adds new ones; a second snapshot.
    await generateRpmRepo(upstream, 8, 2_048, { first: 4, version: "2.0" });
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "snap-b")).code).toBe(0);
    const stateB = await state();
    expect(stateB.current).not.toEqual(stateA.current);

    const structure = async () => ({
      indexes: (await env.pg.query(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'chantal' ORDER BY 2`)).rows,
      constraints: (
        await env.pg.query(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE connamespace = 'chantal'::regnamespace ORDER BY 1`)
      ).rows,
    });
    const structureBefore = await structure();
    const r = await env.cli("db", "restore", backupA, "--yes");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/current: +1 repositories, 16 packages, 2 snapshots/);
    expect(r.stderr).toMatch(/after restore: 1 repositories, 8 packages, 1 snapshots/);
    expect(r.stdout).toMatch(/next steps:\n.*config validate.*\n.*pool verify.*\n.*repo sync --all.*\n.*publish repo --all/);
    const restored = await state();
    // foreign keys and indexes, dropped while the rows loaded, are all back
    expect(await structure()).toEqual(structureBefore);
    expect(structureBefore.constraints.some((c) => c.def.startsWith("FOREIGN KEY"))).toBe(true);
    expect(restored.current).toEqual(stateA.current);
    expect(restored.packages).toEqual(stateA.packages);
    expect(restored.packages.some((p) => p.version === "2.0")).toBe(false);
    expect(restored.snapshots).toEqual([{ name: "snap-a", package_count: 8 }]);
    expect(restored.runs).toEqual(stateA.runs);
    // the pool was not restored with the database: the next sync must re-plan instead of taking the index as unchanged
    expect(restored.index).toEqual(stateA.index.map((r) => ({ ...r, index_checksum: null })));
    expect(restored.schemas).toEqual([{ nspname: "chantal" }]);
    // the config directory was replaced, the previous one kept beside it
    expect(configBackups()).toHaveLength(1);
    expect(readFileSync(join(env.configDir, "config.yaml"), "utf8")).toBe(
      readFileSync(join(dirname(env.configDir), configBackups()[0]!, "config.yaml"), "utf8"),
    );

    // the pool still has every blob; upstream is B, so the next sync brings B back
    expect((await env.cli("pool", "verify")).code).toBe(0);
    const again = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).status).toBe("success");
    expect((await state()).current).toEqual(stateB.current);
  });

  it("db backup-verify checks every member (✓/✗), --deep loads it into a scratch schema and rolls back", async () => {
    const before = await state();
    const v = await env.cli("db", "backup-verify", backupA, "--deep");
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/✓ archive is a readable tar/);
    expect(v.stdout).toMatch(/✓ database.sql.gz sha256/);
    expect(v.stdout).toMatch(/✓ config\/config.yaml sha256/);
    expect(v.stdout).toMatch(/✓ restored packages — 8 rows \(manifest: 8\)/);
    expect(v.stdout).toMatch(/✓ scratch restore rolled back/);
    expect(await state()).toEqual(before);
    const info = await env.cli("db", "backup-info", backupA);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/contents: +1 repositories, 8 packages, 1 snapshots/);
    expect(info.stdout).toMatch(/restorable here: +yes/);
    const list = await env.cli("db", "backup-list", "--target", work, "--json");
    expect(JSON.parse(list.stdout).map((b: { name: string; valid: boolean }) => [b.name, b.valid])).toEqual([
      ["named.tar", true],
      [basename(backupA), true],
    ]);
  });

  it("refuses a tampered member, a truncated archive, a missing manifest, a path-traversal member and a newer schema; nothing changes", async () => {
    const before = await state();
    const configsBefore = configBackups();
    const bad = mkdtempSync(join(work, "bad-"));
    // a real archive, one byte of the dump changed (same size)
    const plain = readFileSync(join(work, "named.tar"));
    const at = plain.indexOf("CREATE SCHEMA chantal;");
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(plain);
    tampered[at + 7] = "s".charCodeAt(0);
    writeFileSync(join(bad, "tampered.tar"), tampered);
    const whole = readFileSync(backupA);
    writeFileSync(join(bad, "truncated.tar.gz"), whole.subarray(0, Math.floor(whole.length / 2)));
    writeFileSync(join(bad, "no-manifest.tar"), rawTar(validEntries().slice(1)));
    const entries = validEntries();
    writeFileSync(join(bad, "traversal.tar"), rawTar([entries[0]!, { path: "config/../../../tmp/chantal-evil", data: "x" }, ...entries.slice(1)]));
    const known = (await readMigrations()).map((m) => m.id);
    writeFileSync(join(bad, "newer.tar.gz"), gzipSync(rawTar(validEntries(validMembers({ migrations: [...known, "9999_from_the_future"] })))));

    const cases: [string, RegExp][] = [
      ["tampered.tar", /database.sql sha256: is [0-9a-f]{64} \(\d+ bytes\), the manifest says [0-9a-f]{64} \(\d+ bytes\): the member was modified/],
      ["truncated.tar.gz", /is not valid: archive is a readable tar: the archive is not a readable tar.*(unexpected end|Truncated)/],
      ["no-manifest.tar", /is not valid: .*manifest.json present: the archive has no manifest.json/],
      ["traversal.tar", /archive member "config\/..\/..\/..\/tmp\/chantal-evil" has a '..' path segment: refused/],
      ["newer.tar.gz", /newer than this Chantal knows .*unknown: 9999_from_the_future\): upgrade Chantal to restore it/],
    ];
    // (backup-verify's ✗ lines for each of these are covered by test/unit/backup/archive.test.ts)
    for (const [file, message] of cases) {
      const r = await env.cli("db", "restore", join(bad, file), "--yes");
      expect(r.code, `${file}: ${r.stderr}`).toBe(1);
      expect(r.stderr, file).toMatch(message);
    }
    expect(existsSync("/tmp/chantal-evil")).toBe(false);
    expect(await state()).toEqual(before);
    expect(configBackups()).toEqual(configsBefore);
    const list = JSON.parse((await env.cli("db", "backup-list", "--target", bad, "--json")).stdout) as { name: string; valid: boolean }[];
    // listing reads manifests only; what it cannot read (or refuses on sight) is shown as invalid
    expect(list.filter((b) => !b.valid).map((b) => b.name)).toContain("no-manifest.tar");
    expect(list.map((b) => b.name).sort()).toEqual(["newer.tar.gz", "no-manifest.tar", "tampered.tar", "traversal.tar", "truncated.tar.gz"]);
    rmSync(bad, { recursive: true, force: true });
  });

  it("a crafted dump with recomputed checksums never runs its SQL: backup-verify --deep and restore refuse it naming the line", async () => {
    const before = await state();
    const bad = mkdtempSync(join(work, "crafted-"));
    const marker = join(bad, "pwned");
    await env.pg.query("CREATE TABLE IF NOT EXISTS public.other_app_data (v text)");
    const injections: [string, string, RegExp][] = [
      ["program.tar", `COPY (SELECT 1) TO PROGRAM 'id > ${marker}';\n`, /database dump line \d+: unexpected statement "COPY \(SELECT 1\) TO PROGRAM/],
      ["commit.tar", "COMMIT;\nDROP TABLE public.other_app_data;\n", /database dump line \d+: unexpected statement "COMMIT;"/],
    ];
    for (const [file, sql] of injections)
      writeFileSync(
        join(bad, file),
        await recraftArchive(join(work, "named.tar"), (dump) => dump.replace("\nSELECT pg_catalog.setval", `\n${sql}SELECT pg_catalog.setval`)),
      );
    for (const [file, , message] of injections) {
      const deep = await env.cli("db", "backup-verify", join(bad, file), "--deep");
      expect(deep.code, `${file}: ${deep.stdout}${deep.stderr}`).toBe(1);
      expect(deep.stdout + deep.stderr).toMatch(message);
      expect(deep.stdout).not.toMatch(/backup is valid/);
      const r = await env.cli("db", "restore", join(bad, file), "--yes", "--no-restore-config");
      expect(r.code, `${file}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    expect(existsSync(marker)).toBe(false);
    expect((await env.pg.query("SELECT to_regclass('public.other_app_data') AS t")).rows[0].t).toBe("other_app_data");
    expect(await state()).toEqual(before);
    rmSync(bad, { recursive: true, force: true });
  });

  it("a 100 MiB line or a gzip bomb is refused at once by backup-verify (plain and --deep) and restore", async () => {
    const before = await state();
    const bad = mkdtempSync(join(work, "bomb-"));
    // 1.3 KB-ish compressed: a comment line of 100 MiB before the dump
    writeFileSync(
      join(bad, "long-line.tar.gz"),
      await recraftArchive(join(work, "named.tar"), (dump) => `-- ${"A".repeat(100 * 1024 * 1024)}\n${dump}`, { gzip: true, keepDeclaredSize: true }),
    );
    // the same, with the manifest's declared size rewritten to match: the line limit still stops it
    writeFileSync(
      join(bad, "long-line-declared.tar.gz"),
      await recraftArchive(join(work, "named.tar"), (dump) => `-- ${"A".repeat(100 * 1024 * 1024)}\n${dump}`, { gzip: true }),
    );
    const started = Date.now();
    const plain = await env.cli("db", "backup-verify", join(bad, "long-line.tar.gz"));
    expect(plain.code, plain.stdout + plain.stderr).toBe(1);
    expect(plain.stdout).toMatch(
      /✗ database dump size — it decompresses to more than \d+ bytes \(the manifest's database_uncompressed_bytes\): a decompression bomb\?/,
    );
    const deep = await env.cli("db", "backup-verify", join(bad, "long-line-declared.tar.gz"), "--deep");
    expect(deep.code, deep.stdout + deep.stderr).toBe(1);
    expect(deep.stdout + deep.stderr).toMatch(/database dump line 1: a statement line longer than 65536 bytes/);
    const r = await env.cli("db", "restore", join(bad, "long-line-declared.tar.gz"), "--yes", "--no-restore-config");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/database dump line 1: a statement line longer than 65536 bytes/);
    // minutes before; a few seconds of process start-up now (generous: a loaded CI machine)
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(await state()).toEqual(before);
    rmSync(bad, { recursive: true, force: true });
  });

  it("without a terminal and without --yes it refuses (exit 2); while a sync holds the database it refuses (exit 75) naming it", async () => {
    const before = await state();
    const noTty = await env.cli("db", "restore", backupA);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/refusing to restore without confirmation: .*pass --yes/);
    const lock = await acquireLock(env.db.url, maintenanceLockRequest("shared", "sync r1"));
    try {
      const busy = await env.cli("db", "restore", backupA, "--yes", "--no-restore-config");
      expect(busy.code).toBe(75);
      expect(busy.stderr).toMatch(/refusing to restore while the database is in use by: sync r1 \(\S+ pid \d+ since /);
    } finally {
      await lock.release();
    }
    expect(await state()).toEqual(before);
  });

  it("a restore stopped with SIGTERM or killed with SIGKILL midway leaves the database exactly as it was", async () => {
    await seedDatabase(env.pg, { repositories: 2, packages: 60_000, snapshots: 0 });
    const big = JSON.parse((await env.cli("db", "backup", "--target", work, "--no-include-config", "--json")).stdout);
    expect(big.status).toBe("success");
    await env.pg.query(`DELETE FROM chantal.repositories WHERE repo_id LIKE 'seed%'`);
    await env.pg.query(
      `DELETE FROM chantal.packages p WHERE NOT EXISTS (SELECT 1 FROM chantal.repository_packages WHERE package_id = p.id) AND NOT EXISTS (SELECT 1 FROM chantal.snapshot_packages WHERE package_id = p.id)`,
    );
    const before = await state();
    const beforeCounts = await counts();

    const reachCopy = async (run: ReturnType<typeof env.spawn>) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await env.pg.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'chantal-restore' AND query ILIKE 'COPY chantal."packages"%' AND state = 'active'`,
        );
        if (r.rowCount) return;
        if (Date.now() > deadline) throw new Error(`the restore never reached the COPY of packages: ${run.output()}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    // SIGTERM mid-load: a clean stop within a couple of seconds, exit 143, nothing restored
    const stopped = env.spawn("db", "restore", big.location, "--yes");
    await reachCopy(stopped);
    const t0 = Date.now();
    stopped.child.kill("SIGTERM");
    const exited = await Promise.race([stopped.result, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    if (!exited) stopped.child.kill("SIGKILL");
    expect(exited?.code, stopped.output()).toBe(143);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await state()).toEqual(before);

    const run = env.spawn("db", "restore", big.location, "--yes");
    await reachCopy(run);
    run.child.kill("SIGKILL");
    expect((await run.result).signal).toBe("SIGKILL");
    // the server notices the dead client and rolls back; wait for its backend to go
    for (
      let i = 0;
      (await env.pg.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'chantal-restore'`)).rowCount;
      i++
    ) {
      if (i > 200) throw new Error("the killed restore's backend did not go away");
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(await state()).toEqual(before);
    expect(await counts()).toEqual(beforeCounts);

    // the lock died with the process: the same restore now completes
    const ok = await env.cli("db", "restore", big.location, "--yes");
    expect(ok.code, ok.stderr).toBe(0);
    expect((await counts()).packages).toBe(big.counts.packages);
  });
});

describeWithTools(["script"], "restore at a terminal", () => {
  it("asks for the word yes; any other answer cancels and changes nothing", async () => {
    const before = await state();
    const cmd = `${process.execPath} ${cliPath} --config-dir ${env.configDir} db restore ${backupA} --no-restore-config`;
    const run = spawnSync("sh", ["-c", `printf 'y\\n' | script -qec "${cmd}" /dev/null`], {
      cwd: repoRoot,
      env: { ...process.env, CHANTAL_FROM_SOURCE: "1", CHANTAL_LOG_LEVEL: "warn" },
      encoding: "utf8",
    });
    expect(run.status).toBe(1);
    const r = run.stdout;
    expect(r).toMatch(/Type yes to restore:/);
    expect(r).toMatch(/restore cancelled: nothing was changed/);
    expect(await state()).toEqual(before);
  });
});

describeWithTools(["psql"], "psql -f", () => {
  it("restores the dump into an empty database with the same counts", async () => {
    const out = mkdtempSync(join(work, "x-"));
    await extractTar({ file: backupA, cwd: out });
    const sql = join(out, "database.sql");
    writeFileSync(sql, gunzipSync(readFileSync(join(out, "database.sql.gz"))));
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const empty = await createTestDatabase("psql");
    try {
      execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", sql, empty.url], { stdio: ["ignore", "ignore", "pipe"] });
      const pg = await import("pg");
      const c = new pg.default.Client({ connectionString: empty.url });
      await c.connect();
      try {
        for (const [table, n] of Object.entries(manifest.tables as Record<string, number>)) {
          const r = await c.query(`SELECT count(*)::int AS n FROM chantal."${table}"`);
          expect([table, r.rows[0].n]).toEqual([table, n]);
        }
        expect(manifest.tables.packages).toBe(8);
        const seq = await c.query(`SELECT last_value::int AS v FROM chantal.packages_id_seq`);
        expect(seq.rows[0].v).toBeGreaterThanOrEqual(8);
      } finally {
        await c.end();
      }
    } finally {
      await empty.drop();
    }
  });
});

describe("retention on disk", () => {
  it("is applied after each backup and never deletes the newest valid backup", async () => {
    const dir = mkdtempSync(join(work, "ret-"));
    const loaded = await loadConfig({ configDir: env.configDir });
    const config = { ...loaded.config, backup: { ...loaded.config.backup, retention: { keep_last: 2 } } };
    const at = (iso: string) => () => new Date(iso);
    const ctx = { config, configDir: env.configDir, databaseUrl: env.db.url, log: silentLogger(), signal: new AbortController().signal };
    for (const t of ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"]) {
      await createBackup({ target: dir, includeConfig: false, compress: true }, { ...ctx, now: at(t) });
    }
    // an unreadable newest archive is not counted and not deleted
    writeFileSync(join(dir, "chantal-backup-20240105-000000.tar.gz"), "garbage");
    const last = await createBackup({ target: dir, includeConfig: false, compress: true }, { ...ctx, now: at("2024-01-04T00:00:00Z") });
    expect(last.prune?.deleted).toEqual(["chantal-backup-20240102-000000.tar.gz"]);
    expect(readdirSync(dir).sort()).toEqual([
      "chantal-backup-20240103-000000.tar.gz",
      "chantal-backup-20240104-000000.tar.gz",
      "chantal-backup-20240105-000000.tar.gz",
    ]);
    const dry = await env.cli("db", "backup-prune", "--target", dir, "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/no backup.retention in the configuration: nothing pruned/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("what killed backups and restores leave behind", () => {
  it("the next backup removes a dead backup's staging directory (a dump and a copy of the config) and partial archive", async () => {
    const dir = mkdtempSync(join(work, "leftovers-"));
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const tag = ownerTag(hostname(), Number(dead.stdout.trim()));
    const staging = join(dir, `.chantal-backup-staging${tag}x1`);
    mkdirSync(join(staging, "config"), { recursive: true });
    writeFileSync(join(staging, "config", "config.yaml"), "password: hunter2\n");
    writeFileSync(join(dir, `.chantal-backup-20260101-000000.tar.gz.partial${tag}x2`), "half");
    // a live process's partial (this test's own pid) is not touched
    const live = `.chantal-backup-20260101-000001.tar.gz.partial${ownerTag(hostname(), process.pid)}x3`;
    writeFileSync(join(dir, live), "in progress");
    const b = await env.cli("db", "backup", "--target", dir, "--json");
    expect(b.code, b.stderr).toBe(0);
    const names = readdirSync(dir).sort();
    expect(names.filter((n) => n.startsWith("."))).toEqual([live]);
    expect(names.filter((n) => n.endsWith(".tar.gz"))).toHaveLength(1);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a restore killed between the two renames of its configuration swap is completed by the next command, which says so", async () => {
    const cfg = env.configDir;
    const original = readFileSync(join(cfg, "config.yaml"), "utf8");
    // The state swapConfigDir leaves when killed after its first rename: journal written, old dir moved aside.
    const staged = join(dirname(cfg), `.${basename(cfg)}.restore${ownerTag(hostname(), 999_999)}zz`);
    mkdirSync(staged);
    writeFileSync(join(staged, "config.yaml"), `${original}# restored\n`);
    const movedTo = `${cfg}.backup-20260101-000000`;
    renameSync(cfg, movedTo);
    writeFileSync(journalPath(cfg), JSON.stringify({ staged, movedTo, at: "2026-01-01T00:00:00.000Z" }));
    try {
      const r = await env.cli("repo", "list");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /a restore at 2026-01-01T00:00:00.000Z was interrupted while swapping the configuration directory; the restored configuration is now in/,
      );
      expect(readFileSync(join(cfg, "config.yaml"), "utf8")).toBe(`${original}# restored\n`);
      expect(existsSync(journalPath(cfg))).toBe(false);
      expect(existsSync(staged)).toBe(false);
      const again = await env.cli("repo", "list");
      expect(again.stderr).not.toMatch(/interrupted/);
    } finally {
      writeFileSync(join(cfg, "config.yaml"), original);
      rmSync(movedTo, { recursive: true, force: true });
    }
  });
});
