// The lock connections of this process, kept for the next lock once released: a session costs a connect and an
// authentication (~10 ms on the embedded server), and `repo sync --all` or the scheduler takes two locks per
// repository. A session goes back only when it holds no lock any more; an idle one is unref'd (it keeps no process
// alive) and closed after a while, or when the database is closed.
import type { Socket } from "node:net";
import pg from "pg";

export interface LockSession {
  readonly client: pg.Client;
  /** The server process of the session (pg_backend_pid()), asked once. */
  backendPid?: number;
  /** Taken from the idle sessions (it may have died meanwhile: the caller tries a fresh one then). */
  readonly reused: boolean;
  applicationName: string;
}

interface Idle {
  session: LockSession;
  timer: NodeJS.Timeout;
  forget: () => void;
}

/** Idle sessions per database URL, the most recently used last. */
const idle = new Map<string, Idle[]>();
const IDLE_CLOSE_MS = 10_000;
/** Idle sessions kept per URL: the scheduler's concurrent syncs each hold two at most. */
const MAX_IDLE = 32;

function socketOf(client: pg.Client): Socket | undefined {
  return (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
}

function unlist(url: string, entry: Idle): void {
  const list = idle.get(url);
  const i = list?.indexOf(entry) ?? -1;
  if (list && i >= 0) list.splice(i, 1);
  if (list?.length === 0) idle.delete(url);
}

/** An idle session of `url` renamed to `applicationName`, else a new connection. */
export async function takeLockSession(url: string, applicationName: string): Promise<LockSession> {
  const entry = idle.get(url)?.pop();
  if (entry) {
    if (idle.get(url)?.length === 0) idle.delete(url);
    clearTimeout(entry.timer);
    entry.forget();
    const { client } = entry.session;
    client.on("error", () => undefined);
    socketOf(client)?.ref();
    return { ...entry.session, reused: true };
  }
  const client = new pg.Client({ connectionString: url, application_name: applicationName, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return { client, reused: false, applicationName };
}

/** Names the session as a new one would be named: pg_stat_activity shows what it is for. */
export async function renameLockSession(session: LockSession, applicationName: string): Promise<void> {
  if (session.applicationName === applicationName) return;
  await session.client.query("SELECT set_config('application_name', $1, false)", [applicationName]);
  session.applicationName = applicationName;
}

/** A session that holds no lock any more: kept for the next lock, or closed when enough are idle. */
export function giveBackLockSession(url: string, session: LockSession): void {
  const { client } = session;
  client.removeAllListeners("error");
  client.removeAllListeners("end");
  const list = idle.get(url) ?? [];
  if (list.length >= MAX_IDLE) {
    client.on("error", () => undefined);
    void client.end().catch(() => undefined);
    return;
  }
  const entry: Idle = {
    session: { ...session, reused: true },
    timer: setTimeout(() => {
      unlist(url, entry);
      entry.forget();
      client.on("error", () => undefined);
      void client.end().catch(() => undefined);
    }, IDLE_CLOSE_MS),
    forget: () => undefined,
  };
  entry.timer.unref();
  // Dead while idle (the server restarted, the session was terminated): not handed out again.
  const dead = () => {
    clearTimeout(entry.timer);
    unlist(url, entry);
  };
  client.on("error", dead);
  client.on("end", dead);
  entry.forget = () => {
    client.off("error", dead);
    client.off("end", dead);
  };
  socketOf(client)?.unref();
  list.push(entry);
  idle.set(url, list);
}

/** Close a session instead of giving it back (it failed, or may still hold something). */
export async function dropLockSession(session: LockSession): Promise<void> {
  session.client.on("error", () => undefined);
  // An idle session's socket is unref'd: awaited unref'd, its end would let the process exit mid-await.
  socketOf(session.client)?.ref();
  await session.client.end().catch(() => undefined);
}

/** Close every idle session (the database is being closed); a session in use is closed by its lock's release. */
export async function closeIdleLockSessions(url?: string): Promise<void> {
  const urls = url === undefined ? [...idle.keys()] : [url];
  const entries = urls.flatMap((u) => idle.get(u) ?? []);
  for (const u of urls) idle.delete(u);
  await Promise.all(
    entries.map((e) => {
      clearTimeout(e.timer);
      e.forget();
      return dropLockSession(e.session);
    }),
  );
}

/** Idle sessions kept now (tests). */
export function idleLockSessionCount(url: string): number {
  return idle.get(url)?.length ?? 0;
}
