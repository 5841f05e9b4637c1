// The HTTP options of one repository: a Dispatcher that picks, per request origin, a direct keep-alive Agent or a
// ProxyAgent or a SOCKS5 Agent (NO_PROXY is decided per origin, since a redirect may lead to another host), with the repository's TLS
// material, its basic-auth credentials bound to the upstream's host and its client certificate to the upstream's
// origin, and the http: settings (minimum rate, size cap, insecure redirects) of the repository over the global ones.
// Under a PAC file the route of an origin is decided asynchronously, and its proxies are tried in order.
import { join } from "node:path";
import { Dispatcher, ProxyAgent } from "undici";
import type { Config, HttpSettingsConfig, RepositoryConfig } from "../config/schema.js";
import { createHttpAgent, httpDefaults, ProxyError, type HttpOptions } from "./client.js";
import { minRateDefaults, type MinRate } from "./min-rate.js";
import { loadPacScript, pacDecision, type PacEvalOptions, type PacScript, type PacSource } from "./pac.js";
import { decideProxy, displayProxy, selectProxySettings, type ProxyDecision, type ProxyEndpoint, type ProxyEnv, type ProxySelection } from "./proxy.js";
import { isSocksUrl } from "./proxy-url.js";
import { processConnectionLimits } from "./request-gate.js";
import { leaseAgent, routeKey, type AgentLease } from "./shared-agents.js";
import { describeSocksFailure, socksAgent } from "./socks.js";
import { loadRepositoryTls, tlsFiles, type RepositoryTls, type TlsOptions } from "./tls.js";

export interface RepositoryHttpOptions {
  /** Where HTTP_PROXY & co. come from (default process.env). */
  env?: ProxyEnv;
  /** Relative ca_bundle / cert paths are relative to it. */
  configDir?: string;
  now?: Date;
  /** Said once each: a stale cached PAC file, a proxy of the PAC's list found unreachable. */
  onWarning?: (message: string) => void;
  /** A fetched PAC file's cache (default <base_path>/cache/pac). */
  pacCacheDir?: string;
  /** The PAC sandbox's limits and resolver (tests). */
  pac?: PacEvalOptions;
}

/** How one URL is reached, as it may be logged or printed (no password). */
export interface RouteSummary {
  proxy: string;
  source: ProxyDecision["source"];
  reason: string;
  noProxyMatch?: string;
}

export interface RepositoryHttp {
  http: HttpOptions;
  selection: ProxySelection;
  tls: RepositoryTls;
  /** The decision for the repository's upstream URL. */
  upstream: ProxyDecision;
  /** The decision for any URL (per origin, like the requests); under a PAC file, `pac: "pending"` until resolve() asked it. */
  decide(url: string): ProxyDecision;
  /** The decision for any URL, the PAC file asked (loaded on first use): what a request to it does. */
  resolve(url: string): Promise<ProxyDecision>;
  /** To log on every run: verify_ssl off, ignored NO_PROXY entries. */
  warnings: string[];
  /** Its requests may carry a password (the proxy's, or the upstream's basic auth): one a server can lock out after failures. */
  sendsCredentials: boolean;
  close(): Promise<void>;
}

export function basicAuthHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

export function routeSummary(decision: ProxyDecision): RouteSummary {
  return {
    proxy: displayProxy(decision.proxy, { withUser: true }),
    source: decision.source,
    reason: decision.reason,
    ...(decision.noProxyMatch !== undefined ? { noProxyMatch: decision.noProxyMatch } : {}),
  };
}

/** Repository credentials go to the upstream's origin, or to https on the same host (an upgrade), never elsewhere. */
export function credentialsAllowed(upstreamUrl: string, origin: string): boolean {
  const up = new URL(upstreamUrl);
  const to = new URL(origin);
  return up.hostname === to.hostname && (up.origin === to.origin || to.protocol === "https:");
}

/**
 * The client certificate goes to the upstream's origin only (scheme, host and port), or to https on the default port
 * of the same host when the upstream is http:// (an upgrade): like credentials, never to where a redirect leads.
 */
export function clientCertAllowed(upstreamUrl: string, origin: string): boolean {
  const up = new URL(upstreamUrl);
  const to = new URL(origin);
  if (to.protocol !== "https:") return false;
  return up.origin === to.origin || (up.protocol === "http:" && up.hostname === to.hostname && to.port === "");
}

