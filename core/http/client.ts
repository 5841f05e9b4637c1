// A small HTTP layer on undici 7: retries with backoff and jitter, Retry-After, redirects,
// typed errors that name the (redacted) URL. The Dispatcher is injectable, so a proxy-aware
// Agent (issue 4) plugs in without changes here.
import type { Readable } from "node:stream";
import type { ConnectionOptions } from "node:tls";
import { Agent, Client, Pool, request, type Dispatcher } from "undici";
import { AbortedError, ChantalError } from "../errors.js";
import { chantalVersion } from "../package-info.js";
import { redactUrl } from "../redact.js";
import { abortedError, sleep, throwIfAborted } from "../runtime/sleep.js";
import { minRateDefaults, watchRate, type MinRate } from "./min-rate.js";
import type { RequestGate } from "./request-gate.js";

export interface HttpOptions {
  /** undici Dispatcher to send through (a keep-alive Agent, later a proxy agent); default: undici's global one. */
  dispatcher?: Dispatcher;
  /** Extra request headers (e.g. basic auth); dropped on a redirect to another origin when they carry credentials. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Retries after the first attempt (default 5). */
  retries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Idle timeout for the response headers and between body chunks (default 60 s: undici's 300 s hides a dead mirror). */
  timeoutMs?: number;
  userAgent?: string;
  /** Redirects followed per attempt (default 10). */
  maxRedirects?: number;
  /** A body slower than this over the window fails (retryable); default 1000 B/s over 30 s, bytesPerSecond 0 = off. */
  minRate?: MinRate;
  /** Follow a redirect from https:// to http:// (default false: a downgrade is refused). */
  allowInsecureRedirects?: boolean;
  /** Largest download accepted when no size is declared (download.ts; default 4 GiB). */
  maxDownloadBytes?: number;
  /** Called before each retry sleep, so callers can log it (core never prints). */
  onRetry?: (info: RetryInfo) => void;
  /** Waited on before each request is sent, held until its body is read or dropped (connection caps, a download's concurrency). */
  gate?: RequestGate;
  /** Turns a connection-layer failure into a clearer error (a proxy's 407, a failed CONNECT); undefined keeps the default. */
  describeFailure?: (err: unknown, url: string, subject: string | undefined) => Error | undefined;
}

export interface RetryInfo {
  url: string;
  subject?: string;
  attempt: number;
  delayMs: number;
  error: Error;
}

/** Per-request details that are not connection policy. */
export interface RequestExtras {
  /** Ask for bytes from this offset on (Range: bytes=<n>-). */
  rangeStart?: number;
  /** What is being fetched (a package NEVRA, "repomd.xml"), named in error messages. */
  subject?: string;
}

export interface HttpBuffer {
  body: Buffer;
  status: number;
  headers: Record<string, string>;
  /** Final URL after redirects. */
  url: string;
}

export interface HttpStream {
  body: Readable;
  status: number;
  headers: Record<string, string>;
  url: string;
}

export const httpDefaults = {
  retries: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRedirects: 10,
  timeoutMs: 60_000,
  maxDownloadBytes: 4 * 1024 * 1024 * 1024,
} as const;

/** Longest wait for an unwanted (redirect or error) body to drain before its connection is dropped instead. */
const DISCARD_TIMEOUT_MS = 10_000;

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);
/** Headers that carry upstream credentials: never forwarded to another origin. */
const CREDENTIAL_HEADERS = ["authorization", "cookie"];

// ---------------------------------------------------------------------------------------------
// Errors

