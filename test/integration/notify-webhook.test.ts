// Webhooks against a real HTTP receiver on 127.0.0.1: the HMAC signature it verifies, retries with backoff, a
// receiver that hangs (bounded), the proxy rules of a sync (a real proxy; NO_PROXY goes direct), no secret logged.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ConfigSchema, type Config } from "../../core/config/schema.js";
import { sampleEvent, syncEvents } from "../../core/notify/events.js";
import { Notifier } from "../../core/notify/notifier.js";
import { captureLogger } from "../helpers/capture-log.js";
import { startProxyServer, type ProxyServer } from "../helpers/proxy-server.js";
import { startWebhookReceiver, type ReceiverAnswer, type WebhookReceiver } from "../helpers/webhook-receiver.js";

const SECRET = "s3cr3t-webhook-key-for-tests";
const receivers: WebhookReceiver[] = [];
let proxy: ProxyServer | undefined;
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});
afterAll(async () => {
  await proxy?.close();
});

async function receiver(plan?: (n: number) => ReceiverAnswer): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver({ secret: SECRET, ...(plan ? { plan } : {}) });
  receivers.push(r);
  return r;
}

function config(notify: unknown, extra: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({ notify, ...extra });
}

/** The sleeps the notifier asked for, without waiting them out. */
function fakeSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

const failedRun = {
  repoId: "r1",
  status: "failed",
  runId: 7,
  trigger: "schedule",
  durationMs: 1234.4,
  counts: { packagesTotal: 0, packagesDownloaded: 1, packagesAdded: 0, packagesRemoved: 0, bytesDownloaded: 10 },
  error: "repomd.xml: HTTP 503 Service Unavailable",
};

