// NO_PROXY: parsing every form (hosts, domains, *, IPs, CIDR, ports) and matching a target URL against the list.
// Below the configuration schema, which validates no_proxy with it.
import { BlockList, isIP } from "node:net";

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
  const host = target.hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase();
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
