// PAC files (proxy auto-config): the script loaded once per run (pac_file from disk, pac_url fetched with its ETag
// cached on disk), FindProxyForURL evaluated in a QuickJS sandbox with the standard PAC functions, and its answer
// ("PROXY a:1; SOCKS b:2; DIRECT") parsed into the proxies a request tries in order.
import { createHash } from "node:crypto";
import { lookup as dnsLookup } from "node:dns/promises";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { networkInterfaces } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { createPacResolver } from "pac-resolver";
import { Agent } from "undici";
import { errorMessage } from "../errors.js";
import { DirMode, makeDirectory } from "../fs-dirs.js";
import { ownedName } from "../leftovers.js";
import { redactUrl } from "../redact.js";
import { fetchBuffer } from "./client.js";
import { proxyEndpoint, ProxySettingError, type ProxyDecision, type ProxyEndpoint, type ProxySelection } from "./proxy.js";

/** A PAC file that cannot be used: unreadable, unreachable without a cached copy, not valid JavaScript, a bad answer. */
export class PacError extends ProxySettingError {}

/** Where a block's PAC comes from; `key` names the setting in messages ("pac_url of the global proxy block"). */
export interface PacSource {
  url?: string;
  file?: string;
  key: string;
}

export const pacDefaults = {
  /** One FindProxyForURL call, DNS functions included. */
  evalTimeoutMs: 5_000,
  /** The sandbox's heap. */
  memoryLimitBytes: 32 * 1024 * 1024,
  fetchTimeoutMs: 15_000,
  maxBytes: 1024 * 1024,
  /** A process older than this (the daemon) loads the PAC again, conditionally: a 304 costs one round trip. */
  reloadMs: 5 * 60_000,
} as const;

// ---------------------------------------------------------------------------------------------
// The answer of FindProxyForURL (pure)

export interface PacEntry {
  /** The entry as the script wrote it, trimmed. */
  text: string;
  /** null: DIRECT. */
  url: string | null;
}

export interface PacAnswer {
  entries: PacEntry[];
  /** Entries that are not DIRECT, PROXY, HTTP, HTTPS, SOCKS or SOCKS5 host:port (SOCKS4 among them): skipped. */
  ignored: string[];
}

const PAC_SCHEMES: Record<string, { scheme: string; port: number }> = {
  PROXY: { scheme: "http", port: 80 },
  HTTP: { scheme: "http", port: 80 },
  HTTPS: { scheme: "https", port: 443 },
  SOCKS: { scheme: "socks5", port: 1080 },
  SOCKS5: { scheme: "socks5", port: 1080 },
};

function pacEntry(text: string): PacEntry | undefined {
  const m = /^([A-Za-z0-9]+)(?:\s+(\S+))?$/.exec(text);
  if (!m) return undefined;
  const keyword = m[1]!.toUpperCase();
  if (keyword === "DIRECT") return m[2] === undefined ? { text, url: null } : undefined;
  const kind = PAC_SCHEMES[keyword];
  if (!kind || m[2] === undefined) return undefined;
  const hostPort = m[2];
  // host, host:port, [v6] or [v6]:port; nothing else (no path, no credentials).
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(hostPort)) return undefined;
  const hasPort = /(\]|^[^[\]:]+):\d+$/.test(hostPort);
  const url = `${kind.scheme}://${hostPort}${hasPort ? "" : `:${kind.port}`}`;
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  return { text, url: `${u.protocol}//${u.host}` };
}

/** "PROXY a:1; SOCKS b:2; DIRECT" → the entries in order, duplicates once; an empty answer is DIRECT (as browsers read it). */
export function parsePacAnswer(answer: string): PacAnswer {
  const entries: PacEntry[] = [];
  const ignored: string[] = [];
  const seen = new Set<string>();
  const parts = answer
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (parts.length === 0) return { entries: [{ text: "DIRECT", url: null }], ignored };
  for (const part of parts) {
    const entry = pacEntry(part.replace(/\s+/g, " "));
    if (!entry) {
      ignored.push(part);
      continue;
    }
    const key = entry.url ?? "DIRECT";
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push(entry);
  }
  return { entries, ignored };
}

