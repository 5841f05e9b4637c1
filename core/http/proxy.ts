// Which proxy a request takes, and why: the repository's proxy block, else the global one, else the environment,
// else direct; NO_PROXY per target. Pure: no I/O, the environment is a parameter.
import type { Config, ProxyConfig, RepositoryConfig } from "../config/schema.js";
import { ChantalError, ExitCode } from "../errors.js";
import { matchNoProxy, parseNoProxy, type NoProxyList } from "./no-proxy.js";
import { proxyUrlProblem } from "./proxy-url.js";

export type ProxySource = "repository" | "global" | "environment" | "none";

/** Proxy-related environment variables (a subset of process.env). */
export type ProxyEnv = Record<string, string | undefined>;

export interface ProxyEndpoint {
  /** scheme://host:port, without credentials. */
  url: string;
  username?: string;
  password?: string;
}

/** One NO_PROXY entry, parsed; `text` is the entry as written (lower-cased). */
export interface ProxySelection {
  source: ProxySource;
  /** false: `enabled: false` in the chosen block (a direct connection). */
  enabled: boolean;
  httpProxy?: string;
  httpsProxy?: string;
  noProxy: NoProxyList;
  username?: string;
  password?: string;
  /** TLS settings of the chosen block (environment and none: verify with the system CAs). */
  verifySsl: boolean;
  caBundle?: string;
  /** Where the settings came from, for messages: `repository proxy block`, `HTTPS_PROXY`... */
  origin: string;
  /** pac_url / pac_file of the chosen block: FindProxyForURL decides per origin (core/http/pac.ts). */
  pac?: { url?: string; file?: string; key: string };
}

export interface ProxyDecision {
  /** The target URL the decision is for. */
  target: string;
  /** null: a direct connection. */
  proxy: ProxyEndpoint | null;
  source: ProxySource;
  /** The NO_PROXY entry (as written) that sent the target direct. */
  noProxyMatch?: string;
  /** Why, in words. */
  reason: string;
  /** A PAC file's answer: the proxies (null: DIRECT) tried in order; `pending` until the PAC was asked (async). */
  pac?: { script: string; answer: string; chain: (ProxyEndpoint | null)[]; ignored: string[] } | "pending";
}

/** A proxy setting that cannot be used (a SOCKS4 URL in the environment, a malformed URL). */
export class ProxySettingError extends ChantalError {
  override readonly exitCode = ExitCode.config;
}

// ---------------------------------------------------------------------------------------------
// NO_PROXY

function envValue(env: ProxyEnv, name: string): { name: string; value: string } | undefined {
  for (const n of [name.toLowerCase(), name.toUpperCase()]) {
    const v = env[n]?.trim();
    if (v) return { name: n, value: v };
  }
  return undefined;
}

function fromBlock(block: ProxyConfig, source: "repository" | "global"): ProxySelection {
  return {
    source,
    enabled: block.enabled,
    ...(block.http_proxy ? { httpProxy: block.http_proxy } : {}),
    ...(block.https_proxy ? { httpsProxy: block.https_proxy } : {}),
    noProxy: parseNoProxy(block.no_proxy),
    ...(block.username !== undefined ? { username: block.username } : {}),
    ...(block.password !== undefined ? { password: block.password } : {}),
    verifySsl: block.verify_ssl,
    ...(block.ca_bundle ? { caBundle: block.ca_bundle } : {}),
    origin: `${source} proxy block`,
    ...(block.pac_url !== undefined || block.pac_file !== undefined
      ? {
          pac: {
            ...(block.pac_url !== undefined ? { url: block.pac_url } : {}),
            ...(block.pac_file !== undefined ? { file: block.pac_file } : {}),
            key: `${block.pac_url !== undefined ? "pac_url" : "pac_file"} of the ${source} proxy block`,
          },
        }
      : {}),
  };
}