/** Base of every HTTP failure; `url` is already redacted. */
export class HttpError extends ChantalError {
  constructor(
    message: string,
    readonly url: string,
    readonly subject?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class HttpStatusError extends HttpError {
  constructor(
    readonly status: number,
    url: string,
    subject?: string,
    /** Server's Retry-After, in ms, when it sent one. */
    readonly retryAfterMs?: number,
    attempts = 1,
  ) {
    super(`${prefix(subject)}HTTP ${status}${statusText(status)} for ${redactUrl(url)}${attemptsNote(attempts)}`, redactUrl(url), subject);
  }

  withAttempts(attempts: number): HttpStatusError {
    return new HttpStatusError(this.status, this.url, this.subject, this.retryAfterMs, attempts);
  }
}

/** Connection-level failure: refused, reset, timed out, TLS, DNS. */
export class HttpNetworkError extends HttpError {
  constructor(
    readonly code: string | undefined,
    readonly retryable: boolean,
    url: string,
    subject: string | undefined,
    cause: unknown,
    attempts = 1,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `${prefix(subject)}request to ${redactUrl(url)} failed: ${reason}${code && !reason.includes(code) ? ` (${code})` : ""}${attemptsNote(attempts)}`,
      redactUrl(url),
      subject,
      { cause },
    );
  }

  withAttempts(attempts: number): HttpNetworkError {
    return new HttpNetworkError(this.code, this.retryable, this.url, this.subject, this.cause, attempts);
  }
}

/** The proxy refused or failed a request (407, a CONNECT that did not succeed, the proxy unreachable); `proxy` is redacted. */
export class ProxyError extends HttpError {
  constructor(
    message: string,
    url: string,
    readonly proxy: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
    subject?: string,
    options?: { cause?: unknown },
  ) {
    super(message, redactUrl(url), subject, options);
  }
}

export class ResponseTooLargeError extends HttpError {
  constructor(
    readonly maxBytes: number,
    url: string,
    subject?: string,
    /** What to change to allow it, appended to the message. */
    fix?: string,
  ) {
    super(`${prefix(subject)}response from ${redactUrl(url)} is larger than the limit of ${maxBytes} bytes${fix ? ` (${fix})` : ""}`, redactUrl(url), subject);
  }
}

/** The body arrived slower than the minimum rate over the window (a trickling server); retried like a reset. */
export class TransferTooSlowError extends HttpError {
  readonly retryable = true;
  constructor(
    readonly bytesInWindow: number,
    readonly minRate: MinRate,
    url: string,
    subject?: string,
    attempts = 1,
  ) {
    super(
      `${prefix(subject)}transfer from ${redactUrl(url)} is too slow: ${bytesInWindow} bytes in the last ${minRate.windowMs / 1000} s, below the minimum of ${minRate.bytesPerSecond} bytes/s (http.min_rate_bytes_per_second over http.min_rate_window_seconds)${attemptsNote(attempts)}`,
      redactUrl(url),
      subject,
    );
  }

  withAttempts(attempts: number): TransferTooSlowError {
    return new TransferTooSlowError(this.bytesInWindow, this.minRate, this.url, this.subject, attempts);
  }
}

/** A redirect from https:// to http:// (metadata and packages would travel in the clear); not retried. */
export class InsecureRedirectError extends HttpError {
  constructor(from: string, to: string, subject?: string) {
    super(
      `${prefix(subject)}refusing the redirect from ${redactUrl(from)} to ${redactUrl(to)}: it downgrades https to plain http (set http.allow_insecure_redirects: true in the repository or the global http block to follow it)`,
      redactUrl(from),
      subject,
    );
  }
}

function prefix(subject: string | undefined): string {
  return subject ? `${subject}: ` : "";
}

function attemptsNote(attempts: number): string {
  return attempts > 1 ? ` (after ${attempts} attempts)` : "";
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  const t = texts[status];
  return t ? ` ${t}` : "";
}

// ---------------------------------------------------------------------------------------------
// Public API

/** GET a small document (an index file) into memory, retrying the whole exchange on transient failures. */
export async function fetchBuffer(url: string, opts: HttpOptions, limits: { maxBytes: number }, extras: RequestExtras = {}): Promise<HttpBuffer> {
  return withRetries(url, opts, extras.subject, async () => {
    const res = await sendFollowingRedirects(url, opts, extras);
    const body = await readLimited(res, opts, limits.maxBytes, extras.subject);
    return { body, status: res.status, headers: res.headers, url: res.url };
  });
}

/**
 * GET a response whose body the caller streams (packages). Retries cover getting a usable
 * response (status, connect, headers); a failure mid-body is the caller's to resume.
 */
export async function openStream(url: string, opts: HttpOptions, extras: RequestExtras = {}): Promise<HttpStream> {
  return withRetries(url, opts, extras.subject, () => sendFollowingRedirects(url, opts, extras));
}

/** Streams one HTTP/2 connection carries at once (a server's SETTINGS may lower it; nginx's default is 128). */
export const H2_STREAMS_PER_CONNECTION = 100;

/**
 * A keep-alive Agent with up to `connections` sockets per origin (undefined: no cap), one request at a time on each over HTTP/1.1 (no
 * pipelining: a slow response would hold up those behind it, and some servers and proxies mishandle it). With
 * `allowH2` an https:// origin that offers HTTP/2 (ALPN) gets it: then a connection carries many requests at once.
 */
export function createHttpAgent(opts: { connections?: number; keepAliveTimeoutMs?: number; allowH2?: boolean; connect?: ConnectionOptions }): Agent {
  const base = {
    ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
    pipelining: 1,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 10_000,
    ...(opts.connect ? { connect: opts.connect } : {}),
  };
  if (!opts.allowH2) return new Agent(base);
  return new Agent({
    ...base,
    allowH2: true,
    factory: (origin, poolOpts) => new Pool(origin, { ...poolOpts, factory: http2AwareClient }),
  });
}

/**
 * undici sends one request at a time on a connection unless told otherwise, HTTP/2 included: a client whose socket
 * negotiated h2 (ALPN) is allowed H2_STREAMS_PER_CONNECTION at once; an HTTP/1.1 one keeps 1.
 */
function http2AwareClient(origin: string | URL, clientOpts: object): Dispatcher {
  const connect = (clientOpts as { connect?: unknown }).connect;
  if (typeof connect !== "function") return new Client(origin, clientOpts);
  type Connector = (o: object, cb: (err: Error | null, socket: { alpnProtocol?: string | false } | null) => void) => void;
  const client: Client = new Client(origin, {
    ...clientOpts,
    connect: ((o, cb) =>
      (connect as Connector)(o, (err, socket) => {
        if (!err && socket?.alpnProtocol === "h2") client.pipelining = H2_STREAMS_PER_CONNECTION;
        cb(err, socket);
      })) as Connector as never,
  });
  return client;
}

/** Whether a failure is worth another attempt (429, 5xx, resets, timeouts). */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof HttpStatusError) return RETRYABLE_STATUS.has(err.status);
  if (err instanceof HttpNetworkError || err instanceof ProxyError || err instanceof TransferTooSlowError) return err.retryable;
  if (err instanceof HttpError || err instanceof AbortedError) return false;
  return isRetryableNetworkFailure(err);
}

