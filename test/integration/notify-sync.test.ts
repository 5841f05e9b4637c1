// Notifications of real runs: `repo sync` sends sync.succeeded / sync.changed (with the package diff) / sync.failed to a
// webhook; a receiver that hangs delays the command only by notify.max_wait_seconds; freshness changes are announced once.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config/load.js";
import { freshnessChanges } from "../../core/notify/freshness-watch.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { runCli } from "../helpers/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";

const SECRET = "a-long-enough-webhook-secret";

const advisory = (id: string, severity: string, title: string) =>
  `  <update from="security@example.test" status="final" type="security" version="1">\n    <id>${id}</id>\n    <title>${title}</title>\n    <severity>${severity}</severity>\n    <references><reference href="https://example.test/${id}" id="${id}" title="ref title" type="self"/></references>\n  </update>\n`;
const updateinfo = (...updates: string[]) => `<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n${updates.join("")}</updates>\n`;
let env: SyncEnvironment;
let upstream: string;
const receivers: WebhookReceiver[] = [];
afterAll(async () => {
  for (const r of receivers) await r.close();
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

function writeNotify(yaml: string): void {
  mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
  writeFileSync(join(env.configDir, "conf.d", "notify.yaml"), yaml);
}

const cli = (...args: string[]) =>
  runCli(["--config-dir", env.configDir, ...args], { env: { CHANTAL_LOG_LEVEL: "warn", HOOK_SECRET: SECRET, HTTP_PROXY: undefined, http_proxy: undefined } });

describe("notifications of syncs", () => {
  it("sync.succeeded, then sync.changed with the diff, then sync.failed; each signed", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 4, 500, { updateinfo: updateinfo(advisory("EXSA-2026:0001", "Moderate", "first fix")) });
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n  - id: broken\n    type: rpm\n    upstream_url: ${url}/nothing-here/\n`,
    });
    const r = await startWebhookReceiver({ secret: SECRET });
    receivers.push(r);
    writeNotify(`notify:\n  webhooks:\n    - url: ${r.url}\n      events: [sync.succeeded, sync.changed, sync.failed]\n      secret: \${HOOK_SECRET}\n`);

    expect((await cli("repo", "sync", "r1")).code).toBe(0);
    expect(r.received.map((x) => x.json.event).sort()).toEqual(["sync.changed", "sync.succeeded"]);
    const first = r.received.find((x) => x.json.event === "sync.changed")!;
    expect(first.json.changes).toMatchObject({ added_count: 4, removed_count: 0, updated_count: 0, truncated: false, advisories_count: 1 });

    // upstream: pkg000000 removed, pkg000004 added, pkg000001..3 upgraded to 1.1
    await generateRpmRepo(upstream, 4, 500, {
      first: 1,
      version: "1.1",
      updateinfo: updateinfo(
        advisory("EXSA-2026:0001", "Moderate", "first fix"),
        advisory("EXSA-2026:0002", "Critical", "pkg &amp; friends: remote code execution"),
      ),
    });
    r.received.length = 0;
    expect((await cli("repo", "sync", "r1")).code).toBe(0);
    const changed = r.received.find((x) => x.json.event === "sync.changed")!;
    expect(changed.signatureValid).toBe(true);
    expect(changed.json).toMatchObject({
      repository: "r1",
      run: { status: "success", trigger: "manual", error: null, counts: { packages_total: 4 } },
      changes: {
        added: [{ name: "pkg000004", arch: "noarch", version: "1.1-1" }],
        removed: [{ name: "pkg000000", arch: "noarch", version: "1.0-1" }],
        added_count: 1,
        removed_count: 1,
        updated_count: 3,
        // Only the advisory the previous updateinfo.xml did not have, with its severity.
        advisories: [{ id: "EXSA-2026:0002", type: "security", severity: "Critical", title: "pkg & friends: remote code execution" }],
        advisories_count: 1,
      },
    });
    expect((changed.json.changes as { updated: unknown[] }).updated[0]).toEqual({
      name: "pkg000001",
      arch: "noarch",
      from: "1.0-1",
      to: "1.1-1",
      direction: "upgrade",
    });

    // Unchanged upstream: a no-op is a success, not a change.
    r.received.length = 0;
    expect((await cli("repo", "sync", "r1")).code).toBe(0);
    expect(r.received.map((x) => [x.json.event, (x.json.run as { status: string }).status])).toEqual([["sync.succeeded", "noop"]]);

    r.received.length = 0;
    expect((await cli("repo", "sync", "broken")).code).toBe(1);
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.json).toMatchObject({ event: "sync.failed", repository: "broken", run: { status: "failed", error: expect.stringMatching(/404/) } });
    expect(r.received[0]!.signatureValid).toBe(true);

    // A dry run notifies nobody.
    r.received.length = 0;
    expect((await cli("repo", "sync", "r1", "--dry-run")).code).toBe(0);
    expect(r.received).toHaveLength(0);
  });

  it("a receiver that hangs delays repo sync by notify.max_wait_seconds at most, and the sync still succeeds", async () => {
    const hang = await startWebhookReceiver({ plan: () => "hang" });
    receivers.push(hang);
    writeNotify(`notify:\n  max_wait_seconds: 2\n  webhooks:\n    - url: ${hang.url}\n      events: [sync.succeeded]\n      timeout_seconds: 120\n`);
    const t0 = Date.now();
    const res = await cli("repo", "sync", "r1");
    const took = Date.now() - t0;
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/r1: noop/);
    expect(hang.received).toHaveLength(1);
    expect(res.stderr).toMatch(/abandoned \(notify\.max_wait_seconds\)/);
    // The CLI's own start-up and the no-op sync take a few seconds; the hanging receiver adds the 2 s bound, not 120 s.
    expect(took).toBeLessThan(30_000);
  });

  it("db backup sends backup.succeeded with the archive, and backup.failed with the error", async () => {
    const r = await startWebhookReceiver({ secret: SECRET });
    receivers.push(r);
    writeNotify(`notify:\n  webhooks:\n    - url: ${r.url}\n      events: [backup.succeeded, backup.failed]\n      secret: \${HOOK_SECRET}\n`);
    const target = mkdtempSync(join(tmpdir(), "chantal-notify-backups-"));
    try {
      expect((await cli("db", "backup", "--target", target)).code).toBe(0);
      expect(r.received).toHaveLength(1);
      expect(r.received[0]!.signatureValid).toBe(true);
      expect(r.received[0]!.json).toMatchObject({
        event: "backup.succeeded",
        backup: { status: "success", location: expect.stringContaining(target), error: null },
      });
      expect((r.received[0]!.json.backup as { size_bytes: number }).size_bytes).toBeGreaterThan(0);
      expect(r.received[0]!.json.repository).toBeUndefined();
      const failed = await cli("db", "backup", "--target", "/proc/chantal-cannot-write-here");
      expect(failed.code).toBe(1);
      expect(r.received).toHaveLength(2);
      expect(r.received[1]!.json).toMatchObject({ event: "backup.failed", backup: { status: "failed", location: null, error: expect.any(String) } });
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });

  it("freshness changes are announced once per change, however often the daemon looks", async () => {
    writeNotify("");
    const { config } = await loadConfig({ configDir: env.configDir });
    const blobs = blobStoreOf(config);
    const t = new Date();
    const first = await freshnessChanges(env.pg, blobs, config, t);
    // r1 is ok (nothing to say about a repository first seen ok); broken failed.
    expect(first.map((e) => [e.event, e.repository, e.freshness?.previous])).toEqual([["freshness.failing", "broken", null]]);
    expect(await freshnessChanges(env.pg, blobs, config, t)).toEqual([]);
    // Two days later without a sync r1 is stale (max_age 36h); broken still failing: no new message for it.
    const later = new Date(t.getTime() + 2 * 86_400_000);
    const stale = await freshnessChanges(env.pg, blobs, config, later);
    expect(stale.map((e) => [e.event, e.repository, e.freshness?.previous])).toEqual([["freshness.stale", "r1", "ok"]]);
    expect(await freshnessChanges(env.pg, blobs, config, later)).toEqual([]);
    // Synced again: back to ok, announced.
    expect((await cli("repo", "sync", "r1")).code).toBe(0);
    const back = await freshnessChanges(env.pg, blobs, config, new Date());
    expect(back.map((e) => [e.event, e.repository, e.freshness?.previous])).toEqual([["freshness.ok", "r1", "stale"]]);
  });
});
