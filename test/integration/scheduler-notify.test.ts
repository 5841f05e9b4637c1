// The daemon's notifications (test clock: no wall-clock waiting): the daily digest mailed at digest_cron, shown in
// scheduler list, and a repository's freshness state announced to a webhook once when the daemon first looks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { SchedulerDaemons } from "../helpers/scheduler-daemon.js";
import { startSmtpServer, type SmtpTestServer } from "../helpers/smtp-test-server.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { createTlsFixtures, type TlsFixtures } from "../helpers/tls-fixtures.js";
import { until } from "../helpers/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";

let env: SyncEnvironment | undefined;
let upstream: string | undefined;
const daemons = new SchedulerDaemons();
let smtp: SmtpTestServer | undefined;
let hooks: WebhookReceiver | undefined;
let tls: TlsFixtures | undefined;
afterAll(async () => {
  await daemons.killAll();
  await smtp?.close();
  await hooks?.close();
  await env?.close();
  tls?.remove();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

describe("the scheduler's notifications", () => {
  it("mails the digest at digest_cron and announces a failing repository once", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 2, 256);
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n  - id: broken\n    type: rpm\n    upstream_url: ${url}/nothing-here/\n`,
    });
    tls = createTlsFixtures();
    smtp = await startSmtpServer({ tls: { key: tls.server.keyPem, cert: tls.server.certPem } });
    hooks = await startWebhookReceiver({ secret: "scheduler-test-secret-0001" });
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(
      join(env.configDir, "conf.d/notify.yaml"),
      [
        "notify:",
        "  webhooks:",
        `    - url: ${hooks.url}`,
        "      events: [freshness.failing, freshness.stale]",
        "      secret: scheduler-test-secret-0001",
        "  email:",
        `    smtp: { host: 127.0.0.1, port: ${smtp.port}, ca_file: ${tls.caFile} }`,
        "    from: chantal@mirror.test",
        "    to: [ops@example.test]",
        "    digest: daily",
        '    digest_cron: "0 7 * * *"',
        "    digest_timezone: UTC",
        "",
      ].join("\n"),
    );
    expect((await env.cli("repo", "sync", "r1")).code).toBe(0);
    expect((await env.cli("repo", "sync", "broken")).code).toBe(1);
    const list = JSON.parse((await env.cli("scheduler", "list", "--json")).stdout) as {
      repository: string;
      schedule: string | null;
      timezone: string | null;
    }[];
    expect(list.find((r) => r.repository === "(notify digest)")).toMatchObject({ schedule: "0 7 * * *", timezone: "UTC" });

    // 06:59:57 UTC: the digest is due three seconds later (the runs above are "in the future" of this clock: the
    // digest's window holds none of them, its states still come from them).
    const start = new Date();
    start.setUTCHours(6, 59, 57, 0);
    const daemon = daemons.start(env.configDir, { start: start });
    await until("the freshness webhook", () => hooks!.received.length > 0);
    const mail = await until("the digest mail", () => smtp!.mails[0]);
    expect(mail.secure).toBe(true);
    expect(mail.raw).toMatch(/^Subject: \[chantal\] daily digest: 2 repositories, 1 not ok/m);
    const done = await until("the digest run's log line", () =>
      daemon
        .output()
        .split("\n")
        .find((l) => l.includes('"job":"notify-digest"') && l.includes('"status"') && l.includes("scheduled run")),
    );
    expect(JSON.parse(done)).toMatchObject({ status: "success" });
    expect(hooks.received.map((h) => [h.json.event, h.json.repository, h.signatureValid])).toEqual([["freshness.failing", "broken", true]]);
    daemon.child.kill("SIGTERM");
    expect((await daemon.result).code).toBe(0);
    // Announced once: the state is recorded, a restart does not repeat it.
    const states = (await env.pg.query(`SELECT subject, state FROM chantal.notify_states ORDER BY subject`)).rows;
    expect(states).toEqual([
      { subject: "freshness:broken", state: "failing" },
      { subject: "freshness:r1", state: "ok" },
    ]);
  });
});