/** Delay before retry number `attempt` (1-based): Retry-After when given, else full jitter over exponential backoff. */
export function retryDelayMs(attempt: number, opts: HttpOptions, retryAfterMs?: number): number {
  const maxDelay = opts.maxDelayMs ?? httpDefaults.maxDelayMs;
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), maxDelay);
  const base = opts.baseDelayMs ?? httpDefaults.baseDelayMs;
  const ceiling = Math.min(maxDelay, base * 2 ** (attempt - 1));
  return Math.random() * ceiling;
}

/** Parse Retry-After (delta seconds or an HTTP date) into ms from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Turn a raw failure (undici, socket, stream) into a typed HTTP error naming the URL. */
export function toHttpError(err: unknown, url: string, subject: string | undefined, signal?: AbortSignal): Error {
  if (signal?.aborted) return abortedError(signal);
  if (err instanceof ChantalError) return err;
  return new HttpNetworkError(networkCode(err), isRetryableNetworkFailure(err), url, subject, err);
}

/** Lower-cased, single-valued response headers. */
export function normalizeHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Internals

/** Run `attempt` up to 1 + retries times, sleeping with backoff between retryable failures. */
async function withRetries<T>(url: string, opts: HttpOptions, subject: string | undefined, attempt: () => Promise<T>): Promise<T> {
  const retries = opts.retries ?? httpDefaults.retries;
  for (let n = 1; ; n++) {
    throwIfAborted(opts.signal);
    try {
      return await attempt();
    } catch (raw) {
      const err = toHttpError(raw, url, subject, opts.signal);
      if (!isRetryableError(err)) throw err;
      if (n > retries) throw withAttemptCount(err, n);
      const delayMs = retryDelayMs(n, opts, err instanceof HttpStatusError ? err.retryAfterMs : undefined);
      opts.onRetry?.({ url: redactUrl(url), ...(subject ? { subject } : {}), attempt: n, delayMs, error: err });
      await sleep(delayMs, opts.signal);
    }
  }
}

function withAttemptCount(err: Error, attempts: number): Error {
  if (err instanceof HttpStatusError || err instanceof HttpNetworkError || err instanceof TransferTooSlowError) return err.withAttempts(attempts);
  return err;
}

/** One attempt: send the GET, follow redirects, return a 2xx (or 304) response with its body unread. */
async function sendFollowingRedirects(url: string, opts: HttpOptions, extras: RequestExtras): Promise<HttpStream & { body: BodyWithDump }> {
  const maxRedirects = opts.maxRedirects ?? httpDefaults.maxRedirects;
  let headers = requestHeaders(opts, extras);
  let current = url;
  for (let hops = 0; ; hops++) {
    const res = await sendOnce(current, opts, headers, extras.subject);
    const location = res.headers["location"];
    if (REDIRECT_STATUS.has(res.status) && location) {
      await discard(res.body, opts);
      if (hops >= maxRedirects)
        throw new HttpError(
          `${prefix(extras.subject)}too many redirects (more than ${maxRedirects}) starting at ${redactUrl(url)}`,
          redactUrl(url),
          extras.subject,
        );
      const next = new URL(location, current).toString();
      if (isDowngrade(current, next) && !opts.allowInsecureRedirects) throw new InsecureRedirectError(current, next, extras.subject);
      if (new URL(next).origin !== new URL(current).origin) headers = withoutCredentials(headers);
      current = next;
      continue;
    }
    if ((res.status >= 200 && res.status < 300) || res.status === 304) return res;
    await discard(res.body, opts);
    throw new HttpStatusError(res.status, current, extras.subject, parseRetryAfter(res.headers["retry-after"]));
  }
}