/** The decision for `target` from the PAC's answer: the proxies in order, the block's credentials on each. */
export function pacDecision(selection: ProxySelection, target: string, source: PacSource, answer: string): ProxyDecision {
  const parsed = parsePacAnswer(answer);
  if (parsed.entries.length === 0)
    throw new PacError(
      `the PAC file ${pacLabel(source)} answered ${JSON.stringify(answer)} for ${redactUrl(target)}: no DIRECT, PROXY, HTTPS or SOCKS entry in it (${source.key})`,
    );
  const chain: (ProxyEndpoint | null)[] = parsed.entries.map((e) => (e.url === null ? null : proxyEndpoint(e.url, selection)));
  const first = chain[0] ?? null;
  const order = parsed.entries.map((e) => e.text).join("; ");
  return {
    target,
    proxy: first,
    source: selection.source,
    reason: `the PAC file ${pacLabel(source)} answered "${order}"${chain.length > 1 ? " (tried in that order)" : ""}`,
    pac: { script: pacLabel(source), answer, chain, ignored: parsed.ignored },
  };
}

export function pacLabel(source: PacSource): string {
  return source.url !== undefined ? redactUrl(source.url) : (source.file ?? "");
}

// ---------------------------------------------------------------------------------------------
// The sandbox

export interface PacScript {
  label: string;
  /** What to log once: a stale cached copy used because the server was unreachable. */
  warnings: string[];
  /** FindProxyForURL(url, host) → its answer, or a PacError (thrown, an endless loop, not a string). */
  findProxy(url: string): Promise<string>;
}

export interface PacEvalOptions {
  evalTimeoutMs?: number;
  memoryLimitBytes?: number;
  /** What myIpAddress() answers (default: the first non-internal IPv4 address of this host, else 127.0.0.1). */
  myIpAddress?: string;
  /** A host's IPv4 address, null when it does not resolve (default: the system resolver). */
  lookup?: (host: string) => Promise<string | null>;
}

let wasmBytes: Promise<Buffer> | undefined;

/** The QuickJS engine's WebAssembly, read once per process (it ships in the npm package). */
function quickjsWasm(): Promise<Buffer> {
  wasmBytes ??= readFile(createRequire(import.meta.url).resolve("quickjs-wasi/quickjs.wasm"));
  return wasmBytes;
}

/** Without a network round trip: pac-resolver's own asks a socket to 8.8.8.8 which address it would leave from. */
export function localIpv4(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return "127.0.0.1";
}

async function systemLookup(host: string): Promise<string | null> {
  try {
    return (await dnsLookup(host, { family: 4 })).address;
  } catch {
    return null;
  }
}