describe("webhooks", { timeout: 30_000 }, () => {
  it("POSTs the event's JSON signed with X-Chantal-Signature-256, which the receiver verifies", async () => {
    const r = await receiver();
    const { log, text } = captureLogger();
    const n = new Notifier(config({ webhooks: [{ url: r.url, events: ["sync.failed"], secret: SECRET }] }), { log, env: {} });
    const [event] = syncEvents(failedRun, undefined, { now: new Date("2026-12-03T08:00:00Z") });
    const outcomes = await n.deliver(event!);
    expect(outcomes).toEqual([{ target: expect.stringMatching(/^webhooks\[0\] http:\/\/127\.0\.0\.1:\d+\/…$/), ok: true, attempts: 1 }]);
    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got.signatureValid).toBe(true);
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers["x-chantal-event"]).toBe("sync.failed");
    expect(got.headers["x-chantal-delivery"]).toBe(event!.id);
    expect(got.json).toMatchObject({
      event: "sync.failed",
      id: event!.id,
      occurred_at: "2026-12-03T08:00:00.000Z",
      repository: "r1",
      run: {
        id: 7,
        trigger: "schedule",
        status: "failed",
        duration_ms: 1234,
        error: "repomd.xml: HTTP 503 Service Unavailable",
        counts: { packages_downloaded: 1 },
      },
    });
    // The secret and the URL's path (a token, for many receivers) are never logged.
    expect(text()).not.toContain(SECRET);
    expect(text()).not.toContain("chantal-token-in-path");
  });

  it("events a webhook did not ask for, or of other repositories, are not sent", async () => {
    const r = await receiver();
    const n = new Notifier(config({ webhooks: [{ url: r.url, events: ["sync.changed"], repositories: ["other"] }] }), { log: captureLogger().log, env: {} });
    expect(n.wants("sync.failed", "r1")).toBe(false);
    expect(n.wants("sync.changed", "r1")).toBe(false);
    expect(n.wants("sync.changed", "other")).toBe(true);
    expect(await n.deliver(syncEvents(failedRun, undefined, { now: new Date() })[0]!)).toEqual([]);
    expect(r.received).toHaveLength(0);
  });

  it("retries with backoff against a receiver that fails twice, then succeeds", async () => {
    const r = await receiver((i) => (i <= 2 ? "fail" : "ok"));
    const { log, lines } = captureLogger();
    const s = fakeSleep();
    const n = new Notifier(config({ webhooks: [{ url: r.url, events: ["sync.failed"], secret: SECRET, retries: 4 }] }), { log, env: {}, sleep: s.sleep });
    const outcomes = await n.deliver(sampleEvent("sync.failed", { now: new Date() }));
    expect(outcomes[0]).toMatchObject({ ok: true, attempts: 3 });
    expect(r.received.map((x) => x.answered)).toEqual(["fail", "fail", "ok"]);
    // The same delivery each time (a receiver may drop duplicates by it), each signed.
    expect(new Set(r.received.map((x) => x.headers["x-chantal-delivery"])).size).toBe(1);
    expect(r.received.every((x) => x.signatureValid)).toBe(true);
    expect(s.delays).toEqual([1000, 2000]);
    expect(lines().filter((l) => l.msg === "webhook delivery failed: retrying")).toHaveLength(2);
  });

  it("gives up after its retries, and does not retry a 4xx refusal; both logged, neither thrown", async () => {
    const down = await receiver(() => "fail");
    const refusing = await receiver(() => "reject");
    const { log, lines } = captureLogger();
    const s = fakeSleep();
    const n = new Notifier(
      config({
        webhooks: [
          { url: down.url, events: ["backup.failed"], retries: 2 },
          { url: refusing.url, events: ["backup.failed"], retries: 2 },
        ],
      }),
      { log, env: {}, sleep: s.sleep },
    );
    const outcomes = await n.deliver(sampleEvent("backup.failed", { now: new Date() }));
    expect(outcomes.map((o) => [o.ok, o.attempts, o.error])).toEqual([
      [false, 3, "HTTP 503"],
      [false, 1, "HTTP 400"],
    ]);
    expect(down.received).toHaveLength(3);
    expect(refusing.received).toHaveLength(1);
    expect(lines().filter((l) => String(l.msg).startsWith("webhook not delivered"))).toHaveLength(2);
  });

  it("a receiver that hangs costs one timeout per attempt; a one-shot's bounded wait abandons what is left", async () => {
    const r = await receiver(() => "hang");
    const { log, text } = captureLogger();
    const short = new Notifier(config({ webhooks: [{ url: r.url, events: ["sync.failed"], timeout_seconds: 1, retries: 0 }] }), { log, env: {} });
    const t0 = Date.now();
    const [o] = await short.deliver(sampleEvent("sync.failed", { now: new Date() }));
    expect(o).toMatchObject({ ok: false, attempts: 1, error: "no answer within 1 s (timeout_seconds)" });
    expect(Date.now() - t0).toBeLessThan(5000);

    // Background delivery: emit returns at once; settle waits at most its bound, then abandons the rest.
    const long = new Notifier(config({ webhooks: [{ url: r.url, events: ["sync.failed"], timeout_seconds: 60, retries: 5 }] }), { log, env: {} });
    const t1 = Date.now();
    long.emit([sampleEvent("sync.failed", { now: new Date() })]);
    expect(Date.now() - t1).toBeLessThan(100);
    expect(long.pending).toBe(1);
    expect(await long.settle(800)).toBe(1);
    expect(Date.now() - t1).toBeLessThan(3000);
    expect(long.pending).toBe(0);
    expect(text()).toContain("abandoned");

    // Interrupted (Ctrl-C): the bound shrinks to a 5 s grace, whatever max_wait_seconds says.
    long.emit([sampleEvent("sync.failed", { now: new Date() })]);
    const stop = new AbortController();
    const t2 = Date.now();
    setTimeout(() => stop.abort(), 200);
    expect(await long.settle(600_000, stop.signal)).toBe(1);
    expect(Date.now() - t2).toBeGreaterThanOrEqual(5000);
    expect(Date.now() - t2).toBeLessThan(8000);
  });

  it("goes through the configured proxy, and direct for a no_proxy match", async () => {
    proxy = await startProxyServer();
    const r = await receiver();
    const hook = { url: r.url, events: ["sync.failed"], secret: SECRET };
    const viaProxy = new Notifier(config({ webhooks: [hook] }, { proxy: { http_proxy: proxy.url } }), { log: captureLogger().log, env: {} });
    expect((await viaProxy.deliver(sampleEvent("sync.failed", { now: new Date() })))[0]!.ok).toBe(true);
    expect(proxy.requests.map((q) => [q.method, q.target])).toEqual([["POST", r.url]]);
    expect(r.received[0]!.signatureValid).toBe(true);

    proxy.reset();
    const direct = new Notifier(config({ webhooks: [hook] }, { proxy: { http_proxy: proxy.url, no_proxy: "127.0.0.1" } }), {
      log: captureLogger().log,
      env: {},
    });
    expect((await direct.deliver(sampleEvent("sync.failed", { now: new Date() })))[0]!.ok).toBe(true);
    expect(proxy.requests).toEqual([]);
    expect(r.received).toHaveLength(2);

    // Without a proxy block, HTTP_PROXY and NO_PROXY of the environment apply, as for a sync.
    const fromEnv = new Notifier(config({ webhooks: [hook] }), { log: captureLogger().log, env: { HTTP_PROXY: proxy.url } });
    expect((await fromEnv.deliver(sampleEvent("sync.failed", { now: new Date() })))[0]!.ok).toBe(true);
    expect(proxy.requests).toHaveLength(1);
  });
});
