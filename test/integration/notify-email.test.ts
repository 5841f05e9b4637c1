// E-mail through a real SMTP server on 127.0.0.1 (smtp-server): STARTTLS verified with the test CA and AUTH; temporary
// refusals retried, permanent ones not; a refusing server never fails the sync; the daily digest through the CLI.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigSchema } from "../../core/config/schema.js";
import { sampleEvent } from "../../core/notify/events.js";
import { Notifier } from "../../core/notify/notifier.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { captureLogger } from "../helpers/capture-log.js";
import { decodeQuotedPrintable, startSmtpServer, type SmtpAnswer, type SmtpTestServer } from "../helpers/smtp-test-server.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { createTlsFixtures, type TlsFixtures } from "../helpers/tls-fixtures.js";

const PASSWORD = "smtp-pass-never-logged";
let tls: TlsFixtures;
const servers: SmtpTestServer[] = [];
beforeAll(() => {
  tls = createTlsFixtures();
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
afterAll(() => tls?.remove());

async function smtp(plan?: (n: number) => SmtpAnswer): Promise<SmtpTestServer> {
  const s = await startSmtpServer({
    tls: { key: tls.server.keyPem, cert: tls.server.certPem },
    auth: { username: "chantal", password: PASSWORD },
    ...(plan ? { plan } : {}),
  });
  servers.push(s);
  return s;
}

function emailBlock(port: number, extra: Record<string, unknown> = {}, smtpExtra: Record<string, unknown> = {}) {
  return {
    smtp: { host: "127.0.0.1", port, require_starttls: true, username: "chantal", password: PASSWORD, ca_file: tls.caFile, timeout_seconds: 5, ...smtpExtra },
    from: "chantal@mirror.test",
    to: ["ops@example.test", "oncall@example.test"],
    events: ["sync.changed", "sync.failed"],
    ...extra,
  };
}

function notifier(email: unknown, sleep?: (ms: number) => Promise<void>) {
  const cap = captureLogger();
  const n = new Notifier(ConfigSchema.parse({ notify: { email } }), { log: cap.log, env: {}, ...(sleep ? { sleep } : {}) });
  return { n, ...cap };
}

/** The decoded body of the MIME part of a content type. */
function part(raw: string, type: string): string {
  const m = new RegExp(`Content-Type: ${type}[^\\r\\n]*\\r?\\n(?:[^\\r\\n]+\\r?\\n)*\\r?\\n([\\s\\S]*?)\\r?\\n--`, "i").exec(raw);
  if (!m) throw new Error(`no ${type} part in:\n${raw}`);
  const body = /Content-Transfer-Encoding: quoted-printable/i.test(raw) ? decodeQuotedPrintable(m[1]!) : m[1]!;
  return body.replace(/\r\n/g, "\n");
}

describe("e-mail", () => {
  it("sends text and HTML after STARTTLS and AUTH, the server's certificate verified with ca_file", async () => {
    const s = await smtp();
    const { n, text } = notifier(emailBlock(s.port));
    const event = sampleEvent("sync.changed", { now: new Date("2026-12-03T08:00:00Z") });
    event.changes!.advisories![0]!.title = "<script>alert('x')</script> & more";
    const [o] = await n.deliver(event);
    expect(o).toEqual({ target: "email ops@example.test, oncall@example.test", ok: true, attempts: 1 });
    expect(s.mails).toHaveLength(1);
    const mail = s.mails[0]!;
    expect(mail).toMatchObject({ from: "chantal@mirror.test", to: ["ops@example.test", "oncall@example.test"], secure: true, user: "chantal" });
    expect(mail.raw).toMatch(/^Subject: \[chantal\] example-repo: \+1 -1 ~1 packages, 1 new advisory \(test\)/m);
    const plain = part(mail.raw, "text/plain");
    expect(plain).toContain("openssl.x86_64: 1:3.0.7-24.el9 -> 1:3.0.7-25.el9");
    expect(plain).toContain("RHSA-2026:0001 [Important, security] <script>alert('x')</script> & more");
    const html = part(mail.raw, "text/html");
    expect(html).toContain("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more");
    expect(html).not.toContain("<script>");
    expect(text()).not.toContain(PASSWORD);
  });

  it("refuses a server whose certificate it cannot verify (no ca_file): logged, not thrown", async () => {
    const s = await smtp();
    const { n, text } = notifier(emailBlock(s.port, {}, { ca_file: undefined, retries: 0 }));
    const [o] = await n.deliver(sampleEvent("sync.failed", { now: new Date() }));
    expect(o!.ok).toBe(false);
    expect(o!.error).toMatch(/certificate/i);
    expect(s.mails).toHaveLength(0);
    expect(text()).toContain("e-mail not sent");
  });

  it("retries a server that answers 451 twice, then accepts", async () => {
    const s = await smtp((i) => (i <= 2 ? "temporary" : "accept"));
    const delays: number[] = [];
    const { n, lines } = notifier(emailBlock(s.port, { to: ["ops@example.test"] }), async (ms) => void delays.push(ms));
    const [o] = await n.deliver(sampleEvent("sync.failed", { now: new Date() }));
    expect(o).toMatchObject({ ok: true, attempts: 3 });
    expect(s.attempts).toEqual(["temporary", "temporary", "accept"]);
    expect(delays).toEqual([2000, 4000]);
    expect(lines().filter((l) => l.msg === "e-mail not accepted: retrying")).toHaveLength(2);
    expect(s.mails).toHaveLength(1);
  });

  it("does not retry a permanent refusal (550) or rejected credentials (535)", async () => {
    const refusing = await smtp(() => "permanent");
    const delays: number[] = [];
    const a = notifier(emailBlock(refusing.port, { to: ["ops@example.test"] }), async (ms) => void delays.push(ms));
    const [o] = await a.n.deliver(sampleEvent("sync.failed", { now: new Date() }));
    expect(o).toMatchObject({ ok: false, attempts: 1 });
    expect(o!.error).toMatch(/550|Relaying denied/);
    const s = await smtp();
    const b = notifier(emailBlock(s.port, {}, { password: "wrong-password-here" }), async (ms) => void delays.push(ms));
    const [p] = await b.n.deliver(sampleEvent("sync.failed", { now: new Date() }));
    expect(p).toMatchObject({ ok: false, attempts: 1 });
    expect(s.authFailures).toBe(1);
    expect(delays).toEqual([]);
    expect(b.text()).not.toContain("wrong-password-here");
  });
});

describe("e-mail from the CLI", () => {
  let env: SyncEnvironment;
  let upstream: string;
  afterAll(async () => {
    await env?.close();
    if (upstream) rmSync(upstream, { recursive: true, force: true });
  });

  it("a sync whose SMTP server refuses still succeeds; the digest lists every repository's state and its runs", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 3, 500);
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n  - id: broken\n    type: rpm\n    upstream_url: ${url}/nothing-here/\n`,
    });
    const refusing = await smtp(() => "permanent");
    const notifyYaml = (port: number) =>
      [
        "notify:",
        "  email:",
        "    smtp:",
        "      host: 127.0.0.1",
        `      port: ${port}`,
        "      require_starttls: true",
        "      username: chantal",
        "      password: ${SMTP_PASSWORD}",
        `      ca_file: ${tls.caFile}`,
        "      retries: 0",
        "    from: chantal@mirror.test",
        "    to: [ops@example.test]",
        "    events: [sync.failed]",
        "    digest: daily",
        "  max_wait_seconds: 20",
        "",
      ].join("\n");
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(join(env.configDir, "conf.d", "notify.yaml"), notifyYaml(refusing.port));
    const cli = (...args: string[]) =>
      import("../helpers/cli.js").then(({ runCli }) =>
        runCli(["--config-dir", env.configDir, ...args], { env: { CHANTAL_LOG_LEVEL: "warn", SMTP_PASSWORD: PASSWORD } }),
      );
    expect((await cli("repo", "sync", "r1")).code).toBe(0);
    const broken = await cli("repo", "sync", "broken");
    expect(broken.code).toBe(1); // the sync's own failure, not the mail's
    expect(broken.stderr).toMatch(/e-mail not sent/);
    expect(broken.stderr).not.toContain(PASSWORD);
    expect(refusing.attempts).toEqual(["permanent"]);

    const s = await smtp();
    writeFileSync(join(env.configDir, "conf.d", "notify.yaml"), notifyYaml(s.port));
    const digest = await cli("notify", "test", "--digest");
    expect(digest.code).toBe(0);
    expect(digest.stdout).toMatch(/^email ops@example\.test: delivered \(1 attempt\)$/m);
    expect(s.mails).toHaveLength(1);
    const raw = s.mails[0]!.raw;
    expect(raw).toMatch(/^Subject: \[chantal\] daily digest: 2 repositories, 1 not ok/m);
    const plain = part(raw, "text/plain");
    expect(plain).toMatch(/r1: ok:\n {2}state: ok/);
    expect(plain).toMatch(/runs in the period: 1 \(1 changed, 0 unchanged, 0 failed, 0 interrupted\); \+3 -0 packages/);
    expect(plain).toMatch(/broken: failing:\n {2}state: failing \(the last run failed\)/);
    expect(plain).toMatch(/last error: .*404/);

    // notify test sends a sample to the target whatever events it asked for.
    const sample = await cli("notify", "test", "--event", "backup.failed", "--json");
    expect(sample.code).toBe(0);
    expect(JSON.parse(sample.stdout)).toEqual([{ target: "email ops@example.test", ok: true, attempts: 1 }]);
    expect(s.mails[1]!.raw).toMatch(/^Subject: \[chantal\] backup failed \(test\)/m);
  });
});
