// How the configuration reaches the Fargate task, against a real S3 endpoint on 127.0.0.1 (s3rver):
// the objects `sst deploy` writes (one per file, keys from core/cloud/cloud-config.ts) are what the task's
// downloadConfigDir() reads back into a directory that the ordinary loader accepts.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadConfigDir } from "../../core/cloud/config-source.js";
import { loadConfig } from "../../core/config/load.js";
import { CONFIG_PREFIX, configObjectKey, loadCloudConfig } from "../../core/cloud/cloud-config.js";
import { makeConfigDir } from "../helpers/cli.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";

let server: S3rver;
let s3dir: string;
let client: S3Client;
const work = mkdtempSync(join(tmpdir(), "chantal-task-"));

beforeAll(async () => {
  s3dir = mkdtempSync(join(tmpdir(), "chantal-s3rver-"));
  server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory: s3dir,
    configureBuckets: [{ name: "chantal-config" }, { name: "empty-config" }],
  });
  const addr = await server.run();
  client = new S3Client({
    endpoint: `http://127.0.0.1:${addr.port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  rmSync(s3dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const CONFIG = `
storage:
  base_path: /var/lib/chantal
database:
  url: postgres://chantal:\${CHANTAL_DB_PASSWORD}@db.internal:5432/chantal
backup:
  target: \${CHANTAL_BACKUP_TARGET}
  schedule: { cron: "30 3 * * *" }
`;
const REPOS = `
repositories:
  - id: epel
    type: rpm
    upstream_url: https://mirror.example.com/epel/9/
    schedule: { cron: "0 2 * * *", timezone: Europe/Berlin }
`;

describe("configuration in the config bucket", () => {
  it("round-trips: what the deploy uploads, the task downloads and loads", async () => {
    const local = makeConfigDir({ "config.yaml": CONFIG, "conf.d/10-repos.yaml": REPOS, "conf.d/notes.txt": "not configuration" });
    // sst deploy: the plan and the files (unset variables get placeholders at deploy time only).
    const cloud = await loadCloudConfig(local, { PATH: process.env.PATH });
    expect(cloud.files.map((f) => f.file)).toEqual(["config.yaml", "conf.d/10-repos.yaml"]);
    expect(cloud.secretVariables).toEqual(["CHANTAL_DB_PASSWORD"]);
    expect(cloud.plan.schedules.map((s) => s.name)).toEqual(["chantal-sync-epel", "chantal-backup"]);
    for (const f of cloud.files) {
      await client.send(new PutObjectCommand({ Bucket: "chantal-config", Key: configObjectKey(f.file), Body: f.text, ContentType: "application/yaml" }));
    }
    // Something else in the bucket is not configuration and stays out.
    await client.send(new PutObjectCommand({ Bucket: "chantal-config", Key: "config/old/config.yaml", Body: "storage: {}" }));
    await client.send(new PutObjectCommand({ Bucket: "chantal-config", Key: "elsewhere.yaml", Body: "storage: {}" }));

    // The task: CHANTAL_CONFIG_S3_URI=s3://<bucket>/config/, then the ordinary loader with the task's environment.
    const got = await downloadConfigDir(`s3://chantal-config/${CONFIG_PREFIX}`, work, { client });
    expect(got.files).toEqual(["conf.d/10-repos.yaml", "config.yaml"]);
    expect(readdirSync(got.dir).sort()).toEqual(["conf.d", "config.yaml"]);
    const loaded = await loadConfig({ configDir: got.dir, env: { CHANTAL_DB_PASSWORD: "s3cret", CHANTAL_BACKUP_TARGET: "s3://chantal-backups/backups" } });
    expect(loaded.files).toEqual(["config.yaml", "conf.d/10-repos.yaml"]);
    expect(loaded.config.database.url).toBe("postgres://chantal:s3cret@db.internal:5432/chantal");
    expect(loaded.config.backup.target).toBe("s3://chantal-backups/backups");
    expect(loaded.config.repositories.map((r) => r.id)).toEqual(["epel"]);
  });

  it("says what to do when the bucket holds no config.yaml, or cannot be read", async () => {
    await expect(downloadConfigDir("s3://empty-config/config/", work, { client })).rejects.toThrow(
      "no config.yaml under s3://empty-config/config/: deploy the SST app (it uploads the configuration) or check CHANTAL_CONFIG_S3_URI",
    );
    await expect(downloadConfigDir("s3://no-such-bucket/config/", work, { client })).rejects.toThrow(
      /^reading the configuration from s3:\/\/no-such-bucket\/config\/ failed: /,
    );
  });
});