export interface HttpSettings {
  minRate: MinRate;
  maxDownloadBytes: number;
  allowInsecureRedirects: boolean;
}

/** The http: settings in force for a repository: its own keys over the global block's, over the defaults. */
export function httpSettings(repo: Pick<RepositoryConfig, "http">, config: Pick<Config, "http">): HttpSettings {
  const pick = <K extends keyof HttpSettingsConfig>(key: K) => repo.http?.[key] ?? config.http?.[key];
  const seconds = pick("min_rate_window_seconds");
  return {
    minRate: {
      bytesPerSecond: pick("min_rate_bytes_per_second") ?? minRateDefaults.bytesPerSecond,
      windowMs: seconds !== undefined ? seconds * 1000 : minRateDefaults.windowMs,
    },
    maxDownloadBytes: pick("max_download_bytes") ?? httpDefaults.maxDownloadBytes,
    allowInsecureRedirects: pick("allow_insecure_redirects") ?? false,
  };
}

type Headers = Dispatcher.DispatchOptions["headers"];

function withAuthorization(headers: Headers, value: string): Headers {
  if (Array.isArray(headers)) {
    const flat = headers as unknown[];
    for (let i = 0; i < flat.length; i += 2) if (String(flat[i]).toLowerCase() === "authorization") return headers;
    return [...(headers as string[]), "authorization", value];
  }
  const obj = { ...((headers ?? {}) as Record<string, string | string[] | undefined>) };
  if (Object.keys(obj).some((k) => k.toLowerCase() === "authorization")) return obj;
  obj["authorization"] = value;
  return obj;
}

function endpointKey(e: ProxyEndpoint): string {
  return JSON.stringify([e.url, e.username ?? null, e.password ?? null]);
}

interface PacRouting {
  source: PacSource;
  load(): Promise<PacScript>;
  onWarning?: (message: string) => void;
}

/** One way to an origin: a dispatcher, and the proxy it goes through (null: direct). */
interface Hop {
  key: string;
  proxy: ProxyEndpoint | null;
  dispatcher: Dispatcher;
}

/** A body that can be sent again (none, a string, bytes): a stream is sent once, so it gets no second proxy. */
function replayable(body: Dispatcher.DispatchOptions["body"]): boolean {
  return body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array;
}

/**
 * Passes everything through to `inner`, but an error before any response (the proxy could not be reached) goes to
 * `retry` first, which sends the request by the next proxy and returns true. Legacy handler methods: what undici's
 * request() gives a dispatcher.
 */
function fallbackHandler(inner: Dispatcher.DispatchHandler, retry: (err: Error) => boolean): Dispatcher.DispatchHandler {
  let responded = false;
  return {
    onConnect: (abort) => inner.onConnect?.(abort),
    onResponseStarted: () => inner.onResponseStarted?.(),
    onHeaders: (status, headers, resume, text) => {
      responded = true;
      return inner.onHeaders?.(status, headers, resume, text) ?? true;
    },
    onUpgrade: (status, headers, socket) => {
      responded = true;
      inner.onUpgrade?.(status, headers, socket);
    },
    onData: (chunk) => inner.onData?.(chunk) ?? true,
    onComplete: (trailers) => inner.onComplete?.(trailers),
    onBodySent: (size, total) => inner.onBodySent?.(size, total),
    onError: (err) => {
      if (!responded && retry(err)) return;
      inner.onError?.(err);
    },
  };
}

/**
 * Routes every request by its origin: direct, or through the proxy the repository's settings choose for it. The
 * connection pools are the process's (shared-agents.ts), leased per route: concurrent runs that reach a host the same
 * way share its connections; close() gives the leases back and closes nothing another run may be using.
 */
class RepositoryDispatcher extends Dispatcher {
  readonly #routes = new Map<string, AgentLease>();
  readonly #decisions = new Map<string, ProxyDecision>();
  /** By request origin as undici gives it: the ways to it, in order, and whether it carries the repository's credentials. */
  readonly #byOrigin = new Map<string, { hops: Hop[]; credentials: boolean }>();
  /** The PAC's answer per origin, asked once. */
  readonly #pacDecisions = new Map<string, Promise<ProxyDecision>>();
  /** Proxies of a PAC's list that could not be reached: tried last for the rest of the run. */
  readonly #deadHops = new Set<string>();
  #pacWarned = false;
  /** Upstream TLS without the client certificate: for every origin but the upstream's. */
  readonly #upstreamTlsWithoutCert: TlsOptions;

