// Opens the database: a configured URL, else the embedded server; applies migrations; errors name the host, never the password.
import pg from "pg";
import type { Config } from "../config/schema.js";
import { ChantalError, DatabaseError, errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { redactSecrets } from "../redact.js";
import { sleep } from "../runtime/sleep.js";
import { applicationName } from "./application-name.js";
import { closeIdleLockSessions } from "./lock-sessions.js";
import { migrate } from "./migrate.js";

export interface Database {
  /** Queries go through orm(pool, ...) (core/db/orm.ts) or, for bulk work and locks, pool.query. */
  pool: pg.Pool;
  url: string;
  /** "config" | "CHANTAL_DATABASE_URL" | "DATABASE_URL" | "embedded" */
  source: string;
  close(): Promise<void>;
}

export function configuredDatabaseUrl(config: Config, env: NodeJS.ProcessEnv): { url: string; source: string } | null {
  if (config.database.url) return { url: config.database.url, source: "database.url" };
  if (env.CHANTAL_DATABASE_URL) return { url: env.CHANTAL_DATABASE_URL, source: "CHANTAL_DATABASE_URL" };
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, source: "DATABASE_URL" };
  return null;
}

/** `user@host:port/db`, for messages. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get("host") || "localhost";
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ""}${host}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "(unparsable database URL)";
  }
}

function passwordOf(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** SQLSTATEs of a server that is there but takes no new session now: too_many_connections, cannot_connect_now (starting up). */
const SATURATED_CODES = new Set(["53300", "57P03"]);

export interface ConnectPoolOptions {
  max?: number;
  applicationName?: string;
  /** Keep trying this long (backoff 1 s doubling to 15 s) while the server refuses for saturation; 0: fail at once. */
  retrySeconds?: number;
  log?: Logger;
  signal?: AbortSignal;
  /** Injected for tests. */
  sleepMs?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export async function connectPool(url: string, opts: ConnectPoolOptions = {}): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: applicationName(opts.applicationName ?? "chantal"),
    connectionTimeoutMillis: 15_000,
  });
  pool.on("error", () => undefined); // an idle client's error surfaces on its next query
  // A checked-out client's too: its query rejects (or the next one), instead of an unhandled 'error' event killing the process.
  pool.on("connect", (client) => client.on("error", () => undefined));
  const deadline = Date.now() + (opts.retrySeconds ?? 0) * 1000;
  for (let attempt = 1, delay = 1000; ; attempt++, delay = Math.min(15_000, delay * 2)) {
    try {
      const c = await pool.connect();
      c.release();
      return pool;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const reason = redactSecrets(errorMessage(err), [passwordOf(url)]);
      // 02:00 on AWS: a fleet of tasks may fill max_connections for a moment; each waits its turn instead of failing.
      if (code !== undefined && SATURATED_CODES.has(code) && Date.now() + delay <= deadline && !opts.signal?.aborted) {
        if (attempt === 1)
          opts.log?.warn(
            { database: describeDatabaseUrl(url), code },
            `PostgreSQL refuses new connections (${reason}): retrying for up to ${opts.retrySeconds} s`,
          );
        await (opts.sleepMs ?? sleep)(delay, opts.signal).catch(() => undefined);
        continue;
      }
      await pool.end().catch(() => undefined);
      throw new DatabaseError(`cannot connect to PostgreSQL at ${describeDatabaseUrl(url)}: ${reason}${attempt > 1 ? ` (after ${attempt} attempts)` : ""}`, {
        cause: err,
      });
    }
  }
}

