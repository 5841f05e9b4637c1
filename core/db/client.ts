// Opens the database: a configured URL, else the embedded server; applies migrations; errors name the host, never the password.
import pg from "pg";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import type { Config } from "../config/schema.js";
import { DatabaseError, errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { redactSecrets } from "../redact.js";
import { applicationName } from "./application-name.js";
import { migrate } from "./migrate.js";
import * as schema from "./schema.js";

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  pool: pg.Pool;
  db: Db;
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

export async function connectPool(url: string, opts: { max?: number; applicationName?: string } = {}): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, application_name: applicationName(opts.applicationName ?? "chantal"), connectionTimeoutMillis: 15_000 });
  pool.on("error", () => undefined); // an idle client's error surfaces on its next query
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    const reason = redactSecrets(errorMessage(err), [passwordOf(url)]);
    throw new DatabaseError(`cannot connect to PostgreSQL at ${describeDatabaseUrl(url)}: ${reason}`, { cause: err });
  }
  return pool;
}

export interface OpenDatabaseOptions {
  config: Config;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** Ends a wait for the migration lock (a restore holds it while it loads). */
  signal?: AbortSignal;
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
    pool = await connectPool(url);
    if (opts.migrate !== false) {
      const applied = await migrate(pool, undefined, { log: opts.log, ...(opts.signal ? { signal: opts.signal } : {}) });
      if (applied.length > 0) opts.log.info({ applied }, "database migrated");
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
    db: drizzle(open, { schema }),
    url,
    source,
    async close() {
      await open.end().catch(() => undefined);
      await release();
    },
  };
}