type BodyWithDump = Readable & { dump?: (opts?: { limit: number; signal?: AbortSignal }) => Promise<void> };

async function sendOnce(
  url: string,
  opts: HttpOptions,
  headers: Record<string, string>,
  subject: string | undefined,
): Promise<HttpStream & { body: BodyWithDump }> {
  const release = opts.gate ? await opts.gate.acquire(url, opts.signal) : undefined;
  try {
    const res = await request(url, {
      method: "GET",
      headers,
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      headersTimeout: opts.timeoutMs ?? httpDefaults.timeoutMs,
      bodyTimeout: opts.timeoutMs ?? httpDefaults.timeoutMs,
    });
    if (release) {
      // The slot is the connection's: free until the body is read to its end, dropped or failed.
      if (res.body.destroyed || res.body.readableEnded) release();
      else for (const event of ["close", "end", "error"]) res.body.once(event, release);
    }
    return { status: res.statusCode, headers: normalizeHeaders(res.headers), body: res.body, url };
  } catch (err) {
    release?.();
    throw (opts.signal?.aborted ? undefined : opts.describeFailure?.(err, url, subject)) ?? toHttpError(err, url, subject, opts.signal);
  }
}

function requestHeaders(opts: HttpOptions, extras: RequestExtras): Record<string, string> {
  const headers: Record<string, string> = {
    "user-agent": opts.userAgent ?? `chantal/${chantalVersion}`,
    // Mirrors must be byte-identical to upstream: never let a server re-encode the body.
    "accept-encoding": "identity",
  };
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
  if (extras.rangeStart !== undefined && extras.rangeStart > 0) headers["range"] = `bytes=${extras.rangeStart}-`;
  return headers;
}

function isDowngrade(from: string, to: string): boolean {
  return new URL(from).protocol === "https:" && new URL(to).protocol === "http:";
}

/** The minimum rate in force, and the error a too-slow body is destroyed with. */
export function watchBodyRate(body: Readable, opts: HttpOptions, url: string, subject: string | undefined): ReturnType<typeof watchRate> {
  const rate = opts.minRate ?? minRateDefaults;
  return watchRate(body, rate, (bytesInWindow) => new TransferTooSlowError(bytesInWindow, rate, url, subject));
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  for (const h of CREDENTIAL_HEADERS) delete out[h];
  return out;
}

/** Read a whole body, refusing more than maxBytes (declared or actual). */
async function readLimited(res: HttpStream, opts: HttpOptions, maxBytes: number, subject: string | undefined): Promise<Buffer> {
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    dropBody(res.body);
    throw new ResponseTooLargeError(maxBytes, res.url, subject);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const rate = watchBodyRate(res.body, opts, res.url, subject);
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      rate.count(chunk.length);
      total += chunk.length;
      if (total > maxBytes) {
        dropBody(res.body);
        throw new ResponseTooLargeError(maxBytes, res.url, subject);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw toHttpError(err, res.url, subject, opts.signal);
  } finally {
    rate.stop();
  }
  return Buffer.concat(chunks, total);
}

/** Drop an unwanted body; reading a small one lets the socket be reused, a trickling one is cut off after a while. */
async function discard(body: BodyWithDump, opts: HttpOptions): Promise<void> {
  const windowMs = (opts.minRate ?? minRateDefaults).windowMs;
  try {
    if (body.dump) await body.dump({ limit: 64 * 1024, signal: AbortSignal.timeout(Math.min(DISCARD_TIMEOUT_MS, windowMs)) });
    else dropBody(body);
  } catch {
    // The response is being thrown away; a failure to drain it changes nothing.
  }
}

/** Destroy a body we no longer want; undici emits an AbortError on destroy, which nobody needs to see. */
export function dropBody(body: Readable): void {
  if (body.destroyed) return;
  body.on("error", () => undefined);
  body.destroy();
}

function isRetryableNetworkFailure(err: unknown): boolean {
  const code = networkCode(err);
  if (code && RETRYABLE_CODES.has(code)) return true;
  return causeChain(err).some((e) => /socket hang up|other side closed|premature close|terminated/i.test(e.message));
}

function networkCode(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "UND_ERR_ABORTED") return code;
  }
  return undefined;
}

function causeChain(err: unknown): Error[] {
  const out: Error[] = [];
  let cur: unknown = err;
  while (cur instanceof Error && out.length < 8) {
    out.push(cur);
    cur = cur.cause;
  }
  return out;
}
