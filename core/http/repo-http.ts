// The HTTP options of one repository: a Dispatcher that picks, per request origin, a direct keep-alive Agent or a
// ProxyAgent (NO_PROXY is decided per origin, since a redirect may lead to another host), with the repository's TLS
// material, and its basic-auth credentials bound to the upstream's host.
import { Agent, Dispatcher, ProxyAgent } from "undici";
import type { Config, RepositoryConfig } from "../config/schema.js";
import { ProxyError, type HttpOptions } from "./client.js";
import { decideProxy, displayProxy, selectProxySettings, type ProxyDecision, type ProxyEndpoint, type ProxyEnv, type ProxySelection } from "./proxy.js";
import { loadRepositoryTls, tlsFiles, type RepositoryTls } from "./tls.js";

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

  constructor(
    private readonly selection: ProxySelection,
    private readonly tls: RepositoryTls,
    private readonly connections: number,
    private readonly credentials?: { upstreamUrl: string; header: string },
  ) {
    super();
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
      route = { dispatcher: this.routeFor(this.decisionFor(origin).proxy), credentials: !!this.credentials && credentialsAllowed(this.credentials.upstreamUrl, origin) };
      this.#byOrigin.set(key, route);
    }
    const headers = route.credentials ? withAuthorization(opts.headers, this.credentials!.header) : opts.headers;
    return route.dispatcher.dispatch({ ...opts, headers }, handler);
  }

  private routeFor(proxy: ProxyEndpoint | null): Dispatcher {
    const key = proxy ? endpointKey(proxy) : "direct";
    let d = this.#routes.get(key);
    if (!d) {
      d = proxy ? this.proxyAgent(proxy) : new Agent({ connections: this.connections, pipelining: 1, keepAliveTimeout: 30_000, connect: this.tls.upstream });
      this.#routes.set(key, d);
    }
    return d;
  }

  private proxyAgent(proxy: ProxyEndpoint): ProxyAgent {
    return new ProxyAgent({
      uri: proxy.url,
      // http:// upstreams are forwarded (GET http://...), as curl and dnf do; https:// ones go through CONNECT.
      proxyTunnel: false,
      ...(proxy.username !== undefined ? { token: basicAuthHeader(proxy.username, proxy.password ?? "") } : {}),
      proxyTls: this.tls.proxy,
      requestTls: this.tls.upstream,
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
    return new ProxyError(`proxy ${proxy} refused the tunnel to ${target} (HTTP ${status}) for repository ${repoId}`, url, proxy, status, RETRYABLE_TUNNEL_STATUS.has(status), subject, opts);
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
  const credentials = repo.auth?.type === "basic" ? { upstreamUrl: repo.upstream_url, header: basicAuthHeader(repo.auth.username, repo.auth.password) } : undefined;
  const dispatcher = new RepositoryDispatcher(selection, tls, repo.download_concurrency, credentials);
  const decide = (url: string) => dispatcher.decisionFor(new URL(url).origin);
  const warnings: string[] = [];
  if (!selection.verifySsl) warnings.push(`TLS certificate verification is off (verify_ssl: false in the ${selection.origin}): the proxy and the upstreams of repository ${repo.id} are not verified`);
  if (selection.password !== undefined && selection.username === undefined && !hasUrlUser(selection)) warnings.push(`the ${selection.origin} has a password but no username: no proxy credentials are sent`);
  if (selection.noProxy.invalid.length > 0) warnings.push(`no_proxy entries ignored (not a host, domain, IP address or CIDR range): ${selection.noProxy.invalid.join(", ")}`);
  return {
    http: {
      dispatcher,
      headers: {},
      describeFailure: (err, url, subject) => describeProxyFailure(err, url, subject, decide(url), repo.id),
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
