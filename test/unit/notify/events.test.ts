// Tests of core/notify/events.ts (which events a run sends, the diff's shape and limits, freshness announcements),
// webhook.ts's signature (GitHub's published test vector) and render.ts (escaping).
import { describe, expect, it } from "vitest";
import { ConfigSchema } from "../../../core/config/schema.js";
import { announcesFreshness, backupEvents, changesJson, sampleEvent, syncEvents, type ChangesJson, type SyncRunInfo } from "../../../core/notify/events.js";
import type { FreshnessState } from "../../../core/freshness/state.js";
import { targetsOf } from "../../../core/notify/notifier.js";
import { escapeHtml, renderDigestMail, renderEventMail } from "../../../core/notify/render.js";
import { verifyWebhookSignature, webhookLabel, webhookSignature } from "../../../core/notify/webhook.js";
import { NOTIFY_DIGEST_JOB_KEY, planJobs } from "../../../core/schedule/plan.js";
import { digestReport } from "../../../core/notify/digest.js";

const now = new Date("2026-12-03T08:00:00Z");
const run = (status: string): SyncRunInfo => ({
  repoId: "r1",
  status,
  runId: 1,
  trigger: "schedule",
  durationMs: 10,
  counts: { packagesTotal: 3, packagesDownloaded: 1, packagesAdded: 1, packagesRemoved: 0, bytesDownloaded: 100 },
});
const p = (name: string, version = "1.0") => ({ name, arch: "noarch", epoch: 0, version, release: "1" });
const someChanges: ChangesJson = changesJson({ added: [p("a")], removed: [], updated: [] });
const noChanges: ChangesJson = changesJson({ added: [], removed: [], updated: [] });

describe("syncEvents", () => {
  it.each([
    ["success", someChanges, ["sync.succeeded", "sync.changed"]],
    ["success", noChanges, ["sync.succeeded"]],
    ["success", undefined, ["sync.succeeded"]],
    ["noop", someChanges, ["sync.succeeded"]],
    ["failed", someChanges, ["sync.failed"]],
    ["interrupted", undefined, ["sync.interrupted"]],
    ["skipped-locked", undefined, []],
    ["dry-run", undefined, []],
  ])("%s with %j -> %j", (status, changes, events) => {
    expect(syncEvents(run(status as string), changes as ChangesJson | undefined, { now }).map((e) => e.event)).toEqual(events);
  });

  it("each event has its own id; sync.changed carries the changes", () => {
    const [a, b] = syncEvents(run("success"), someChanges, { now });
    expect(a!.id).not.toBe(b!.id);
    expect(b!.changes?.added).toEqual([{ name: "a", arch: "noarch", version: "1.0-1" }]);
    expect(a!.changes).toBeUndefined();
  });
});

describe("changesJson", () => {
  it("cuts each list at the limit but keeps the counts whole", () => {
    const many = Array.from({ length: 7 }, (_, i) => p(`n${i}`));
    const c = changesJson(
      { added: many, removed: [p("gone")], updated: [{ name: "u", arch: "noarch", from: p("u"), to: { ...p("u", "2.0"), epoch: 1 }, direction: "upgrade" }] },
      undefined,
      5,
    );
    expect(c.added).toHaveLength(5);
    expect(c.added_count).toBe(7);
    expect(c.truncated).toBe(true);
    expect(c.updated).toEqual([{ name: "u", arch: "noarch", from: "1.0-1", to: "1:2.0-1", direction: "upgrade" }]);
    expect(c.advisories).toBeUndefined();
  });
});

describe("announcesFreshness", () => {
  it.each<[FreshnessState | null, FreshnessState, boolean]>([
    [null, "ok", false],
    [null, "stale", true],
    [null, "failing", true],
    ["ok", "ok", false],
    ["ok", "stale", true],
    ["stale", "ok", true],
    ["failing", "failing", false],
    ["expiring", "failing", true],
  ])("%s -> %s: %s", (before, now_, announced) => {
    expect(announcesFreshness(before, now_)).toBe(announced);
  });
});

describe("backupEvents", () => {
  it.each([
    ["success", ["backup.succeeded"]],
    ["failed", ["backup.failed"]],
    ["interrupted", ["backup.failed"]],
    ["skipped-locked", []],
  ])("%s -> %j", (status, events) => {
    expect(backupEvents({ status, location: null, size: 0, durationMs: 1 }, { now }).map((e) => e.event)).toEqual(events);
  });
});

