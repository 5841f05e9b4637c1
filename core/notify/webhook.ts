// Webhook delivery: the event's JSON POSTed with an HMAC-SHA256 signature (X-Chantal-Signature-256, as GitHub's
// X-Hub-Signature-256), through the proxy rules of a sync, retried with backoff; the sleep and the dispatcher are injected.
import { createHmac, timingSafeEqual } from "node:crypto";
import { request, type Dispatcher } from "undici";
import type { WebhookConfig } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import { chantalVersion } from "../package-info.js";
import { redactSecrets } from "../redact.js";
import type { NotifyEvent } from "./events.js";

export const SIGNATURE_HEADER = "x-chantal-signature-256";
export const EVENT_HEADER = "x-chantal-event";
export const DELIVERY_HEADER = "x-chantal-delivery";

/** `sha256=` and the hex HMAC-SHA256 of the exact body bytes under the secret. */
export function webhookSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** What a receiver does: recompute the signature over the raw body and compare in constant time. */
export function verifyWebhookSignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const want = Buffer.from(webhookSignature(secret, body));
  const got = Buffer.from(header.trim());
  return want.length === got.length && timingSafeEqual(want, got);
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
/** Backoff: 1 s, 2 s, 4 s ... at most 60 s (a Retry-After the receiver sends wins, within that cap). */
export const WEBHOOK_BACKOFF = { baseMs: 1000, maxMs: 60_000 };
/** Most bytes of a receiver's answer read (and then dropped). */
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface WebhookDeps {
  /** Through the proxy rules (core/http/repo-http.ts outboundHttp); default undici's global dispatcher. */
  dispatcher?: Dispatcher;
  /** The one abortable sleep (core/runtime/sleep.ts) or a test's. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborts the delivery (a one-shot command's bound, the daemon's stop). */
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; delayMs: number; error: string }) => void;
}

export interface WebhookOutcome {
  ok: boolean;
  attempts: number;
  status?: number;
  /** The last failure, with the URL's path and every secret removed. */
  error?: string;
}

/** The URL as it may be logged: scheme, host and port (a path often carries a token: Slack, Teams). */
export function webhookLabel(url: string): string {
  return `${new URL(url).origin}/…`;
}

class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function retryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

async function attempt(hook: WebhookConfig, body: string, headers: Record<string, string>, deps: WebhookDeps): Promise<number> {
  const timeout = AbortSignal.timeout(hook.timeout_seconds * 1000);
  const signal = deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(hook.url, {
      method: "POST",
      headers,
      body,
      signal,
      headersTimeout: hook.timeout_seconds * 1000,
      bodyTimeout: hook.timeout_seconds * 1000,
      ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    });
  } catch (err) {
    if (deps.signal?.aborted) throw err;
    const why = timeout.aborted ? `no answer within ${hook.timeout_seconds} s (timeout_seconds)` : errorMessage(err);
    throw new DeliveryError(why, true);
  }
  // The answer is not used: read a little so that the connection can be reused, then drop it.
  await res.body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => undefined);
  if (res.statusCode >= 200 && res.statusCode < 300) return res.statusCode;
  const redirect = res.statusCode >= 300 && res.statusCode < 400 ? " (redirects are not followed: configure the final URL)" : "";
  throw new DeliveryError(`HTTP ${res.statusCode}${redirect}`, RETRYABLE_STATUS.has(res.statusCode), res.statusCode, retryAfter(res.headers["retry-after"]));
}

/** POST one event to one webhook; never throws (but for an abort): the outcome says what happened. */
export async function deliverWebhook(hook: WebhookConfig, event: NotifyEvent, deps: WebhookDeps): Promise<WebhookOutcome> {
  const body = JSON.stringify(event);
  const headers: Record<string, string> = {
    ...(hook.headers ?? {}),
    "content-type": "application/json",
    "user-agent": `chantal/${chantalVersion}`,
    [EVENT_HEADER]: event.event,
    [DELIVERY_HEADER]: event.id,
    ...(hook.secret ? { [SIGNATURE_HEADER]: webhookSignature(hook.secret, body) } : {}),
  };
  const secrets = [hook.secret, ...Object.values(hook.headers ?? {}), new URL(hook.url).pathname.length > 1 ? new URL(hook.url).pathname : undefined, hook.url];
  const clean = (text: string) => redactSecrets(text, secrets);
  for (let n = 1; ; n++) {
    try {
      const status = await attempt(hook, body, headers, deps);
      return { ok: true, attempts: n, status };
    } catch (err) {
      if (deps.signal?.aborted) throw err;
      const e = err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), false);
      const error = clean(e.message);
      if (!e.retryable || n > hook.retries) return { ok: false, attempts: n, error, ...(e.status !== undefined ? { status: e.status } : {}) };
      const backoff = Math.min(WEBHOOK_BACKOFF.maxMs, WEBHOOK_BACKOFF.baseMs * 2 ** (n - 1));
      const delayMs = e.retryAfterMs !== undefined ? Math.min(WEBHOOK_BACKOFF.maxMs, e.retryAfterMs) : backoff;
      deps.onRetry?.({ attempt: n, delayMs, error });
      await deps.sleep(delayMs, deps.signal);
    }
  }
}
