// Where the daemon's HTTP listener binds (web.listen, its older name metrics.listen, or --http) and whether it needs credentials.
import { isLoopbackHost, type Config, type WebAuthConfig } from "../config/schema.js";
import { ChantalError, UsageError } from "../errors.js";

export interface ListenAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:9464" → host and port; a bare port listens on 127.0.0.1. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:(.+):)?([0-9]{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 1 || port > 65_535)
    throw new ChantalError(`listen address ${JSON.stringify(text)} is not host:port: write it like 127.0.0.1:9464 (web.listen or --http)`);
  return { host: m[1]?.replace(/^\[(.*)\]$/, "$1") ?? "127.0.0.1", port };
}

export interface ListenerPlan {
  address: ListenAddress;
  auth: WebAuthConfig | undefined;
}

/**
 * The listener to start: --http (override) beats web.listen beats metrics.listen; none: no listener. A non-loopback
 * address without web.auth is refused (the schema refuses it in the files; this catches --http).
 */
export function listenerPlan(config: Pick<Config, "web" | "metrics">, override?: string): ListenerPlan | null {
  const text = override ?? config.web.listen ?? config.metrics.listen;
  if (text === undefined) return null;
  const address = parseListen(text);
  if (!isLoopbackHost(address.host) && config.web.auth === undefined)
    throw new UsageError(`--http ${text} is reachable from other hosts and web.auth is not set: set web.auth (basic or bearer_token) or listen on 127.0.0.1`);
  return { address, auth: config.web.auth };
}
