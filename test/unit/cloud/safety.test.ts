// Tests of core/cloud/safety.ts: what a configuration would lose or lack on a Fargate task.
import { describe, expect, it } from "vitest";
import { cloudSafety, namedPaths } from "../../../core/cloud/safety.js";
import { ConfigSchema } from "../../../core/config/schema.js";

const S3 = { backend: "s3", s3: { bucket: "pool" } };
const BACKUP = { target: "s3://backups/chantal", schedule: { cron: "0 5 * * *" } };
const parameterOf = (v: string) => `/chantal/prod/${v}`;
const repo = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "rpm", upstream_url: `https://m.example.com/${id}/`, ...extra });

function check(doc: Record<string, unknown>, secrets: string[] = []) {
  const r = cloudSafety(ConfigSchema.parse(doc), secrets, parameterOf, "PLACEHOLDER");
  return { errors: r.errors.map((e) => e.path), warnings: r.warnings.map((w) => w.path) };
}

describe("cloudSafety", () => {
  it.each([
    ["pool and backups in S3", { storage: S3, backup: BACKUP }, [], [], []],
    [
      "private-endpoints with a repository that would go direct",
      { storage: S3, backup: BACKUP, cloud: { network: { subnets: "private-endpoints" } }, repositories: [repo("a")] },
      [],
      ["cloud.network.subnets"],
      [],
    ],
    [
      "private-endpoints, every upstream through the proxy",
      {
        storage: S3,
        backup: BACKUP,
        proxy: { https_proxy: "http://proxy:3128" },
        cloud: { network: { subnets: "private-endpoints" } },
        repositories: [repo("a")],
      },
      [],
      [],
      [],
    ],
    [
      "a mirror without publish.base_url",
      { storage: S3, backup: BACKUP, cloud: { mirror: { serve: "cloudfront", public: true } } },
      [],
      [],
      ["publish.base_url"],
    ],
    [
      "a mirror with its URL",
      {
        storage: S3,
        backup: BACKUP,
        publish: { base_url: "https://d1.cloudfront.net/" },
        cloud: { mirror: { serve: "bucket", allowed_cidrs: ["10.0.0.0/8"] } },
      },
      [],
      [],
      [],
    ],
    ["the default filesystem storage", { backup: BACKUP }, [], ["storage.backend"], []],
    ["backups scheduled into a directory", { storage: S3, backup: { ...BACKUP, target: "/var/backups" } }, [], ["backup.target"], []],
    ["backups scheduled with no target (<base_path>/backups)", { storage: S3, backup: { schedule: BACKUP.schedule } }, [], ["backup.target"], []],
    ["a backup target only the task knows", { storage: S3, backup: { ...BACKUP, target: "PLACEHOLDER" } }, [], [], []],
    ["no backup schedule", { storage: S3 }, [], [], ["backup.schedule"]],
    ["a secret, undeclared", { storage: S3, backup: BACKUP }, ["PASS"], [], ["cloud.secrets"]],
    ["a secret, declared", { storage: S3, backup: BACKUP, cloud: { secrets: ["PASS"] } }, ["PASS"], [], []],
    [
      "a secret used but missing from cloud.secrets",
      { storage: S3, backup: BACKUP, cloud: { secrets: ["OTHER"] } },
      ["PASS"],
      ["cloud.secrets"],
      ["cloud.secrets"],
    ],
    [
      "a client certificate directory not in the image",
      { storage: S3, backup: BACKUP, repositories: [repo("rhel", { auth: { type: "client_cert", cert_dir: "/etc/pki/entitlement" } })] },
      [],
      ["repositories[rhel].auth.cert_dir"],
      [],
    ],
    [
      "a client certificate directory the image has",
      {
        storage: S3,
        backup: BACKUP,
        cloud: { image_paths: ["/etc/pki/"] },
        repositories: [repo("rhel", { auth: { type: "client_cert", cert_dir: "/etc/pki/entitlement" } })],
      },
      [],
      [],
      [],
    ],
    [
      "a disabled repository's files are not needed",
      {
        storage: S3,
        backup: BACKUP,
        repositories: [repo("off", { enabled: false, type: "apt", apt: { distribution: "stable" }, verify: { keyring: "/k.gpg" } })],
      },
      [],
      [],
      [],
    ],
    [
      "a prefix that is not a parent directory",
      { storage: S3, backup: BACKUP, cloud: { image_paths: ["/etc/pk"] }, signing: { key_file: "/etc/pki/key.asc" } },
      [],
      ["signing.key_file"],
      [],
    ],
  ])("%s", (_name, doc, secrets, errors, warnings) => {
    expect(check(doc, secrets)).toEqual({ errors, warnings });
  });

  it("names the parameter and the fix", () => {
    const r = cloudSafety(ConfigSchema.parse({ storage: S3, backup: BACKUP, cloud: { secrets: [] } }), ["PASS"], parameterOf);
    expect(r.errors[0]!.message).toMatch(/does not declare PASS.*\/chantal\/prod\/PASS; fix: create it and add PASS to cloud\.secrets/);
  });
});

describe("namedPaths", () => {
  it("lists every file the task would read, global and per repository", () => {
    const config = ConfigSchema.parse({
      proxy: { https_proxy: "http://p:3128", ca_bundle: "/ca.pem" },
      signing: { key_file: "/sign.asc" },
      backup: { signing: { key_file: "/b.asc", keyring: "/b.gpg" } },
      export: { signing: { key_file: "/e.asc" } },
      repositories: [
        repo("a", {
          type: "apt",
          apt: { distribution: "stable" },
          proxy: { https_proxy: "http://p:3128", ca_bundle: "/a-ca.pem" },
          auth: { type: "client_cert", cert_file: "/c.pem", key_file: "/c-key.pem", ca_file: "/c-ca.pem" },
          verify: { keyring: "/a.gpg" },
          signing: { key_file: "/a.asc" },
        }),
        repo("b", { proxy: { pac_file: "/b.pac" } }),
      ],
    });
    expect(namedPaths(config).map((p) => `${p.repository ?? ""}:${p.key}=${p.path}`)).toEqual([
      ":proxy.ca_bundle=/ca.pem",
      ":signing.key_file=/sign.asc",
      ":backup.signing.key_file=/b.asc",
      ":backup.signing.keyring=/b.gpg",
      ":export.signing.key_file=/e.asc",
      "a:proxy.ca_bundle=/a-ca.pem",
      "a:auth.cert_file=/c.pem",
      "a:auth.key_file=/c-key.pem",
      "a:auth.ca_file=/c-ca.pem",
      "a:verify.keyring=/a.gpg",
      "a:signing.key_file=/a.asc",
      "b:proxy.pac_file=/b.pac",
    ]);
  });
});
