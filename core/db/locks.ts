// Advisory locks held on a dedicated connection for a whole run: Postgres frees them if the process dies. The
// connection is reused for a later lock once released (lock-sessions.ts): a sync of many repositories opens two once.
import { formatLocalTimeWithZone } from "../local-time.js";
import { hostname } from "node:os";
import type pg from "pg";
import { AbortedError, errorMessage, LockBusyError, LockLostError } from "../errors.js";
import { sleep } from "../runtime/sleep.js";
import { applicationName } from "./application-name.js";
import { LockClass } from "./lock-ids.js";
import { dropLockSession, giveBackLockSession, renameLockSession, takeLockSession, type LockSession } from "./lock-sessions.js";

export interface LockHolder {
  backendPid: number;
  host: string | null;
  pid: number | null;
  purpose: string | null;
  since: Date | null;
}

export type LockMode = "exclusive" | "shared";

export interface LockRequest {
  lockClass: number;
  key: number;
  mode?: LockMode;
  /** Written beside the lock so that others can say who holds it. */
  purpose: string;
  /** Wait up to this long for the lock; 0 (default) fails at once. */
  waitMs?: number;
  /** Terminate the holders' backends and take the lock over. */
  takeover?: boolean;
  signal?: AbortSignal;
  /** How often the held connection is checked (default 5 s). */
  heartbeatMs?: number;
}

