// Advisory locks on a real PostgreSQL (core/db/locks.ts): who holds what, waiting, refusal with the holder named.
import type { ChildProcess } from "node:child_process";
import { hostname } from "node:os";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireLock, LockHeldError, lockHolders, maintenanceLockRequest, repositoryLockRequest } from "../../core/db/locks.js";
import { LockClass } from "../../core/db/lock-ids.js";
import { closeIdleLockSessions, idleLockSessionCount } from "../../core/db/lock-sessions.js";
import { migrate } from "../../core/db/migrate.js";
import { LockBusyError, LockLostError } from "../../core/errors.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startLockHolder } from "../helpers/lock-holder-process.js";

let tdb: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  tdb = await createTestDatabase("locks");
  pool = new pg.Pool({ connectionString: tdb.url });
  await migrate(pool);
});
afterAll(async () => {
  await pool.end();
  await tdb.drop();
});

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("exit", (code) => resolve(code))));
}

describe("repository locks", () => {
  it("second connection fails fast and names the holder; release frees it", async () => {
    const a = await acquireLock(tdb.url, repositoryLockRequest(1, "sync r1"));
    try {
      const err = await acquireLock(tdb.url, repositoryLockRequest(1, "sync r1 again")).catch((e) => e);
      expect(err).toBeInstanceOf(LockHeldError);
      expect(err).toBeInstanceOf(LockBusyError);
      const [holder] = (err as LockHeldError).holders;
      expect(holder).toMatchObject({ host: hostname(), pid: process.pid, purpose: "sync r1", backendPid: a.backendPid });
      expect(holder!.since).toBeInstanceOf(Date);
      // another key is independent
      const other = await acquireLock(tdb.url, repositoryLockRequest(2, "sync r2"));
      await other.release();
    } finally {
      await a.release();
    }
    const b = await acquireLock(tdb.url, repositoryLockRequest(1, "after release"));
    expect(await lockHolders(pool, LockClass.repository, 1)).toHaveLength(1);
    await b.release();
    expect(await lockHolders(pool, LockClass.repository, 1)).toHaveLength(0);
  });

  it("waits up to a timeout, and gets the lock when the holder releases in time", async () => {
    const a = await acquireLock(tdb.url, repositoryLockRequest(3, "holder"));
    const started = Date.now();
    await expect(acquireLock(tdb.url, repositoryLockRequest(3, "waiter", { waitMs: 700 }))).rejects.toBeInstanceOf(LockBusyError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    setTimeout(() => void a.release(), 300);
    const b = await acquireLock(tdb.url, repositoryLockRequest(3, "waiter", { waitMs: 5_000 }));
    await b.release();
  });

  it("takeover terminates the holder, whose lock signal aborts with LockLostError", async () => {
    const a = await acquireLock(tdb.url, repositoryLockRequest(4, "victim", { heartbeatMs: 200 }));
    const b = await acquireLock(tdb.url, repositoryLockRequest(4, "usurper", { takeover: true }));
    await new Promise<void>((resolve) => (a.signal.aborted ? resolve() : a.signal.addEventListener("abort", () => resolve())));
    expect(a.signal.reason).toBeInstanceOf(LockLostError);
    const holders = await lockHolders(pool, LockClass.repository, 4);
    expect(holders.map((h) => h.purpose)).toEqual(["usurper"]);
    await a.release();
    await b.release();
  });

  it("is exclusive between two real processes, and freed when the holder process is killed", async () => {
    const holder = await startLockHolder(tdb.url, 5, "process-a");
    try {
      const err = await acquireLock(tdb.url, repositoryLockRequest(5, "me")).catch((e) => e);
      expect(err).toBeInstanceOf(LockHeldError);
      expect((err as LockHeldError).holders[0]).toMatchObject({ purpose: "process-a", pid: holder.child.pid });
      holder.child.kill("SIGKILL");
      await exitOf(holder.child);
      const mine = await acquireLock(tdb.url, repositoryLockRequest(5, "me", { waitMs: 10_000 }));
      await mine.release();
    } finally {
      holder.child.kill("SIGKILL");
    }
  });

  it("a holder process notices when its connection is terminated", async () => {
    const holder = await startLockHolder(tdb.url, 6, "process-b");
    const [h] = await lockHolders(pool, LockClass.repository, 6);
    await pool.query("SELECT pg_terminate_backend($1)", [h!.backendPid]);
    const code = await exitOf(holder.child);
    expect(code).toBe(3);
    expect(holder.output()).toMatch(/lost: lost the database connection that holds the lock/);
  });
});

describe("maintenance lock", () => {
  it("shared holders coexist; exclusive waits for all of them", async () => {
    const s1 = await acquireLock(tdb.url, maintenanceLockRequest("shared", "sync a"));
    const s2 = await acquireLock(tdb.url, maintenanceLockRequest("shared", "sync b"));
    const err = await acquireLock(tdb.url, maintenanceLockRequest("exclusive", "restore")).catch((e) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as LockHeldError).holders.map((h) => h.purpose).sort()).toEqual(["sync a", "sync b"]);
    await s1.release();
    await s2.release();
    const x = await acquireLock(tdb.url, maintenanceLockRequest("exclusive", "restore"));
    await expect(acquireLock(tdb.url, maintenanceLockRequest("shared", "sync c"))).rejects.toBeInstanceOf(LockBusyError);
    await x.release();
  });
});

