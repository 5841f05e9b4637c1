// export from a pool in S3 and import into another installation whose pool is in S3 (s3rver on 127.0.0.1): the published snapshot and the environment match the sender's, byte for byte.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../core/openpgp/sign.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { listS3Keys, startS3rver, useS3rverCredentials, useS3Storage } from "../helpers/s3rver.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

useS3rverCredentials();

const BUCKET = "chantal-transfer";
const GROUPS = "groups:\n  - id: g\n    repositories: [r1]\nenvironments: [test, prod]\n";

let scratch: string;
let s3: S3rver;
let endpoint: string;
let a: SyncEnvironment; // connected, pool in s3://BUCKET/sender/
let b: SyncEnvironment; // disconnected, pool in s3://BUCKET/receiver/
let trusted: string;

const useS3StorageAt = (env: SyncEnvironment, prefix: string) => useS3Storage(join(env.configDir, "config.yaml"), { endpoint, bucket: BUCKET, prefix });
const keys = async (prefix: string) => (await listS3Keys(endpoint, BUCKET, prefix)).map((k) => k.slice(prefix.length));

/** Every object under a published tree, as relative key → sha256 of its bytes (read anonymously, as dnf does). */
async function treeOf(prefix: string): Promise<Map<string, string>> {
  const tree = new Map<string, string>();
  for (const key of await keys(prefix)) {
    const r = await fetch(`${endpoint}/${BUCKET}/${prefix}${key}`);
    expect(r.status, key).toBe(200);
    tree.set(
      key,
      createHash("sha256")
        .update(Buffer.from(await r.arrayBuffer()))
        .digest("hex"),
    );
  }
  return tree;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "chantal-transfer-s3-"));
  ({ server: s3, endpoint } = await startS3rver(join(scratch, "s3rver"), [BUCKET]));
  const upstream = join(scratch, "upstream");
  await generateRpmRepo(upstream, 6, 30_000, { version: "1.0" });
  a = await startSyncEnvironment({ upstream });
  b = await startSyncEnvironment({ upstream: join(scratch, "nothing-served") });
  useS3StorageAt(a, "sender");
  useS3StorageAt(b, "receiver");
  const key = await generateSigningKey({ name: "Connected mirror", email: "mirror@example.invalid", algorithm: "ed25519" });
  writeFileSync(join(scratch, "export-key.asc"), key.armoredPrivateKey, { mode: 0o600 });
  trusted = join(scratch, "trusted.asc");
  writeFileSync(trusted, key.armoredPublicKey);
  for (const env of [a, b]) {
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(join(env.configDir, "conf.d", "groups.yaml"), GROUPS);
  }
  writeFileSync(join(a.configDir, "conf.d", "export.yaml"), `export:\n  signing:\n    key_file: ${join(scratch, "export-key.asc")}\n`);
  expect((await b.cli("db", "migrate")).code).toBe(0);
  const sync = await a.cli("repo", "sync", "--repo-id", "r1");
  expect(sync.stderr).toBe("");
  expect(sync.code).toBe(0);
  expect((await a.cli("snapshot", "create", "--group", "g", "--name", "g1")).code).toBe(0);
  expect((await a.cli("publish", "snapshot", "r1", "--name", "g1")).code).toBe(0);
}, 180_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await s3?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("export and import with both pools in S3", () => {
  it("exports from the S3 pool into tar volumes; the receiver's S3 pool, snapshot and environment match, and a second import changes nothing", async () => {
    const bundle = join(scratch, "bundle");
    const ex = await a.cli("export", "create", "--group", "g", "--snapshot", "g1", "--output", bundle, "--format", "tar", "--volume-size", "64K", "--json");
    expect(ex.stderr).toBe("");
    expect(ex.code).toBe(0);
    const exported = JSON.parse(ex.stdout) as { blobs_included: number; volumes: unknown[] };
    expect(exported.volumes.length).toBeGreaterThan(1);
    // 6 packages and the repodata files, every one read back from the bucket and hashed.
    expect(exported.blobs_included).toBeGreaterThan(6);

    expect((await b.cli("export", "verify", bundle, "--trust-key", trusted)).code).toBe(0);
    const im = await b.cli("import", bundle, "--trust-key", trusted, "--publish", "--promote-to", "test", "--json");
    expect(im.stderr).toBe("");
    expect(im.code).toBe(0);
    expect(JSON.parse(im.stdout)).toMatchObject({ already_imported: false, snapshots_created: ["r1/g1"], published: ["r1/g1"] });

    // The receiver's pool holds the sender's blobs under the same content addresses.
    const senderPool = (await keys("sender/pool/")).filter((k) => !k.startsWith(".tmp"));
    const receiverPool = await keys("receiver/pool/");
    expect(receiverPool).toEqual(expect.arrayContaining(senderPool.filter((k) => /[0-9a-f]{64}/.test(k))));
    // The published snapshot is byte-identical, and the test environment serves it.
    const mine = await treeOf("sender/published/r1/snapshots/g1/");
    expect([...mine.keys()].some((k) => k.endsWith("repodata/repomd.xml"))).toBe(true);
    expect(await treeOf("receiver/published/r1/snapshots/g1/")).toEqual(mine);
    const served = await treeOf("receiver/published/test/r1/");
    expect(served.get("repodata/repomd.xml")).toBe(mine.get("repodata/repomd.xml"));

    const again = await b.cli("import", bundle, "--trust-key", trusted, "--json");
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ already_imported: true, snapshots_created: [] });
    expect(await keys("receiver/pool/")).toEqual(receiverPool);
  }, 180_000);
});
