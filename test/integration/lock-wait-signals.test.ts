// A command interrupted while it waits for a repository lock held by another process: SIGINT exits 130, SIGTERM 143;
// and the same codes once it holds the lock and downloads.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import type { RepositoryConfig } from "../../core/config/schema.js";
import { migrate } from "../../core/db/migrate.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { startLockHolder } from "../helpers/lock-holder-process.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

let upstream: string;
let env: SyncEnvironment;
let repoKey: number;

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-lockwait-up-")); // never read: the sync stops while waiting for the lock
  env = await startSyncEnvironment({ upstream });
  await migrate(env.pg);
  repoKey = (await ensureRepository(env.pg, { id: "r1", type: "rpm", upstream_url: `${env.server.url}/` } as RepositoryConfig)).id;
});
afterAll(async () => {
  await env.close();
  rmSync(upstream, { recursive: true, force: true });
});

/**
 * The waiting command's lock connections (application_name "chantal-lock:<purpose>#<pid>") that are open: its pid
 * and this file's database only, as the suite's other files sync their own "r1" on the same server at the same time
 * (counting theirs sent the signal before our command had even started).
 */
async function lockConnections(purpose: string, pid: number): Promise<number> {
  const r = await env.pg.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, [
    `chantal-lock:${purpose}#${pid}`,
  ]);
  return r.rows[0].n;
}

async function interruptWhileWaiting(args: string[], purpose: string, connections: number, signal: NodeJS.Signals) {
  const holder = await startLockHolder(env.db.url, repoKey, "test: a manual sync elsewhere");
  try {
    const cmd = env.spawn(...args);
    await until("the command waiting for the repository lock", async () => (await lockConnections(purpose, cmd.child.pid!)) >= connections);
    await new Promise((r) => setTimeout(r, 300)); // a few polls of the wait loop
    const sent = Date.now();
    cmd.child.kill(signal);
    const result = await cmd.result;
    const elapsedMs = Date.now() - sent;
    // The holder still has its lock; the waiter left no connection behind.
    expect(holder.child.exitCode).toBeNull();
    await until("the waiter's lock connections closed", async () => (await lockConnections(purpose, cmd.child.pid!)) === 0);
    return { ...result, elapsedMs };
  } finally {
    await holder.release();
  }
}

describe("interrupted while waiting for a lock", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    // Two lock connections: the shared maintenance lock is held, the repository lock is being polled.
    it(`repo sync --wait: ${signal} exits ${code}`, async () => {
      const r = await interruptWhileWaiting(["repo", "sync", "--repo-id", "r1", "--wait"], "sync r1", 2, signal);
      expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
      expect(r.elapsedMs).toBeLessThan(5_000);
      expect(r.stderr).toContain(`error: interrupted by ${signal} while waiting for the lock (sync r1)`);
    });
  }

  it("publish repo (waits for a running sync): SIGINT exits 130", async () => {
    const r = await interruptWhileWaiting(["publish", "repo", "--repo-id", "r1"], "publish r1", 1, "SIGINT");
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 130, signal: null });
    expect(r.stderr).toContain("error: interrupted by SIGINT while waiting for the lock (publish r1)");
  });
});

describe("interrupted after taking the lock, while downloading", () => {
  it("repo sync: SIGINT exits 130 and the run is recorded as interrupted", async () => {
    const slowUpstream = mkdtempSync(join(tmpdir(), "chantal-lockwait-slow-"));
    await generateRpmRepo(slowUpstream, 80, 16_384);
    // 100 ms per package, 8 at a time: about a second of downloads, most of it still ahead when the signal comes.
    const slow = await startSyncEnvironment({
      upstream: slowUpstream,
      faults: (req) => (req.path.endsWith(".rpm") ? { chunkBytes: 4096, chunkDelayMs: 25 } : undefined),
    });
    try {
      const run = slow.spawn("repo", "sync", "--repo-id", "r1");
      // Requested packages, not pooled ones: pooled blobs appear a recorder batch at a time (every second, or at the
      // end of a short download), and waiting for them let the signal come after the commit (CI of 8e5d35a: exit 0).
      await until("a few packages requested", () => slow.server.requests.filter((r) => r.path.endsWith(".rpm")).length >= 8);
      run.child.kill("SIGINT");
      const r = await run.result;
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 130, signal: null });
      const row = (await slow.pg.query(`SELECT status, error FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(row).toMatchObject({ status: "interrupted", error: expect.stringMatching(/SIGINT/) });
    } finally {
      await slow.close();
      rmSync(slowUpstream, { recursive: true, force: true });
    }
  });
});
