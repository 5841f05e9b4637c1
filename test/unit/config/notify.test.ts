// Tests of the notify: section (core/config/schema.ts NotifySchema, load.ts merging and paths): every problem names its key.
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { configSecrets } from "../../../core/config/secrets.js";
import { ConfigError } from "../../../core/errors.js";
import { makeConfigDir } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function load(files: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  const d = makeConfigDir(files);
  dirs.push(d);
  return { dir: d, loaded: await loadConfig({ configDir: d, env }) };
}

async function issuesOf(yaml: string): Promise<string[]> {
  try {
    await load({ "config.yaml": yaml });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split("\n");
    throw err;
  }
  return [];
}

const hook = (extra: string) => `notify:\n  webhooks:\n    - url: https://hooks.example.test/x\n      events: [sync.failed]\n${extra}`;
const mail = (extra: string) =>
  `notify:\n  email:\n    smtp: { host: smtp.example.test }\n    from: chantal@example.test\n    to: [ops@example.test]\n${extra}`;

describe("notify: validation names the key", () => {
  it.each([
    [hook("").replace("https://hooks.example.test/x", "ftp://hooks.example.test/x"), /notify\.webhooks\[0\]\.url.*http:\/\/ or https:\/\//],
    [
      hook("").replace("[sync.failed]", "[sync.failed, sync.exploded]"),
      /notify\.webhooks\[0\]\.events\[1\].*"sync\.exploded" is not an event: use sync\.succeeded/,
    ],
    [hook("").replace("[sync.failed]", "[]"), /notify\.webhooks\[0\]\.events.*at least one event/],
    [hook("      secret: short\n"), /notify\.webhooks\[0\]\.secret.*at least 16 characters/],
    [hook("      retries: 11\n"), /notify\.webhooks\[0\]\.retries/],
    [hook("      colour: red\n"), /notify\.webhooks\[0\].*colour/],
    [mail("    events: [backup.failed]\n").replace("ops@example.test", "not-an-address"), /notify\.email\.to\[0\].*e-mail address/],
    [mail(""), /notify\.email.*needs events.*digest: daily/],
    [mail("    digest: weekly\n"), /notify\.email\.digest.*"daily"/],
    [mail("    digest: daily\n    digest_cron: 61 7 * * *\n"), /notify\.email\.digest_cron.*not a valid cron expression/],
    [mail("    digest: daily\n").replace("{ host: smtp.example.test }", "{ host: smtp.example.test, port: 0 }"), /notify\.email\.smtp\.port/],
  ])("%#", async (yaml, problem) => {
    const issues = await issuesOf(yaml);
    expect(issues.join("\n")).toMatch(problem);
  });
});

describe("notify: loading", () => {
  it("merges notify.webhooks and notify.email from two files, resolves CA files and ${VAR}, and counts the secrets as secrets", async () => {
    const { dir, loaded } = await load(
      {
        "config.yaml": `notify:\n  webhooks:\n    - url: https://hooks.example.test/x\n      events: [sync.failed]\n      secret: \${HOOK_SECRET}\n      ca_file: ca.pem\n`,
        "conf.d/mail.yaml": `${mail("    digest: daily\n").replace("{ host: smtp.example.test }", '{ host: smtp.example.test, password: "${SMTP_PASSWORD}", ca_file: smtp-ca.pem }')}`,
      },
      { HOOK_SECRET: "0123456789abcdef-secret", SMTP_PASSWORD: "smtp-password" },
    );
    const n = loaded.config.notify!;
    expect(n.webhooks).toHaveLength(1);
    expect(n.webhooks![0]).toMatchObject({ secret: "0123456789abcdef-secret", timeout_seconds: 10, retries: 4, ca_file: `${dir}/ca.pem` });
    expect(n.email).toMatchObject({
      digest: "daily",
      digest_cron: "0 7 * * *",
      smtp: { port: 587, secure: false, password: "smtp-password", ca_file: `${dir}/smtp-ca.pem` },
    });
    expect(configSecrets(loaded.config)).toEqual(expect.arrayContaining(["0123456789abcdef-secret", "smtp-password"]));
  });
});