describe("lock sessions reused", () => {
  it("a released lock's session takes the next lock (no new connection), holds nothing meanwhile, and a lost one is not reused", async () => {
    await closeIdleLockSessions(tdb.url);
    const a = await acquireLock(tdb.url, repositoryLockRequest(11, "sync r11"));
    await a.release();
    expect(idleLockSessionCount(tdb.url)).toBe(1);
    // Idle: it holds no advisory lock, and no lock_holders row names it.
    const held = await pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", [a.backendPid]);
    expect(held.rows[0].n).toBe(0);
    expect(await lockHolders(pool, LockClass.repository, 11)).toEqual([]);
    const name = await pool.query("SELECT application_name FROM pg_stat_activity WHERE pid = $1", [a.backendPid]);
    expect(name.rows[0].application_name).toMatch(/^chantal-lock:sync r11#/);

    // The next lock, another key and another purpose: the same backend, renamed, recorded as the holder.
    const b = await acquireLock(tdb.url, maintenanceLockRequest("shared", "sync r12"));
    expect(b.backendPid).toBe(a.backendPid);
    expect(idleLockSessionCount(tdb.url)).toBe(0);
    expect(await lockHolders(pool, LockClass.maintenance, 0)).toMatchObject([{ backendPid: b.backendPid, purpose: "sync r12" }]);
    const renamed = await pool.query("SELECT application_name FROM pg_stat_activity WHERE pid = $1", [b.backendPid]);
    expect(renamed.rows[0].application_name).toMatch(/^chantal-lock:sync r12#/);
    // The repository lock of the first is free for anyone.
    const other = await acquireLock(tdb.url, repositoryLockRequest(11, "sync r11 again"));
    expect(other.backendPid).not.toBe(a.backendPid);
    await other.release();

    // Its session terminated: the lock is lost, and the session never goes back to the idle ones.
    await pool.query("SELECT pg_terminate_backend($1)", [b.backendPid]);
    await new Promise<void>((resolve) => (b.signal.aborted ? resolve() : b.signal.addEventListener("abort", () => resolve())));
    await b.release();
    const c = await acquireLock(tdb.url, repositoryLockRequest(13, "sync r13"));
    expect(c.backendPid).not.toBe(b.backendPid);
    await c.release();
    await closeIdleLockSessions(tdb.url);
    expect(idleLockSessionCount(tdb.url)).toBe(0);
  });
});