/** The settings in force for a repository: its own block (whole), else the global block, else the environment. */
export function selectProxySettings(repo: Pick<RepositoryConfig, "proxy">, config: Pick<Config, "proxy">, env: ProxyEnv): ProxySelection {
  if (repo.proxy) return fromBlock(repo.proxy, "repository");
  if (config.proxy) return fromBlock(config.proxy, "global");
  const http = envValue(env, "http_proxy");
  const https = envValue(env, "https_proxy");
  const noProxy = envValue(env, "no_proxy");
  if (!http && !https) return { source: "none", enabled: false, noProxy: parseNoProxy(undefined), verifySsl: true, origin: "no proxy configured" };
  return {
    source: "environment",
    enabled: true,
    ...(http ? { httpProxy: normalizeEnvProxy(http.name, http.value) } : {}),
    ...(https ? { httpsProxy: normalizeEnvProxy(https.name, https.value) } : {}),
    noProxy: parseNoProxy(noProxy?.value),
    verifySsl: true,
    origin: [http?.name, https?.name].filter(Boolean).join(", ") + " in the environment",
  };
}

/** `proxy:3128` means http://proxy:3128 (as curl reads it); socks5:// and socks5h:// are SOCKS, other schemes are refused. */
function normalizeEnvProxy(name: string, value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  const problem = proxyUrlProblem(withScheme);
  if (problem) throw new ProxySettingError(`${name} in the environment: ${problem}`);
  return withScheme;
}

function decodeUserinfo(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The proxy URL without credentials, plus the credentials: the block's username and password win over the URL's. */
export function proxyEndpoint(proxyUrl: string, selection: Pick<ProxySelection, "username" | "password">): ProxyEndpoint {
  const u = new URL(proxyUrl);
  const username = selection.username ?? (u.username ? decodeUserinfo(u.username) : undefined);
  // No username, no credentials: a password alone is not sent (repositoryHttp warns about it).
  if (username === undefined) return { url: `${u.protocol}//${u.host}` };
  const password = selection.password ?? (u.password ? decodeUserinfo(u.password) : "");
  return { url: `${u.protocol}//${u.host}`, username, password };
}

/** What a request to `targetUrl` does under `selection`. */
export function decideProxy(selection: ProxySelection, targetUrl: string): ProxyDecision {
  const base = { target: targetUrl, source: selection.source };
  if (selection.source === "none")
    return { ...base, proxy: null, reason: "no proxy block in the configuration and no HTTP_PROXY/HTTPS_PROXY in the environment" };
  if (!selection.enabled) return { ...base, proxy: null, reason: `enabled: false in the ${selection.origin}` };
  const url = new URL(targetUrl);
  if (selection.pac) {
    // NO_PROXY first; the rest is the PAC's to decide, asynchronously (decideWithPac in core/http/pac.ts).
    const match = matchNoProxy(selection.noProxy, url);
    if (match) return { ...base, proxy: null, noProxyMatch: match.text, reason: `no_proxy entry "${match.text}" matches ${url.host}` };
    return { ...base, proxy: null, pac: "pending", reason: `to be asked of the PAC file (${selection.pac.key})` };
  }
  const https = url.protocol === "https:";
  const proxyUrl = https ? selection.httpsProxy : selection.httpProxy;
  const key = https ? "https_proxy" : "http_proxy";
  if (!proxyUrl) return { ...base, proxy: null, reason: `no ${key} in the ${selection.origin} for an ${url.protocol.slice(0, -1)}:// target` };
  const match = matchNoProxy(selection.noProxy, url);
  if (match) return { ...base, proxy: null, noProxyMatch: match.text, reason: `no_proxy entry "${match.text}" matches ${url.host}` };
  return { ...base, proxy: proxyEndpoint(proxyUrl, selection), reason: `${key} of the ${selection.origin}` };
}

/** resolveProxy(repo, config, env, target): the decision for one request. */
export function resolveProxy(repo: Pick<RepositoryConfig, "proxy">, config: Pick<Config, "proxy">, env: ProxyEnv, targetUrl: string): ProxyDecision {
  return decideProxy(selectProxySettings(repo, config, env), targetUrl);
}

/** The proxy as it may be printed: scheme://user@host:port, never the password. */
export function displayProxy(endpoint: ProxyEndpoint | null, opts: { withUser?: boolean } = {}): string {
  if (!endpoint) return "direct";
  if (!opts.withUser || endpoint.username === undefined) return endpoint.url;
  const u = new URL(endpoint.url);
  u.username = encodeURIComponent(endpoint.username);
  return `${u.protocol}//${u.username}@${u.host}`;
}
