// PostgreSQL going away, or a statement blocked on a lock, during the commit and the publish of a real CLI sync.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

const COUNT = 12;
let upstream: string;
const envs: SyncEnvironment[] = [];
const holders: pg.Client[] = [];

/** Package bodies trickle (about a second for the whole run), so that a test can act between the plan and the commit. */
async function environment(): Promise<SyncEnvironment> {
  if (!upstream) {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, COUNT, 16_384);
  }
  const env = await startSyncEnvironment({ upstream, faults: (req) => (req.path.endsWith(".rpm") ? { chunkBytes: 4096, chunkDelayMs: 60 } : undefined) });
  envs.push(env);
  return env;
}

/** A second session holding a lock in an open transaction until the test ends it. */
async function holdLock(env: SyncEnvironment, sql: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: env.db.url });
  c.on("error", () => undefined);
  await c.connect();
  holders.push(c);
  await c.query("BEGIN");
  await c.query(sql);
  return c;
}

/** The CLI's backend that waits on a lock while running `statement` (its start, in any case). */
function blockedBackend(env: SyncEnvironment, statement: string): Promise<number> {
  return until(`a backend blocked in ${statement}`, async () => {
    const r = await env.pg.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1`, [
      `${statement}%`,
    ]);
    return r.rows[0]?.pid as number | undefined;
  });
}

/** PostgreSQL drops every session of the CLI process (what a server restart does to it). */
async function terminateSessionsOf(env: SyncEnvironment, pid: number): Promise<number> {
  const r = await env.pg.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name LIKE $1`, [`%#${pid}`]);
  return r.rows[0].n as number;
}

/** The CLI's result, or null when it has not exited within `ms` (it is killed then, so the test ends). */
async function resultWithin(run: ReturnType<SyncEnvironment["spawn"]>, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  const r = await Promise.race([run.result, late]);
  clearTimeout(timer);
  if (r === null) run.child.kill("SIGKILL");
  return r;
}

function treeLeftovers(env: SyncEnvironment): string[] {
  const trees = join(env.base, "published", "r1", ".trees");
  return existsSync(trees) ? readdirSync(trees).filter((n) => n.includes(".building")) : [];
}

async function lastRun(env: SyncEnvironment) {
  return (await env.pg.query(`SELECT status, error, packages_downloaded, bytes_downloaded FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
}

afterEach(async () => {
  for (const h of holders.splice(0)) await h.end().catch(() => undefined);
  for (const e of envs.splice(0)) await e.close();
});
afterAll(() => {
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

describe("the database during the commit", () => {
  it("SIGTERM interrupts a commit blocked on a row lock within seconds: exit 143, nothing committed", async () => {
    const env = await environment();
    const run = env.spawn("--log-level", "debug", "repo", "sync", "--repo-id", "r1");
    await until("the plan", () => run.output().includes('"msg":"plan"'));
    const holder = await holdLock(env, `SELECT 1 FROM chantal.repositories WHERE repo_id = 'r1' FOR NO KEY UPDATE`);
    await blockedBackend(env, 'UPDATE "chantal"."repositories"'); // recordIndexChecksum, through drizzle
    run.child.kill("SIGTERM");
    const r = await resultWithin(run, 5_000);
    await holder.query("ROLLBACK");
    expect(r?.code).toBe(143);
    const row = await lastRun(env);
    expect(row.status).toBe("interrupted");
    expect((await env.pg.query(`SELECT index_checksum FROM chantal.repositories WHERE repo_id = 'r1'`)).rows[0].index_checksum).toBeNull();
    expect(env.tempFiles()).toEqual([]);
  });

  it("losing every database session in the commit fails cleanly: the message, the result line, the run recorded", async () => {
    const env = await environment();
    const run = env.spawn("--log-level", "debug", "repo", "sync", "--repo-id", "r1");
    await until("the plan", () => run.output().includes('"msg":"plan"'));
    const holder = await holdLock(env, `SELECT 1 FROM chantal.repositories WHERE repo_id = 'r1' FOR NO KEY UPDATE`);
    await blockedBackend(env, 'UPDATE "chantal"."repositories"'); // recordIndexChecksum, through drizzle
    expect(await terminateSessionsOf(env, run.child.pid!)).toBeGreaterThan(0);
    const r = await run.result;
    await holder.query("ROLLBACK");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lost the database connection during the commit of repository r1/);
    expect(r.stderr).not.toMatch(/Unhandled|node:events|at Client\./);
    expect(r.stdout).toMatch(/^r1: failed in [\d.]+ s — 12 packages downloaded \([\d.]+ MB\) are kept in the pool and will not be downloaded again$/m);
    const row = await lastRun(env);
    expect(row.status).toBe("failed");
    expect(row.error).toMatch(/lost the database connection/);
    expect(row.packages_downloaded).toBe(COUNT);
    expect(treeLeftovers(env)).toEqual([]);
  });
});

describe("the database during the publish", () => {
  /** A synced but unpublished repository, whose next (no-op) sync publishes; its tree query waits on a table lock. */
  async function publishBlocked(env: SyncEnvironment) {
    expect((await env.cli("repo", "sync", "--repo-id", "r1", "--no-publish")).code).toBe(0);
    const holder = await holdLock(env, `LOCK TABLE chantal.repository_metadata IN ACCESS EXCLUSIVE MODE`);
    const run = env.spawn("repo", "sync", "--repo-id", "r1");
    // The first tree query is the publish gate's (treeWithSizes, core/db/package-sets.ts): nothing is built before it has read the whole tree.
    await blockedBackend(env, "SELECT rp.location AS path, p.sha256, p.size");
    expect(treeLeftovers(env)).toEqual([]);
    return { run, holder };
  }

  it("losing every database session while the publish reads its tree fails cleanly and leaves no tree", async () => {
    const env = await environment();
    const { run, holder } = await publishBlocked(env);
    expect(await terminateSessionsOf(env, run.child.pid!)).toBeGreaterThan(0);
    const r = await run.result;
    await holder.query("ROLLBACK");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lost the database connection during the publish of r1\/latest/);
    expect(r.stdout).toMatch(/^r1: failed/m);
    expect(treeLeftovers(env)).toEqual([]);
    expect(existsSync(env.published("r1"))).toBe(false);
    expect((await lastRun(env)).status).toBe("failed");
  });

  it("SIGTERM interrupts a publish whose tree query is blocked: exit 143, no tree left, nothing published", async () => {
    const env = await environment();
    const { run, holder } = await publishBlocked(env);
    run.child.kill("SIGTERM");
    const r = await resultWithin(run, 5_000);
    await holder.query("ROLLBACK");
    expect(r?.code).toBe(143);
    expect(treeLeftovers(env)).toEqual([]);
    expect(existsSync(env.published("r1"))).toBe(false);
    expect((await lastRun(env)).status).toBe("interrupted");
  });
});