export interface HeldLock {
  readonly lockClass: number;
  readonly key: number;
  readonly backendPid: number;
  /** Aborted with a LockLostError when the lock connection is lost. */
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

const POLL_MS = 250;

const HOLDERS_SQL = `
  SELECT l.pid AS backend_pid, h.host, h.pid, h.purpose, COALESCE(h.since, a.backend_start) AS since
  FROM pg_locks l
  LEFT JOIN chantal.lock_holders h ON h.backend_pid = l.pid AND h.lock_class = $1 AND h.lock_key = $2
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  ORDER BY since`;

/** Who holds (lockClass, key) right now, from any host. */
export async function lockHolders(q: pg.Pool | pg.ClientBase, lockClass: number, key: number): Promise<LockHolder[]> {
  const r = await q.query(HOLDERS_SQL, [lockClass, key]);
  return r.rows.map((row) => ({
    backendPid: row.backend_pid as number,
    host: row.host as string | null,
    pid: row.pid as number | null,
    purpose: row.purpose as string | null,
    since: row.since as Date | null,
  }));
}

export function describeHolder(h: LockHolder): string {
  const since = h.since ? ` since ${formatLocalTimeWithZone(h.since)}` : "";
  return h.host ? `${h.host} pid ${h.pid}${since}` : `database backend ${h.backendPid}${since}`;
}

async function tryTake(client: pg.Client, req: LockRequest): Promise<boolean> {
  const fn = req.mode === "shared" ? "pg_try_advisory_lock_shared" : "pg_try_advisory_lock";
  const r = await client.query(`SELECT ${fn}($1, $2) AS ok`, [req.lockClass, req.key]);
  return r.rows[0].ok === true;
}

async function terminateHolders(client: pg.Client, req: LockRequest): Promise<void> {
  for (const h of await lockHolders(client, req.lockClass, req.key)) {
    await client.query("SELECT pg_terminate_backend($1)", [h.backendPid]);
  }
}

/** The abort as an AbortedError that keeps its signal's name (SIGINT exits 130, SIGTERM 143) and names the lock. */
function interruptedWaiting(signal: AbortSignal, req: LockRequest): AbortedError {
  const reason: unknown = signal.reason;
  const signalName = reason instanceof AbortedError ? reason.signalName : "abort";
  return new AbortedError(`${errorMessage(reason ?? "interrupted")} while waiting for the lock (${req.purpose})`, signalName);
}

async function waitForLock(client: pg.Client, req: LockRequest): Promise<boolean> {
  const deadline = Date.now() + (req.waitMs ?? 0);
  for (;;) {
    if (req.signal?.aborted) throw interruptedWaiting(req.signal, req);
    if (await tryTake(client, req)) return true;
    if (req.takeover) await terminateHolders(client, req);
    if (Date.now() >= deadline && !req.takeover) return false;
    if (req.takeover && Date.now() >= deadline + 30_000) return false;
    await sleep(POLL_MS, req.signal).catch(() => {
      throw interruptedWaiting(req.signal!, req);
    });
  }
}

async function recordHolder(client: pg.Client, req: LockRequest, backendPid: number): Promise<void> {
  await client.query(
    `DELETE FROM chantal.lock_holders WHERE lock_class = $1 AND lock_key = $2
       AND (backend_pid = $3 OR backend_pid NOT IN (SELECT pid FROM pg_stat_activity))`,
    [req.lockClass, req.key, backendPid],
  );
  await client.query(`INSERT INTO chantal.lock_holders (lock_class, lock_key, backend_pid, host, pid, purpose) VALUES ($1, $2, $3, $4, $5, $6)`, [
    req.lockClass,
    req.key,
    backendPid,
    hostname(),
    process.pid,
    req.purpose,
  ]);
}

function watchConnection(client: pg.Client, heartbeatMs: number): { signal: AbortSignal; stop(): void } {
  const ac = new AbortController();
  const lost = (why: string) => {
    if (!ac.signal.aborted) ac.abort(new LockLostError(`lost the database connection that holds the lock (${why}): the lock is no longer held`));
  };
  const onError = (err: Error) => lost(err.message);
  const onEnd = () => lost("connection closed");
  client.on("error", onError);
  client.on("end", onEnd);
  // A half-open connection never answers: a heartbeat that takes longer than two periods counts as lost.
  let pending: NodeJS.Timeout | undefined;
  const timer = setInterval(() => {
    if (pending) return;
    pending = setTimeout(() => lost(`no answer to a heartbeat within ${2 * heartbeatMs} ms`), 2 * heartbeatMs);
    pending.unref();
    client
      .query("SELECT 1")
      .then(
        () => undefined,
        (err: Error) => lost(err.message),
      )
      .finally(() => {
        clearTimeout(pending);
        pending = undefined;
      });
  }, heartbeatMs);
  timer.unref();
  return {
    signal: ac.signal,
    stop: () => {
      clearInterval(timer);
      clearTimeout(pending);
      client.off("error", onError);
      client.off("end", onEnd);
    },
  };
}

/** A session for a lock: an idle one of this process if there is one that still answers, else a new connection. */
async function lockSession(url: string, req: LockRequest): Promise<LockSession> {
  const name = applicationName(`chantal-lock:${req.purpose}`);
  const session = await takeLockSession(url, name);
  if (!session.reused) return session;
  try {
    await renameLockSession(session, name);
    return session;
  } catch {
    // Died while idle: a fresh one.
    await dropLockSession(session);
    return takeLockSession(url, name);
  }
}

/**
 * Take an advisory lock on its own connection. Throws LockBusyError (with the holders) when it is taken
 * and waiting is not asked for or times out.
 */
export async function acquireLock(url: string, req: LockRequest): Promise<HeldLock> {
  const session = await lockSession(url, req);
  const { client } = session;
  let ok = false;
  try {
    ok = await waitForLock(client, req);
    if (!ok) {
      const holders = await lockHolders(client, req.lockClass, req.key);
      giveBackLockSession(url, session);
      throw new LockHeldError(holders);
    }
    session.backendPid ??= (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    const backendPid = session.backendPid;
    await recordHolder(client, req, backendPid);
    const watch = watchConnection(client, req.heartbeatMs ?? 5_000);
    let released = false;
    return {
      lockClass: req.lockClass,
      key: req.key,
      backendPid,
      signal: watch.signal,
      async release() {
        if (released) return;
        released = true;
        watch.stop();
        client.on("error", () => undefined);
        if (watch.signal.aborted) return dropLockSession(session);
        // One round trip; the session holds this lock only, so it is clean for the next lock afterwards.
        const unlocked = await client
          .query(
            `WITH gone AS (DELETE FROM chantal.lock_holders WHERE lock_class = $1 AND lock_key = $2 AND backend_pid = $3)
             SELECT pg_advisory_unlock_all()`,
            [req.lockClass, req.key, backendPid],
          )
          .then(
            () => true,
            () => false,
          );
        if (unlocked && !watch.signal.aborted) giveBackLockSession(url, session);
        else await dropLockSession(session);
      },
    };
  } catch (err) {
    if (!(err instanceof LockHeldError)) await dropLockSession(session);
    throw err;
  }
}

export class LockHeldError extends LockBusyError {
  constructor(readonly holders: LockHolder[]) {
    super(`lock is held by ${holders.map(describeHolder).join(", ") || "another session"}`);
  }
}

/** The per-repository lock (DESIGN.md "Locks"): the key is repositories.id. */
export function repositoryLockRequest(repositoryKey: number, purpose: string, opts: Partial<LockRequest> = {}): LockRequest {
  return { lockClass: LockClass.repository, key: repositoryKey, purpose, ...opts };
}

/** The global maintenance lock: syncs hold it shared, restore holds it exclusive. */
export function maintenanceLockRequest(mode: LockMode, purpose: string, opts: Partial<LockRequest> = {}): LockRequest {
  return { lockClass: LockClass.maintenance, key: 0, mode, purpose, ...opts };
}

/** One import at a time per installation (key 0): `import list` tells a live import's row from a killed one's by it. */
export function importLockRequest(purpose: string, opts: Partial<LockRequest> = {}): LockRequest {
  return { lockClass: LockClass.import, key: 0, purpose, ...opts };
}

/** Run `fn` while holding a lock; always released. */
export async function withLock<T>(url: string, req: LockRequest, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(url, req);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/** "pool gc is running (host pid 12 since …)": who holds the maintenance lock exclusive, by its recorded purpose. */
export function exclusiveMaintenanceRunning(holders: readonly LockHolder[]): string {
  const what = holders.find((h) => h.purpose)?.purpose ?? "a database restore";
  return `${what} is running (${holders.map(describeHolder).join(", ")})`;
}
