// The mirror's public key with storage.backend s3 (s3rver on 127.0.0.1), through the real CLI: published as
// <prefix>/published/<repo-id>/<name>.asc and .gpg beside latest/, readable by gpg, with a key content type.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type S3rver from "s3rver";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateSigningKey } from "../../core/openpgp/sign.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startS3rver, useS3rverCredentials } from "../helpers/s3rver.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

useS3rverCredentials();

const BUCKET = "chantal-signing";
const PREFIX = "m";

let scratch: string;
let s3: S3rver;
let endpoint: string;
let env: SyncEnvironment;
let client: S3Client;
let fingerprint: string;

describeWithTools(["gpg"], "the mirror's public key in an S3 bucket", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-sign-s3-"));
    ({ server: s3, endpoint } = await startS3rver(join(scratch, "s3rver"), [BUCKET]));
    client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
    await generateRpmRepo(join(scratch, "up"), 2, 500);
    const key = await generateSigningKey({ name: "S3 mirror", email: "s3@test.invalid", algorithm: "ed25519" });
    fingerprint = key.fingerprint;
    writeFileSync(join(scratch, "key.asc"), key.armoredPrivateKey, { mode: 0o600 });
    env = await startSyncEnvironment({ upstream: join(scratch, "up") });
    writeFileSync(
      join(env.configDir, "config.yaml"),
      `storage:\n  base_path: ${env.base}\n  backend: s3\n  s3:\n    bucket: ${BUCKET}\n    prefix: ${PREFIX}\n    region: us-east-1\n    endpoint: ${endpoint}\n    force_path_style: true\n` +
        `database:\n  url: ${env.db.url}\nsigning:\n  key_file: ${join(scratch, "key.asc")}\n  resign: true\n` +
        `repositories:\n  - id: r1\n    type: rpm\n    upstream_url: ${env.server.url}/\n`,
    );
  }, 180_000);
  afterAll(async () => {
    client?.destroy();
    await env?.close();
    await s3?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("puts <name>.asc and <name>.gpg beside latest/ (the global signing: block), each the key gpg reads", async () => {
    const s = await env.cli("repo", "sync", "r1");
    expect(s.code, s.stderr).toBe(0);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/published/r1/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!.slice(`${PREFIX}/published/r1/`.length));
    expect(keys.filter((k) => !k.includes("/")).sort()).toEqual(["chantal-mirror.asc", "chantal-mirror.gpg"]);
    expect(keys).toContain("latest/repodata/repomd.xml");
    for (const name of ["chantal-mirror.asc", "chantal-mirror.gpg"]) {
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/published/r1/${name}` }));
      expect(got.ContentType).toBe("application/pgp-keys");
      const file = join(scratch, name);
      writeFileSync(file, await got.Body!.transformToByteArray());
      expect(spawnSync("gpg", ["--with-colons", "--show-keys", file], { encoding: "utf8" }).stdout, name).toContain(`fpr:::::::::${fingerprint}:`);
    }
    // A second publish leaves them as they are.
    expect((await env.cli("publish", "repo", "r1")).code).toBe(0);
  });
});
