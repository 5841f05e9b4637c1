// The notification dispatcher: which targets want an event, delivery in the background (a sync or backup never waits
// for it and never fails by it), the bounded wait of a one-shot command, and what is logged (never a secret).
import type { Config, EmailConfig, NotifyEventName, WebhookConfig } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import { outboundHttp } from "../http/repo-http.js";
import type { ProxyEnv } from "../http/proxy.js";
import type { Logger } from "../log.js";
import { redactSecrets } from "../redact.js";
import { sleep as abortableSleep } from "../runtime/sleep.js";
import type { DigestReport } from "./digest.js";
import { sendMail, type EmailOutcome } from "./email.js";
import type { NotifyEvent } from "./events.js";
import { renderDigestMail, renderEventMail } from "./render.js";
import { deliverWebhook, webhookLabel, type WebhookOutcome } from "./webhook.js";

/** A one-shot command waits this long at its end for deliveries still under way (notify.max_wait_seconds). */
export const DEFAULT_MAX_WAIT_SECONDS = 30;
/** After a signal, a one-shot command waits at most this long. */
const INTERRUPTED_GRACE_MS = 5000;

export interface NotifierDeps {
  log: Logger;
  /** Relative CA files are relative to it. */
  configDir?: string;
  /** HTTP_PROXY / NO_PROXY & co. (default process.env). */
  env?: ProxyEnv;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface TargetOutcome {
  /** `webhooks[0] https://host/…` or `email a@b, c@d`. */
  target: string;
  ok: boolean;
  attempts: number;
  error?: string;
}

function matches(list: readonly string[] | undefined, event: NotifyEvent): boolean {
  return list === undefined || event.repository === undefined || list.includes(event.repository);
}

/** The webhooks (with their index) and the e-mail block that receive an event. */
export function targetsOf(
  config: Pick<Config, "notify">,
  event: Pick<NotifyEvent, "event" | "repository">,
): { webhooks: [number, WebhookConfig][]; email?: EmailConfig } {
  const n = config.notify;
  const e = event as NotifyEvent;
  const webhooks = (n?.webhooks ?? [])
    .map((w, i) => [i, w] as [number, WebhookConfig])
    .filter(([, w]) => w.events.includes(event.event) && matches(w.repositories, e));
  const email = n?.email?.events?.includes(event.event) && matches(n.email.repositories, e) ? n.email : undefined;
  return { webhooks, ...(email ? { email } : {}) };
}

export class Notifier {
  #config: Pick<Config, "notify" | "proxy">;
  readonly #inflight = new Set<Promise<unknown>>();
  #stop = new AbortController();
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(
    config: Pick<Config, "notify" | "proxy">,
    private readonly deps: NotifierDeps,
  ) {
    this.#config = config;
    this.#sleep = deps.sleep ?? abortableSleep;
  }

  /** A reloaded configuration (SIGHUP): deliveries under way keep the targets they started with. */
  configure(config: Pick<Config, "notify" | "proxy">): void {
    this.#config = config;
  }

