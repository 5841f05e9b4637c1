// The HTTP options of one repository: a Dispatcher that picks, per request origin, a direct keep-alive Agent or a
// ProxyAgent (NO_PROXY is decided per origin, since a redirect may lead to another host), with the repository's TLS
// material, its basic-auth credentials bound to the upstream's host and its client certificate to the upstream's
// origin, and the http: settings (minimum rate, size cap, insecure redirects) of the repository over the global ones.
import { Dispatcher, ProxyAgent } from "undici";
import type { Config, HttpSettingsConfig, RepositoryConfig } from "../config/schema.js";
import { createHttpAgent, httpDefaults, ProxyError, type HttpOptions } from "./client.js";
import { minRateDefaults, type MinRate } from "./min-rate.js";
import { decideProxy, displayProxy, selectProxySettings, type ProxyDecision, type ProxyEndpoint, type ProxyEnv, type ProxySelection } from "./proxy.js";
import { processConnectionLimits } from "./request-gate.js";
import { loadRepositoryTls, tlsFiles, type RepositoryTls, type TlsOptions } from "./tls.js";

export interface RepositoryHttpOptions {
  /** Where HTTP_PROXY & co. come from (default process.env). */
  env?: ProxyEnv;
  /** Relative ca_bundle / cert paths are relative to it. */
  configDir?: string;
  now?: Date;
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
  /** The decision for any URL (per origin, like the requests). */
  decide(url: string): ProxyDecision;
  /** To log on every run: verify_ssl off, ignored NO_PROXY entries. */
  warnings: string[];
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

/** Routes every request by its origin: direct, or through the proxy the repository's settings choose for it. */
class RepositoryDispatcher extends Dispatcher {
  readonly #routes = new Map<string, Dispatcher>();
  readonly #decisions = new Map<string, ProxyDecision>();
  /** By request origin as undici gives it: where it goes and whether it carries the repository's credentials. */
  readonly #byOrigin = new Map<string, { dispatcher: Dispatcher; credentials: boolean }>();
  /** Upstream TLS without the client certificate: for every origin but the upstream's. */
  readonly #upstreamTlsWithoutCert: TlsOptions;

  constructor(
    private readonly selection: ProxySelection,
    private readonly tls: RepositoryTls,
    private readonly connections: number,
    private readonly upstreamUrl: string,
    private readonly basicAuthHeader?: string,
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

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const key = String(opts.origin);
    let route = this.#byOrigin.get(key);
    if (!route) {
      const origin = new URL(key).origin;
      const withCert = this.tls.upstream.cert !== undefined && clientCertAllowed(this.upstreamUrl, origin);
      route = {
        dispatcher: this.routeFor(this.decisionFor(origin).proxy, withCert ? this.tls.upstream : this.#upstreamTlsWithoutCert),
        credentials: this.basicAuthHeader !== undefined && credentialsAllowed(this.upstreamUrl, origin),
      };
      this.#byOrigin.set(key, route);
    }
    const headers = route.credentials ? withAuthorization(opts.headers, this.basicAuthHeader!) : opts.headers;
    return route.dispatcher.dispatch({ ...opts, headers }, handler);
  }

  /** One Agent per (proxy, client certificate or not): an Agent presents its certificate to every host it connects to. */
  private routeFor(proxy: ProxyEndpoint | null, upstreamTls: TlsOptions): Dispatcher {
    const key = `${proxy ? endpointKey(proxy) : "direct"}${upstreamTls.cert !== undefined ? "+cert" : ""}`;
    let d = this.#routes.get(key);
    if (!d) {
      d = proxy
        ? this.proxyAgent(proxy, upstreamTls)
        : // HTTP/2 where an https:// upstream offers it; through a proxy (below) requests stay HTTP/1.1.
          createHttpAgent({ connections: this.connections, keepAliveTimeoutMs: 30_000, connect: upstreamTls, allowH2: true });
      this.#routes.set(key, d);
    }
    return d;
  }

  private proxyAgent(proxy: ProxyEndpoint, upstreamTls: TlsOptions): ProxyAgent {
    return new ProxyAgent({
      uri: proxy.url,
      // http:// upstreams are forwarded (GET http://...), as curl and dnf do; https:// ones go through CONNECT.
      proxyTunnel: false,
      ...(proxy.username !== undefined ? { token: basicAuthHeader(proxy.username, proxy.password ?? "") } : {}),
      proxyTls: this.tls.proxy,
      requestTls: upstreamTls,
      connections: this.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
    });
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all([...this.#routes.values()].map((d) => d.close().catch(() => undefined))).then(() => undefined);
    if (!callback) return done;
    void done.then(callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === "function" ? null : (a ?? null);
    const callback = typeof a === "function" ? a : b;
    const done = Promise.all([...this.#routes.values()].map((d) => d.destroy(err).catch(() => undefined))).then(() => undefined);
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
  // Never more connections to an origin than the per-host cap: the requests beyond them would wait for a slot anyway.
  const connections = Math.min(repo.download_concurrency, config.http?.max_connections_per_host ?? Number.POSITIVE_INFINITY);
  const dispatcher = new RepositoryDispatcher(selection, tls, connections, repo.upstream_url, basic);
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
    warnings,
    close: () => dispatcher.close().catch(() => undefined),
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
  const dispatcher = new RepositoryDispatcher(selection, tls, 2, targetUrl);
  return {
    dispatcher,
    decision: dispatcher.decisionFor(new URL(targetUrl).origin),
    close: () => dispatcher.close().catch(() => undefined),
  };
}
