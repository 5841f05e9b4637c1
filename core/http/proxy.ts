// Which proxy a request takes, and why: the repository's proxy block, else the global one, else the environment,
// else direct; NO_PROXY per target. Pure: no I/O, the environment is a parameter.
import { BlockList, isIP } from "node:net";
import type { Config, ProxyConfig, RepositoryConfig } from "../config/schema.js";
import { ChantalError, ExitCode } from "../errors.js";

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
export type NoProxyEntry =
  | { kind: "all"; text: string }
  | { kind: "domain"; text: string; domain: string; port?: number }
  | { kind: "address"; text: string; family: "ipv4" | "ipv6"; list: BlockList; port?: number };

export interface NoProxyList {
  entries: NoProxyEntry[];
  /** Entries that are none of the accepted forms (ignored). */
  invalid: string[];
}

/** The proxy settings in force for one repository, before any target is known. */
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
}

/** A proxy setting that cannot be used (a SOCKS URL in the environment, a malformed URL). */
export class ProxySettingError extends ChantalError {
  override readonly exitCode = ExitCode.config;
}

// ---------------------------------------------------------------------------------------------
// NO_PROXY

const DOMAIN = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

function parsePort(text: string | undefined): number | undefined | "bad" {
  if (text === undefined) return undefined;
  const n = Number(text);
  return /^\d{1,5}$/.test(text) && n >= 1 && n <= 65535 ? n : "bad";
}

function addressEntry(text: string, address: string, prefix: number | undefined, port: number | undefined): NoProxyEntry | undefined {
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? "ipv4" : "ipv6";
  const max = version === 4 ? 32 : 128;
  if (prefix !== undefined && (prefix < 0 || prefix > max)) return undefined;
  const list = new BlockList();
  if (prefix === undefined) list.addAddress(address, family);
  else list.addSubnet(address, prefix, family);
  return { kind: "address", text, family, list, ...(port !== undefined ? { port } : {}) };
}

/** One entry: `*`, `[.|*.]domain[:port]`, `ip[:port]`, `[v6][:port]`, `ip/prefix`. Undefined when it is none of them. */
export function parseNoProxyEntry(raw: string): NoProxyEntry | undefined {
  const text = raw.trim().toLowerCase();
  if (text === "") return undefined;
  if (text === "*") return { kind: "all", text };
  const bracketed = /^\[([^\]]+)\](?::([^:]*))?$/.exec(text);
  if (bracketed) {
    const port = parsePort(bracketed[2]);
    if (port === "bad") return undefined;
    const [address, prefix] = bracketed[1]!.split("/");
    return addressEntry(text, address!, prefix === undefined ? undefined : Number(prefix), port);
  }
  if (text.includes("/")) {
    const [address, prefix, ...rest] = text.split("/");
    if (rest.length > 0 || !/^\d{1,3}$/.test(prefix ?? "")) return undefined;
    return addressEntry(text, address!, Number(prefix), undefined);
  }
  if (isIP(text) === 6) return addressEntry(text, text, undefined, undefined);
  const hostPort = /^([^:]+)(?::([^:]*))?$/.exec(text);
  if (!hostPort) return undefined;
  const port = parsePort(hostPort[2]);
  if (port === "bad") return undefined;
  const host = hostPort[1]!;
  if (isIP(host) === 4) return addressEntry(text, host, undefined, port);
  const domain = host.replace(/^\*?\./, "").replace(/\.$/, "");
  if (!DOMAIN.test(domain)) return undefined;
  return { kind: "domain", text, domain, ...(port !== undefined ? { port } : {}) };
}

/** Comma- and/or whitespace-separated entries (a YAML list is accepted too). */
export function parseNoProxy(value: string | readonly string[] | undefined): NoProxyList {
  const items = (Array.isArray(value) ? value : [value ?? ""]).flatMap((v: string) => v.split(/[\s,]+/)).filter((s) => s.trim() !== "");
  const entries: NoProxyEntry[] = [];
  const invalid: string[] = [];
  for (const item of items) {
    const entry = parseNoProxyEntry(item);
    if (entry) entries.push(entry);
    else invalid.push(item.trim());
  }
  return { entries, invalid };
}

function targetHostPort(target: URL): { host: string; port: number } {
  const host = target.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
  const port = target.port ? Number(target.port) : target.protocol === "https:" ? 443 : 80;
  return { host, port };
}

function entryMatches(entry: NoProxyEntry, host: string, port: number): boolean {
  if (entry.kind === "all") return true;
  if (entry.port !== undefined && entry.port !== port) return false;
  const ip = isIP(host);
  if (entry.kind === "address") {
    const family = ip === 4 ? "ipv4" : ip === 6 ? "ipv6" : undefined;
    return family === entry.family && entry.list.check(host, family);
  }
  // Domain entries never match IP literals by suffix ("0.1" must not match 127.0.0.1).
  if (ip !== 0) return false;
  return host === entry.domain || host.endsWith(`.${entry.domain}`);
}

/** The first entry that sends this URL direct, if any. Hosts are compared as written: no DNS lookups. */
export function matchNoProxy(list: NoProxyList, targetUrl: string | URL): NoProxyEntry | undefined {
  const { host, port } = targetHostPort(typeof targetUrl === "string" ? new URL(targetUrl) : targetUrl);
  return list.entries.find((e) => entryMatches(e, host, port));
}

// ---------------------------------------------------------------------------------------------
// Selection and decision

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

/** `proxy:3128` means http://proxy:3128 (as curl reads it); SOCKS and other schemes are refused. */
function normalizeEnvProxy(name: string, value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  const scheme = withScheme.slice(0, withScheme.indexOf(":")).toLowerCase();
  if (scheme !== "http" && scheme !== "https") {
    throw new ProxySettingError(`${name} in the environment is a ${scheme}:// proxy: only http:// and https:// proxies are supported (not SOCKS)`);
  }
  if (!URL.canParse(withScheme)) throw new ProxySettingError(`${name} in the environment is not a valid proxy URL`);
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
  if (selection.source === "none") return { ...base, proxy: null, reason: "no proxy block in the configuration and no HTTP_PROXY/HTTPS_PROXY in the environment" };
  if (!selection.enabled) return { ...base, proxy: null, reason: `enabled: false in the ${selection.origin}` };
  const url = new URL(targetUrl);
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