  /** Whether anything would receive this event (so callers skip work, like a content diff, that nobody reads). */
  wants(name: NotifyEventName, repoId?: string): boolean {
    const t = targetsOf(this.#config, { event: name, ...(repoId !== undefined ? { repository: repoId } : {}) });
    return t.webhooks.length > 0 || t.email !== undefined;
  }

  get pending(): number {
    return this.#inflight.size;
  }

  /** Deliver in the background: returns at once; failures are logged. */
  emit(events: readonly NotifyEvent[]): void {
    for (const e of events) void this.track(this.deliver(e));
  }

  /** Deliver now and say how each target fared (`notify test`). */
  async deliver(event: NotifyEvent): Promise<TargetOutcome[]> {
    const { webhooks, email } = targetsOf(this.#config, event);
    const jobs: Promise<TargetOutcome>[] = webhooks.map(([i, w]) => this.toWebhook(i, w, event));
    if (email) jobs.push(this.toEmail(email, event.event, () => renderEventMail(event)));
    return Promise.all(jobs);
  }

  /** Deliver to every configured target, whatever events it asked for (`notify test`): webhooks, then e-mail. */
  async deliverToAll(event: NotifyEvent): Promise<TargetOutcome[]> {
    const n = this.#config.notify;
    const jobs: Promise<TargetOutcome>[] = (n?.webhooks ?? []).map((w, i) => this.toWebhook(i, w, event));
    if (n?.email) jobs.push(this.toEmail(n.email, event.event, () => renderEventMail(event)));
    return Promise.all(jobs);
  }

  /** The daily digest to notify.email (its own job waits for it). */
  async sendDigest(report: DigestReport, opts: { evenWithoutDigest?: boolean } = {}): Promise<TargetOutcome | null> {
    const email = this.#config.notify?.email;
    if (!email || (!email.digest && !opts.evenWithoutDigest)) return null;
    return this.track(this.toEmail(email, "digest", () => renderDigestMail(report)));
  }

  /**
   * Wait for deliveries under way, at most `maxMs`; then abort the rest (logged with what was abandoned).
   * Returns how many were abandoned.
   */
  async settle(maxMs: number, signal?: AbortSignal): Promise<number> {
    if (this.#inflight.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    // Interrupted (Ctrl-C, SIGTERM): a short grace for the run's own sync.interrupted, then out (a second signal exits at once).
    const grace = Math.min(maxMs, INTERRUPTED_GRACE_MS);
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), signal?.aborted ? grace : maxMs);
      signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          timer = setTimeout(() => resolve("timeout"), grace);
        },
        { once: true },
      );
    });
    const all = (async () => {
      while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    })();
    const r = await Promise.race([all.then(() => "done" as const), timeout]);
    clearTimeout(timer);
    if (r === "done") return 0;
    const left = this.#inflight.size;
    this.deps.log.warn(
      { deliveries: left, waitedMs: maxMs },
      `notifications still being delivered after ${maxMs / 1000} s were abandoned (notify.max_wait_seconds)`,
    );
    this.#stop.abort();
    await Promise.allSettled([...this.#inflight]);
    // Later events are delivered again (the daemon's notifier lives on).
    this.#stop = new AbortController();
    return left;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const guarded = p.finally(() => this.#inflight.delete(guarded));
    this.#inflight.add(guarded);
    // Never an unhandled rejection: the outcome is logged where it is made.
    guarded.catch(() => undefined);
    return guarded;
  }

  private async toWebhook(index: number, hook: WebhookConfig, event: NotifyEvent): Promise<TargetOutcome> {
    const target = `webhooks[${index}] ${webhookLabel(hook.url)}`;
    const log = this.deps.log;
    let outcome: WebhookOutcome;
    let http: ReturnType<typeof outboundHttp> | undefined;
    try {
      http = outboundHttp(this.#config, hook.url, {
        ...(this.deps.env ? { env: this.deps.env } : {}),
        ...(this.deps.configDir ? { configDir: this.deps.configDir } : {}),
        ...(hook.ca_file ? { caFile: hook.ca_file } : {}),
        what: `notify.webhooks[${index}]`,
      });
      outcome = await deliverWebhook(hook, event, {
        dispatcher: http.dispatcher,
        sleep: this.#sleep,
        signal: this.#stop.signal,
        onRetry: (i) => log.warn({ target, event: event.event, attempt: i.attempt, delayMs: i.delayMs, error: i.error }, "webhook delivery failed: retrying"),
      });
    } catch (err) {
      const secrets = [hook.secret, hook.url, ...Object.values(hook.headers ?? {})];
      outcome = {
        ok: false,
        attempts: 0,
        error: redactSecrets(this.#stop.signal.aborted ? "abandoned (notify.max_wait_seconds)" : errorMessage(err), secrets),
      };
    } finally {
      await http?.close();
    }
    if (outcome.ok) log.debug({ target, event: event.event, delivery: event.id, attempts: outcome.attempts, status: outcome.status }, "webhook delivered");
    else
      log.warn({ target, event: event.event, delivery: event.id, attempts: outcome.attempts, error: outcome.error }, `webhook not delivered: ${outcome.error}`);
    return { target, ok: outcome.ok, attempts: outcome.attempts, ...(outcome.error ? { error: outcome.error } : {}) };
  }

  private async toEmail(email: EmailConfig, what: string, render: () => ReturnType<typeof renderEventMail>): Promise<TargetOutcome> {
    const target = `email ${email.to.join(", ")}`;
    const log = this.deps.log;
    let outcome: EmailOutcome;
    try {
      outcome = await sendMail(email, render(), {
        sleep: this.#sleep,
        signal: this.#stop.signal,
        onRetry: (i) => log.warn({ target, event: what, attempt: i.attempt, delayMs: i.delayMs, error: i.error }, "e-mail not accepted: retrying"),
      });
    } catch (err) {
      outcome = {
        ok: false,
        attempts: 0,
        error: redactSecrets(this.#stop.signal.aborted ? "abandoned (notify.max_wait_seconds)" : errorMessage(err), [email.smtp.password]),
      };
    }
    if (outcome.ok) log.debug({ target, event: what, attempts: outcome.attempts, messageId: outcome.messageId }, "e-mail sent");
    else log.warn({ target, event: what, attempts: outcome.attempts, error: outcome.error }, `e-mail not sent: ${outcome.error}`);
    return { target, ok: outcome.ok, attempts: outcome.attempts, ...(outcome.error ? { error: outcome.error } : {}) };
  }
}

/** A notifier when the configuration has any target, else null (nothing is built, nothing waited for). */
export function notifierFor(config: Config, deps: NotifierDeps): Notifier | null {
  const n = config.notify;
  if (!n || ((n.webhooks ?? []).length === 0 && !n.email)) return null;
  return new Notifier(config, deps);
}

/** notify.max_wait_seconds in ms. */
export function maxWaitMs(config: Pick<Config, "notify">): number {
  return (config.notify?.max_wait_seconds ?? DEFAULT_MAX_WAIT_SECONDS) * 1000;
}