describe("webhook signature", () => {
  it("matches GitHub's documented X-Hub-Signature-256 example", () => {
    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    const sig = webhookSignature("It's a Secret to Everybody", "Hello, World!");
    expect(sig).toBe("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    expect(verifyWebhookSignature("It's a Secret to Everybody", "Hello, World!", sig)).toBe(true);
    expect(verifyWebhookSignature("It's a Secret to Everybody", "Hello, World?", sig)).toBe(false);
    expect(verifyWebhookSignature("another secret", "Hello, World!", sig)).toBe(false);
    expect(verifyWebhookSignature("It's a Secret to Everybody", "Hello, World!", undefined)).toBe(false);
  });

  it("logs a webhook by its origin only (the path is often a token)", () => {
    expect(webhookLabel("https://hooks.slack.test/services/T0/B0/XXXXSECRET?x=1")).toBe("https://hooks.slack.test/…");
  });
});

describe("targetsOf", () => {
  const config = ConfigSchema.parse({
    notify: {
      webhooks: [
        { url: "https://a.test/", events: ["sync.failed", "backup.failed"] },
        { url: "https://b.test/", events: ["sync.failed"], repositories: ["r2"] },
      ],
      email: { smtp: { host: "smtp.test" }, from: "c@x.test", to: ["o@x.test"], events: ["backup.failed"], repositories: ["r9"] },
    },
  });
  it.each([
    [{ event: "sync.failed", repository: "r1" }, [0], false],
    [{ event: "sync.failed", repository: "r2" }, [0, 1], false],
    [{ event: "sync.changed", repository: "r2" }, [], false],
    // A backup belongs to no repository: a repositories: filter lets it through.
    [{ event: "backup.failed" }, [0], true],
  ] as const)("%j", (event, hooks, email) => {
    const t = targetsOf(config, event as never);
    expect(t.webhooks.map(([i]) => i)).toEqual(hooks);
    expect(t.email !== undefined).toBe(email);
  });
});

describe("render", () => {
  it("escapes every upstream string in the HTML, keeps the text verbatim, and keeps the subject on one line", () => {
    const e = sampleEvent("sync.failed", { now });
    e.repository = "r1";
    e.run!.error = 'bad <b onclick="x">&</b>\r\nInjected: header';
    const m = renderEventMail(e);
    expect(m.subject).toBe("[chantal] r1: sync failed (test)");
    expect(m.text).toContain('bad <b onclick="x">&</b>');
    expect(m.html).toContain("bad &lt;b onclick=&quot;x&quot;&gt;&amp;&lt;/b&gt;");
    expect(m.html).not.toMatch(/<b /);
    expect(escapeHtml(`<>&"'`)).toBe("&lt;&gt;&amp;&quot;&#39;");
  });

  it("the digest lists every configured repository, one never synced as stale", () => {
    const report = digestReport(
      [{ repoId: "a", state: "ok", reason: "last success 1h ago", inConfig: true, row: { lastSuccessAt: now, packageCount: 5 } }],
      new Map([
        [
          "a",
          { repoId: "a", total: 2, success: 1, noop: 1, failed: 0, interrupted: 0, packagesAdded: 2, packagesRemoved: 1, snapshots: ["a-1"], lastError: null },
        ],
      ]),
      ["a", "new"],
      { since: new Date(now.getTime() - 86_400_000), until: now },
      "host1",
    );
    expect(report.repositories.map((r) => [r.repo_id, r.state, r.runs.total])).toEqual([
      ["a", "ok", 2],
      ["new", "stale", 0],
    ]);
    const m = renderDigestMail(report);
    expect(m.subject).toBe("[chantal] daily digest: 2 repositories, 1 not ok");
    expect(m.text).toContain("runs in the period: 2 (1 changed, 1 unchanged, 0 failed, 0 interrupted); +2 -1 packages");
    expect(m.text).toContain("snapshots: a-1");
    expect(m.text).toContain("new: stale:\n  state: stale (never synced successfully)");
  });
});

describe("planJobs: the digest", () => {
  it("one notify-digest job when notify.email.digest is set, in digest_timezone else the scheduler's zone", () => {
    const email = { smtp: { host: "smtp.test" }, from: "c@x.test", to: ["o@x.test"] };
    expect(planJobs(ConfigSchema.parse({ notify: { email: { ...email, events: ["sync.failed"] } } }), "UTC")).toEqual([]);
    const jobs = planJobs(ConfigSchema.parse({ scheduler: { timezone: "Europe/Paris" }, notify: { email: { ...email, digest: "daily" } } }), "UTC");
    expect(jobs).toEqual([
      { key: NOTIFY_DIGEST_JOB_KEY, kind: "notify-digest", target: "email", cron: "0 7 * * *", timeZone: "Europe/Paris", jitterSeconds: 0 },
    ]);
    const own = planJobs(
      ConfigSchema.parse({ notify: { email: { ...email, digest: "daily", digest_cron: "30 6 * * 1-5", digest_timezone: "Asia/Tokyo" } } }),
      "UTC",
    );
    expect(own[0]).toMatchObject({ cron: "30 6 * * 1-5", timeZone: "Asia/Tokyo" });
  });
});