export interface OpenDatabaseOptions {
  config: Config;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** Ends a wait for the migration lock (a restore holds it while it loads). */
  signal?: AbortSignal;
  /** Pooled connections when database.max_connections does not say (default 10). */
  defaultMaxConnections?: number;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const env = opts.env ?? process.env;
  const configured = configuredDatabaseUrl(opts.config, env);
  let url: string;
  let source: string;
  let release = async () => {};
  if (configured) {
    ({ url, source } = configured);
  } else {
    const { acquireEmbeddedPostgres } = await import("./embedded.js");
    const lease = await acquireEmbeddedPostgres({ basePath: opts.config.storage.base_path, log: opts.log });
    url = lease.url;
    source = "embedded";
    release = () => lease.release();
  }
  let pool: pg.Pool | undefined;
  try {
    pool = await connectPool(url, {
      max: opts.config.database.max_connections ?? opts.defaultMaxConnections ?? 10,
      retrySeconds: opts.config.database.connect_retry_seconds ?? 120,
      log: opts.log,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (opts.migrate !== false) {
      const applied = await migrate(pool, undefined, { log: opts.log, ...(opts.signal ? { signal: opts.signal } : {}) });
      if (applied.length > 0) opts.log.debug({ applied }, "database migrated");
    }
  } catch (err) {
    await pool?.end().catch(() => undefined);
    await release();
    throw err;
  }
  opts.log.debug({ database: describeDatabaseUrl(url), source }, "database open");
  const open = pool;
  return {
    pool: open,
    url,
    source,
    async close() {
      await open.end().catch(() => undefined);
      // The lock sessions kept for reuse go with it (before an embedded server's lease is given back).
      await closeIdleLockSessions(url);
      await release();
    },
  };
}

/** SQLSTATEs of a session that the server ended: admin_shutdown (pg_terminate_backend), crash_shutdown, cannot_connect_now. */
const SESSION_ENDED_CODES = new Set(["57P01", "57P02", "57P03"]);
const SOCKET_ERRNOS = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/** Whether `err` says the connection to PostgreSQL is gone (not a failed statement on a live session). */
export function isConnectionLoss(err: unknown): boolean {
  // Our own errors (an upstream's ECONNRESET is an HttpNetworkError) are never the database's.
  if (!(err instanceof Error) || err instanceof ChantalError) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (SESSION_ENDED_CODES.has(code) || code.startsWith("08") || SOCKET_ERRNOS.has(code))) return true;
  return /^Connection terminated|not queryable|connection error/i.test(err.message);
}

/** A lost connection as the error of `what` ("the commit of repository r1"), naming the fix; anything else unchanged. */
export function connectionLossError(err: unknown, what: string): unknown {
  if (err instanceof DatabaseError || !isConnectionLoss(err)) return err;
  return new DatabaseError(`lost the database connection during ${what} (${errorMessage(err)}): run it again once PostgreSQL is reachable`, { cause: err });
}

const CANCEL_RETRY_MS = 1_000;

/**
 * Run `fn` on a checked-out client whose statements the signal interrupts: on abort the running statement is
 * cancelled (pg_cancel_backend from a separate connection, again each second while `fn` has not settled: an
 * abort between two statements would otherwise miss the next one), so a statement blocked on a lock ends
 * within a second instead of when the lock is released.
 */
export async function withAbortableClient<T>(pool: pg.Pool, signal: AbortSignal | undefined, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  const client = await pool.connect();
  const stopCancelling = cancelOnAbort(pool, client, signal);
  let broken = false;
  try {
    signal?.throwIfAborted();
    return await fn(client);
  } catch (err) {
    broken = isConnectionLoss(err);
    throw err;
  } finally {
    stopCancelling();
    // A broken or cancelled session (a cancel may have hit its ROLLBACK) is closed, never handed to the next caller.
    client.release(broken || signal?.aborted === true);
  }
}

/** While the returned function is not called, an abort of `signal` cancels the client's running statement (see withAbortableClient). */
export function cancelOnAbort(pool: pg.Pool, client: pg.PoolClient, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => undefined;
  const backendPid = (client as unknown as { processID: number | null }).processID;
  let timer: NodeJS.Timeout | undefined;
  const cancel = () => {
    void cancelBackend(pool, backendPid);
    timer ??= setInterval(() => void cancelBackend(pool, backendPid), CANCEL_RETRY_MS);
  };
  signal.addEventListener("abort", cancel, { once: true });
  return () => {
    signal.removeEventListener("abort", cancel);
    clearInterval(timer);
  };
}

/** Cancel a backend's running statement on a short-lived connection of its own (the pool may be exhausted). */
async function cancelBackend(pool: pg.Pool, backendPid: number | null): Promise<void> {
  if (!backendPid) return;
  const client = new pg.Client({ ...pool.options, application_name: applicationName("chantal-cancel") });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT pg_cancel_backend($1)", [backendPid]);
  } catch {
    // The server is gone or the statement ended: nothing left to cancel.
  } finally {
    await client.end().catch(() => undefined);
  }
}