  constructor(
    private readonly selection: ProxySelection,
    private readonly tls: RepositoryTls,
    /** Connections per origin of each pool (undefined: no cap). */
    private readonly connections: number | undefined,
    private readonly upstreamUrl: string,
    private readonly basicAuthHeader?: string,
    private readonly pac?: PacRouting,
  ) {
    super();
    const { cert: _cert, key: _key, ...withoutCert } = tls.upstream;
    this.#upstreamTlsWithoutCert = withoutCert;
  }

  decisionFor(origin: string): ProxyDecision {
    let d = this.#decisions.get(origin);
    if (!d) {
      d = decideProxy(this.selection, `${origin}/`);
      this.#decisions.set(origin, d);
    }
    return d;
  }

  /** The decision with the PAC asked (once per origin); a PAC that cannot be loaded or answers badly is a PacError. */
  resolveDecision(origin: string): Promise<ProxyDecision> {
    const d = this.decisionFor(origin);
    if (d.pac !== "pending" || !this.pac) return Promise.resolve(d);
    const pac = this.pac;
    let p = this.#pacDecisions.get(origin);
    if (!p) {
      p = pac.load().then(async (script) => {
        if (!this.#pacWarned) for (const w of script.warnings) pac.onWarning?.(w);
        this.#pacWarned = true;
        const decision = pacDecision(this.selection, `${origin}/`, pac.source, await script.findProxy(`${origin}/`));
        if (decision.pac !== "pending" && decision.pac && decision.pac.ignored.length > 0)
          pac.onWarning?.(`the PAC file ${decision.pac.script} answered entries that are not used for ${origin}: ${decision.pac.ignored.join("; ")}`);
        this.#decisions.set(origin, decision);
        return decision;
      });
      // A failure is asked again by the next request (a retry), not kept.
      p.catch(() => this.#pacDecisions.delete(origin));
      this.#pacDecisions.set(origin, p);
    }
    return p;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const key = String(opts.origin);
    const route = this.#byOrigin.get(key);
    if (route) return this.send(route, opts, handler);
    const origin = new URL(key).origin;
    if (this.decisionFor(origin).pac !== "pending") return this.send(this.routeOf(key, this.decisionFor(origin)), opts, handler);
    this.resolveDecision(origin).then(
      (decision) => this.send(this.#byOrigin.get(key) ?? this.routeOf(key, decision), opts, handler),
      (err: Error) => (handler.onError ? handler.onError(err) : handler.onResponseError?.(null as never, err)),
    );
    return true;
  }

  private routeOf(key: string, decision: ProxyDecision): { hops: Hop[]; credentials: boolean } {
    const origin = new URL(key).origin;
    const withCert = this.tls.upstream.cert !== undefined && clientCertAllowed(this.upstreamUrl, origin);
    const tls = withCert ? this.tls.upstream : this.#upstreamTlsWithoutCert;
    const chain = decision.pac && decision.pac !== "pending" ? decision.pac.chain : [decision.proxy];
    const route = {
      hops: chain.map((proxy) => ({ ...this.routeFor(proxy, tls), proxy })),
      credentials: this.basicAuthHeader !== undefined && credentialsAllowed(this.upstreamUrl, origin),
    };
    this.#byOrigin.set(key, route);
    return route;
  }

  /** Through the first hop that is not known dead; on a connection failure to it, the next (a PAC's fallbacks). */
  private send(route: { hops: Hop[]; credentials: boolean }, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const headers = route.credentials ? withAuthorization(opts.headers, this.basicAuthHeader!) : opts.headers;
    // A dead proxy is dead for every origin; a failed direct connection only for its own.
    const deadKey = (h: Hop) => (h.proxy ? h.key : `direct ${String(opts.origin)}`);
    const order = [...route.hops.filter((h) => !this.#deadHops.has(deadKey(h))), ...route.hops.filter((h) => this.#deadHops.has(deadKey(h)))];
    const canFall = order.length > 1 && replayable(opts.body) && typeof handler.onError === "function" && handler.onRequestStart === undefined;
    const attempt = (i: number): boolean => {
      const hop = order[i]!;
      const next = order[i + 1];
      const h =
        canFall && next
          ? fallbackHandler(handler, (err) => {
              const code = errorCode(err);
              if (!code) return false;
              if (!this.#deadHops.has(deadKey(hop)))
                this.pac?.onWarning?.(
                  `${hop.proxy ? `proxy ${displayProxy(hop.proxy)}` : "the direct connection"} (from the PAC file) failed for ${String(opts.origin)} (${code}): trying ${next.proxy ? `proxy ${displayProxy(next.proxy)}` : "a direct connection"}`,
                );
              this.#deadHops.add(deadKey(hop));
              attempt(i + 1);
              return true;
            })
          : handler;
      return hop.dispatcher.dispatch({ ...opts, headers }, h);
    };
    return attempt(0);
  }

  /**
   * One pool per (proxy, TLS options with or without the client certificate, cap): an Agent presents its certificate
   * to every host it connects to. Leased from the process's pools once per run and route.
   */
  private routeFor(proxy: ProxyEndpoint | null, upstreamTls: TlsOptions): { key: string; dispatcher: Dispatcher } {
    const key = `${proxy ? endpointKey(proxy) : "direct"}${upstreamTls.cert !== undefined ? "+cert" : ""}`;
    let lease = this.#routes.get(key);
    if (!lease) {
      const shared = routeKey([proxy ? endpointKey(proxy) : "direct", proxy ? this.tls.proxy : null, upstreamTls, this.connections ?? null]);
      lease = leaseAgent(shared, () =>
        proxy
          ? this.proxyAgent(proxy, upstreamTls)
          : // HTTP/2 where an https:// upstream offers it; through a proxy (below) requests stay HTTP/1.1.
            createHttpAgent({ ...this.connectionCap(), keepAliveTimeoutMs: 30_000, connect: upstreamTls, allowH2: true }),
      );
      this.#routes.set(key, lease);
    }
    return { key, dispatcher: lease.dispatcher };
  }

  private connectionCap(): { connections?: number } {
    return this.connections !== undefined ? { connections: this.connections } : {};
  }

  private proxyAgent(proxy: ProxyEndpoint, upstreamTls: TlsOptions): Dispatcher {
    if (isSocksUrl(proxy.url)) return socksAgent({ proxy, upstreamTls, ...this.connectionCap(), keepAliveTimeoutMs: 30_000 });
    return new ProxyAgent({
      uri: proxy.url,
      // http:// upstreams are forwarded (GET http://...), as curl and dnf do; https:// ones go through CONNECT.
      proxyTunnel: false,
      ...(proxy.username !== undefined ? { token: basicAuthHeader(proxy.username, proxy.password ?? "") } : {}),
      proxyTls: this.tls.proxy,
      requestTls: upstreamTls,
      ...this.connectionCap(),
      pipelining: 1,
      keepAliveTimeout: 30_000,
    });
  }

  /** The run is done with its routes: the leases go back (a pool closes once no run has used it for a while). */
  private releaseRoutes(): Promise<void> {
    for (const lease of this.#routes.values()) lease.release();
    this.#routes.clear();
    return Promise.resolve();
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.releaseRoutes();
    if (!callback) return done;
    void done.then(callback);
  }

  /** Like close(): a shared pool is not destroyed under the other runs; this run's requests end by their signal. */
  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const callback = typeof a === "function" ? a : b;
    const done = this.releaseRoutes();
    if (!callback) return done;
    void done.then(callback);
  }
}

// ---------------------------------------------------------------------------------------------
// Failures through a proxy

function causeChain(err: unknown): Error[] {
  const out: Error[] = [];
  for (let cur = err; cur instanceof Error && out.length < 8; cur = cur.cause) out.push(cur);
  return out;
}

/** The status a proxy answered instead of doing its job: undici reports a 407 (forwarding) and a failed CONNECT as errors. */
export function proxyStatusOf(err: unknown): number | undefined {
  for (const e of causeChain(err)) {
    const m = /Proxy Authentication Required \((\d{3})\)|Proxy response \((\d{3})\) !== 200 when HTTP Tunneling/.exec(e.message);
    if (m) return Number(m[1] ?? m[2]);
  }
  return undefined;
}

const PROXY_UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT"]);
const RETRYABLE_TUNNEL_STATUS = new Set([408, 429, 500, 502, 503, 504]);

function errorCode(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && PROXY_UNREACHABLE.has(code)) return code;
  }
  return undefined;
}

/** A clear error for a failure that the proxy caused, naming the (redacted) proxy and the repository. */
export function describeProxyFailure(err: unknown, url: string, subject: string | undefined, decision: ProxyDecision, repoId: string): ProxyError | undefined {
  if (!decision.proxy) return undefined;
  const proxy = displayProxy(decision.proxy);
  const socks = describeSocksFailure(err, url, subject, decision.proxy, repoId);
  if (socks) return socks;
  const status = proxyStatusOf(err);
  const opts = { cause: err };
  if (status === 407) {
    const message =
      decision.proxy.username !== undefined
        ? `proxy ${proxy} rejected the credentials (407) for repository ${repoId}`
        : `proxy ${proxy} requires authentication (407) for repository ${repoId}: set username and password in the proxy block (or user:password@ in the proxy URL)`;
    return new ProxyError(message, url, proxy, 407, false, subject, opts);
  }
  if (status !== undefined) {
    const target = new URL(url).host;
    return new ProxyError(
      `proxy ${proxy} refused the tunnel to ${target} (HTTP ${status}) for repository ${repoId}`,
      url,
      proxy,
      status,
      RETRYABLE_TUNNEL_STATUS.has(status),
      subject,
      opts,
    );
  }
  const code = errorCode(err);
  const chain = decision.pac && decision.pac !== "pending" ? decision.pac.chain : [];
  if (code && chain.length > 1) {
    const tried = chain.map((p) => displayProxy(p)).join(", ");
    return new ProxyError(
      `cannot reach any of the ways the PAC file ${decision.pac !== "pending" ? decision.pac?.script : ""} chose for ${new URL(url).host} (${tried}) for repository ${repoId} (${code})`,
      url,
      tried,
      undefined,
      true,
      subject,
      opts,
    );
  }
  if (code) return new ProxyError(`cannot reach proxy ${proxy} for repository ${repoId} (${code})`, url, proxy, undefined, true, subject, opts);
  return undefined;
}

function hasUrlUser(selection: ProxySelection): boolean {
  return [selection.httpProxy, selection.httpsProxy].some((u) => !!u && new URL(u).username !== "");
}

// ---------------------------------------------------------------------------------------------

/** Build the repository's HTTP layer; throws TlsSetupError / ProxySettingError naming what to fix. */
export function repositoryHttp(repo: RepositoryConfig, config: Config, extra: Partial<HttpOptions> = {}, opts: RepositoryHttpOptions = {}): RepositoryHttp {
  const selection = selectProxySettings(repo, config, opts.env ?? process.env);
  const files = tlsFiles({
    repoId: repo.id,
    verifySsl: selection.verifySsl,
    ...(selection.caBundle ? { caBundle: selection.caBundle } : {}),
    ...(repo.auth ? { auth: repo.auth } : {}),
    ...(opts.configDir ? { configDir: opts.configDir } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const tls = loadRepositoryTls(repo.id, files);
  const basic = repo.auth?.type === "basic" ? basicAuthHeader(repo.auth.username, repo.auth.password) : undefined;
  // The pools are the process's, shared by concurrent runs: never more connections to an origin than either cap (the
  // requests beyond them wait for a slot anyway); without a cap, the runs' download_concurrency bounds them.
  const connections = connectionsPerOrigin(config);
  const pac = pacRouting(selection, { pacCacheDir: join(config.storage.base_path, "cache", "pac"), ...opts });
  const dispatcher = new RepositoryDispatcher(selection, tls, connections, repo.upstream_url, basic, pac);
  // The caps are the process's, shared by every repository's requests: the global block's values, the last loaded.
  processConnectionLimits.configure({
    ...(config.http?.max_connections_per_host !== undefined ? { perHost: config.http.max_connections_per_host } : {}),
    ...(config.http?.max_total_connections !== undefined ? { total: config.http.max_total_connections } : {}),
  });
  const settings = httpSettings(repo, config);
  const decide = (url: string) => dispatcher.decisionFor(new URL(url).origin);
  const warnings: string[] = [];
  if (!selection.verifySsl)
    warnings.push(
      `TLS certificate verification is off (verify_ssl: false in the ${selection.origin}): the proxy and the upstreams of repository ${repo.id} are not verified`,
    );
  if (settings.allowInsecureRedirects)
    warnings.push(
      `allow_insecure_redirects is on for repository ${repo.id}: a redirect from https:// to http:// is followed, and what it serves travels unencrypted`,
    );
  if (selection.password !== undefined && selection.username === undefined && !hasUrlUser(selection))
    warnings.push(`the ${selection.origin} has a password but no username: no proxy credentials are sent`);
  if (selection.noProxy.invalid.length > 0)
    warnings.push(`no_proxy entries ignored (not a host, domain, IP address or CIDR range): ${selection.noProxy.invalid.join(", ")}`);
  return {
    http: {
      dispatcher,
      gate: processConnectionLimits,
      headers: {},
      describeFailure: (err, url, subject) => describeProxyFailure(err, url, subject, decide(url), repo.id),
      minRate: settings.minRate,
      maxDownloadBytes: settings.maxDownloadBytes,
      allowInsecureRedirects: settings.allowInsecureRedirects,
      ...extra,
    },
    selection,
    tls,
    upstream: decide(repo.upstream_url),
    decide,
    resolve: (url) => dispatcher.resolveDecision(new URL(url).origin),
    warnings,
    sendsCredentials: basic !== undefined || selection.username !== undefined || hasUrlUser(selection),
    close: () => dispatcher.close().catch(() => undefined),
  };
}

/** Connections per origin of a shared pool: the smaller of the process's caps, undefined when neither is set. */
export function connectionsPerOrigin(config: Pick<Config, "http">): number | undefined {
  const caps = [config.http?.max_connections_per_host, config.http?.max_total_connections].filter((n): n is number => n !== undefined);
  return caps.length > 0 ? Math.min(...caps) : undefined;
}

/** The PAC of the chosen block, loaded on first use (once per run, shared by every repository using it). */
function pacRouting(selection: ProxySelection, opts: RepositoryHttpOptions): PacRouting | undefined {
  if (!selection.pac) return undefined;
  const source: PacSource = selection.pac;
  return {
    source,
    load: () =>
      loadPacScript(source, {
        ...opts.pac,
        ...(opts.configDir ? { configDir: opts.configDir } : {}),
        ...(opts.pacCacheDir ? { cacheDir: opts.pacCacheDir } : {}),
      }),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  };
}

export interface OutboundHttp {
  dispatcher: Dispatcher;
  /** The decision for the target URL (for the log: which proxy, or why direct). */
  decision: ProxyDecision;
  close(): Promise<void>;
}

/**
 * A Dispatcher for Chantal's own outbound requests (webhooks): the global proxy block, else the environment (NO_PROXY
 * per origin, exactly as a sync decides), its TLS settings, and `caFile` trusted besides; no repository credentials.
 */
export function outboundHttp(
  config: Pick<Config, "proxy">,
  targetUrl: string,
  opts: RepositoryHttpOptions & { caFile?: string; what?: string } = {},
): OutboundHttp {
  const selection = selectProxySettings({}, config, opts.env ?? process.env);
  const what = opts.what ?? "notify";
  const files = tlsFiles({
    repoId: what,
    verifySsl: selection.verifySsl,
    ...(selection.caBundle ? { caBundle: selection.caBundle } : {}),
    ...(opts.configDir ? { configDir: opts.configDir } : {}),
  });
  const tls = loadRepositoryTls(what, opts.caFile ? { ...files, upstreamCa: opts.caFile } : files);
  const dispatcher = new RepositoryDispatcher(selection, tls, 2, targetUrl, undefined, pacRouting(selection, opts));
  return {
    dispatcher,
    decision: dispatcher.decisionFor(new URL(targetUrl).origin),
    close: () => dispatcher.close().catch(() => undefined),
  };
}