function ipv4ToInt(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

/** isInNet's test: the address and the pattern agree on the mask's bits (IPv4, as the PAC standard has it). */
export function ipv4InNet(ip: string, pattern: string, mask: string): boolean {
  const [a, p, m] = [ipv4ToInt(ip), ipv4ToInt(pattern), ipv4ToInt(mask)];
  if (a === undefined || p === undefined || m === undefined) return false;
  return (a & m) >>> 0 === (p & m) >>> 0;
}

/** Re-runs of one FindProxyForURL call at most, each after resolving the names the previous one asked for. */
const MAX_DNS_PASSES = 8;

/**
 * Compile a PAC script in a fresh QuickJS VM; a syntax error, a top-level endless loop or no FindProxyForURL is a
 * PacError. Every sandbox function is synchronous, so an interrupt always ends the call that caused it: the DNS
 * functions answer from a per-script table, and a call that asked for a name not in it is run again once the
 * names are resolved (a PAC script is a pure function of its inputs and these answers).
 */
export async function compilePac(code: string, label: string, opts: PacEvalOptions = {}): Promise<PacScript> {
  const timeoutMs = opts.evalTimeoutMs ?? pacDefaults.evalTimeoutMs;
  const lookup = opts.lookup ?? systemLookup;
  let deadline = 0;
  // Loaded on first use: the sandbox (pac-resolver, its JavaScript parser, QuickJS) costs every other run ~0.15 s of start-up.
  const [{ createPacResolver }, { QuickJS }] = await Promise.all([import("pac-resolver"), import("quickjs-wasi")]);
  const vm = await QuickJS.create({
    wasm: await quickjsWasm(),
    memoryLimit: opts.memoryLimitBytes ?? pacDefaults.memoryLimitBytes,
    interruptHandler: () => deadline !== 0 && Date.now() > deadline,
  });
  const ip = opts.myIpAddress ?? localIpv4();
  const resolved = new Map<string, string | null>();
  const missing = new Set<string>();
  const dnsResolve = (host: unknown): string | null => {
    const h = String(host).toLowerCase();
    if (ipv4ToInt(h) !== undefined) return h;
    if (resolved.has(h)) return resolved.get(h) ?? null;
    missing.add(h);
    return null;
  };
  const sandbox = {
    myIpAddress: () => ip,
    alert: () => undefined,
    dnsResolve,
    isResolvable: (host: unknown) => dnsResolve(host) !== null,
    isInNet: (host: unknown, pattern: unknown, mask: unknown) => {
      const addr = dnsResolve(host);
      return addr !== null && ipv4InNet(addr, String(pattern), String(mask));
    },
  };
  let find: ReturnType<typeof createPacResolver>;
  deadline = Date.now() + timeoutMs;
  try {
    find = createPacResolver(vm, code, { filename: label, sandbox });
  } catch (err) {
    throw new PacError(`the PAC file ${label} is not a usable PAC script: ${sandboxMessage(err, timeoutMs)}`, { cause: err });
  } finally {
    deadline = 0;
  }
  const evaluate = async (url: string, until: number): Promise<unknown> => {
    for (let pass = 1; ; pass++) {
      missing.clear();
      deadline = until;
      let answer: unknown;
      try {
        answer = await find(url);
      } finally {
        deadline = 0;
      }
      if (missing.size === 0 || pass >= MAX_DNS_PASSES) return answer;
      for (const host of missing) resolved.set(host, await lookup(host));
      if (Date.now() > until) throw new Error("interrupted");
    }
  };
  // One call at a time: the VM is single-threaded, and the deadline and the missing names are one call's.
  let queue: Promise<unknown> = Promise.resolve();
  const call = async (url: string): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    // A DNS lookup that hangs is bounded too.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("interrupted")), timeoutMs);
    });
    try {
      const answer = await Promise.race([evaluate(url, Date.now() + timeoutMs), timeout]);
      if (typeof answer !== "string")
        throw new PacError(`the PAC file ${label} answered ${describeValue(answer)} for ${redactUrl(url)}, not a string like "PROXY host:port; DIRECT"`);
      return answer;
    } catch (err) {
      if (err instanceof PacError) throw err;
      throw new PacError(`the PAC file ${label} failed for ${redactUrl(url)}: ${sandboxMessage(err, timeoutMs)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    label,
    warnings: [],
    findProxy(url) {
      const p = queue.then(() => call(url));
      queue = p.catch(() => undefined);
      return p;
    },
  };
}

function sandboxMessage(err: unknown, timeoutMs: number): string {
  const message = errorMessage(err);
  if (/interrupted/i.test(message)) return `it did not answer within ${timeoutMs} ms (an endless loop?)`;
  if (/out of memory/i.test(message)) return "it ran out of memory in the sandbox";
  return message.split("\n")[0] ?? message;
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  return `a ${typeof v}`;
}

// ---------------------------------------------------------------------------------------------
// Loading: a file, or a URL fetched once per run with its ETag cached on disk

export interface PacLoadOptions extends PacEvalOptions {
  /** A relative pac_file is relative to it. */
  configDir?: string;
  /** Where a fetched PAC and its ETag are kept between runs (<base_path>/cache/pac); unset: no disk cache. */
  cacheDir?: string;
  fetchTimeoutMs?: number;
  maxBytes?: number;
  /** Clock of the in-process memo (ms). */
  now?: () => number;
}

interface CacheMeta {
  url: string;
  etag: string | null;
  savedAt: string;
}

const memo = new Map<string, { at: number; script: Promise<PacScript> }>();

/** Forget the process's loaded PAC files: the next load reads or fetches again (tests; the daemon after reloadMs). */
export function forgetPacScripts(): void {
  memo.clear();
}

/** The PAC of `source`, loaded at most once per run (pacDefaults.reloadMs in a long-lived process). */
export function loadPacScript(source: PacSource, opts: PacLoadOptions = {}): Promise<PacScript> {
  const now = opts.now ?? Date.now;
  const file = source.file !== undefined ? resolvePacFile(source.file, opts.configDir) : undefined;
  const key = source.url !== undefined ? `url:${source.url}` : `file:${file}`;
  const held = memo.get(key);
  if (held && now() - held.at < pacDefaults.reloadMs) return held.script;
  const script = file !== undefined ? loadFile(file, source, opts) : fetchPac(source.url!, source, opts);
  // A failure too is the run's: every repository names it, and the next run (or reload) tries again.
  memo.set(key, { at: now(), script });
  script.catch(() => undefined);
  return script;
}

function resolvePacFile(file: string, configDir: string | undefined): string {
  return isAbsolute(file) || !configDir ? resolve(file) : resolve(configDir, file);
}

async function loadFile(file: string, source: PacSource, opts: PacLoadOptions): Promise<PacScript> {
  let code: Buffer;
  try {
    code = await readFile(file);
  } catch (err) {
    throw new PacError(`cannot read the PAC file ${file} (${source.key}): ${errorMessage(err)}`, { cause: err });
  }
  if (code.length > (opts.maxBytes ?? pacDefaults.maxBytes))
    throw new PacError(`the PAC file ${file} (${source.key}) is larger than ${opts.maxBytes ?? pacDefaults.maxBytes} bytes`);
  return compilePac(code.toString("utf8"), file, opts);
}

function cachePaths(cacheDir: string, url: string): { body: string; meta: string } {
  const id = createHash("sha256").update(url).digest("hex").slice(0, 32);
  return { body: join(cacheDir, `${id}.pac`), meta: join(cacheDir, `${id}.json`) };
}

async function readCache(cacheDir: string | undefined, url: string): Promise<{ code: string; meta: CacheMeta } | undefined> {
  if (!cacheDir) return undefined;
  const paths = cachePaths(cacheDir, url);
  try {
    const meta = JSON.parse(await readFile(paths.meta, "utf8")) as CacheMeta;
    if (meta.url !== url) return undefined;
    return { code: await readFile(paths.body, "utf8"), meta };
  } catch {
    return undefined;
  }
}

/** The body first, then its metadata, each through a temporary name and a rename: a crash leaves the old pair or a body without meta. */
async function writeCache(cacheDir: string, url: string, code: string, etag: string | null): Promise<void> {
  await makeDirectory(cacheDir, { mode: DirMode.private });
  const paths = cachePaths(cacheDir, url);
  const meta: CacheMeta = { url, etag, savedAt: new Date().toISOString() };
  await rm(paths.meta, { force: true });
  for (const [path, text] of [
    [paths.body, code],
    [paths.meta, JSON.stringify(meta)],
  ] as const) {
    const tmp = join(cacheDir, ownedName(".pac-tmp"));
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, path);
  }
}

/**
 * GET the PAC directly (never through a proxy: the PAC says which proxy), If-None-Match the cached ETag. 304: the
 * cached copy. Unreachable or an HTTP error with a cached copy: the copy, and a warning. Without one: a PacError.
 */
async function fetchPac(url: string, source: PacSource, opts: PacLoadOptions): Promise<PacScript> {
  const cached = await readCache(opts.cacheDir, url);
  const label = redactUrl(url);
  const agent = new Agent({ connections: 1 });
  const fetchTimeoutMs = opts.fetchTimeoutMs ?? pacDefaults.fetchTimeoutMs;
  const deadline = AbortSignal.timeout(fetchTimeoutMs);
  let res: Awaited<ReturnType<typeof fetchBuffer>>;
  try {
    res = await fetchBuffer(
      url,
      {
        dispatcher: agent,
        retries: 1,
        baseDelayMs: 200,
        timeoutMs: fetchTimeoutMs,
        signal: deadline,
        ...(cached?.meta.etag ? { headers: { "if-none-match": cached.meta.etag } } : {}),
      },
      { maxBytes: opts.maxBytes ?? pacDefaults.maxBytes },
      { subject: "PAC file" },
    );
  } catch (err) {
    const why = deadline.aborted ? `no complete answer within ${fetchTimeoutMs} ms` : errorMessage(err);
    if (!cached) throw new PacError(`cannot fetch the PAC file ${label} (${source.key}), and no copy is cached: ${why}`, { cause: err });
    const script = await compilePac(cached.code, label, opts);
    script.warnings.push(`cannot fetch the PAC file ${label} (${why}): using the copy cached at ${cached.meta.savedAt} (${opts.cacheDir})`);
    return script;
  } finally {
    await agent.close().catch(() => undefined);
  }
  if (res.status === 304 && cached) return compilePac(cached.code, label, opts);
  if (res.status === 304) throw new PacError(`the PAC server answered 304 Not Modified for ${label} (${source.key}) to a request that had no ETag`);
  const code = res.body.toString("utf8");
  // Compiled before it is cached: a broken PAC never replaces a working copy.
  const script = await compilePac(code, label, opts);
  if (opts.cacheDir)
    await writeCache(opts.cacheDir, url, code, res.headers["etag"] ?? null).catch((err: unknown) =>
      script.warnings.push(`cannot cache the PAC file ${label} in ${opts.cacheDir}: ${errorMessage(err)}`),
    );
  return script;
}
