// The process's keep-alive connection pools, one per route (direct or which proxy, TLS options and client
// certificate, the connection cap): every run of the process that reaches an upstream the same way shares one pool, so
// connections to a host never exceed the per-origin cap whatever the number of concurrent syncs, and a later
// repository on the same CDN reuses the connections of the one before it. A pool nobody uses closes after a while.
import { createHash } from "node:crypto";
import type { Dispatcher } from "undici";

/** A pool in use; release() once when the run is done with it (a second call does nothing). */
export interface AgentLease {
  dispatcher: Dispatcher;
  release(): void;
}

interface Entry {
  dispatcher: Dispatcher;
  users: number;
  idleTimer?: NodeJS.Timeout;
}

/** Longer than the pools' keep-alive timeout (30 s): by then an unused pool holds no socket anyway. */
const IDLE_CLOSE_MS = 35_000;

const pools = new Map<string, Entry>();

/**
 * The key of a route: a digest of everything that makes two pools differ (the proxy's credentials, the TLS material,
 * the cap), so that neither a password nor a private key is kept in the map's keys.
 */
export function routeKey(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

/** The pool of `key`, made by `create` the first time; shared until every lease is released, then closed when idle. */
export function leaseAgent(key: string, create: () => Dispatcher): AgentLease {
  let entry = pools.get(key);
  if (!entry) {
    entry = { dispatcher: create(), users: 0 };
    pools.set(key, entry);
  }
  const e = entry;
  clearTimeout(e.idleTimer);
  delete e.idleTimer;
  e.users++;
  let released = false;
  return {
    dispatcher: e.dispatcher,
    release() {
      if (released) return;
      released = true;
      if (--e.users > 0) return;
      e.idleTimer = setTimeout(() => {
        if (e.users > 0 || pools.get(key) !== e) return;
        pools.delete(key);
        void e.dispatcher.close().catch(() => undefined);
      }, IDLE_CLOSE_MS);
      e.idleTimer.unref();
    },
  };
}

/** Pools alive now (tests, diagnostics). */
export function sharedAgentCount(): number {
  return pools.size;
}

/** Close every pool (a process that wants its sockets gone now; tests). Leases still held keep a closed dispatcher. */
export async function closeSharedAgents(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  for (const e of all) clearTimeout(e.idleTimer);
  await Promise.all(all.map((e) => e.dispatcher.close().catch(() => undefined)));
}
