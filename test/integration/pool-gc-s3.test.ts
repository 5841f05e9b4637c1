// pool gc with storage.backend s3 (s3rver on 127.0.0.1), through the real CLI: listed by <aa>/ prefix, deleted in batches.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

// The CLI child processes inherit these: S3rver's fixed credentials, and never the instance metadata service.
process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_ACCESS_KEY_ID = "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
process.env.AWS_REGION = "us-east-1";
delete process.env.AWS_PROFILE;

const BUCKET = "chantal-gc";
const PREFIX = "m";

let scratch: string;
let s3: S3rver;
let endpoint: string;
let env: SyncEnvironment;
let client: S3Client;

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/${prefix}`, ContinuationToken: token }));
    out.push(...(r.Contents ?? []).map((o) => o.Key!.slice(PREFIX.length + 1)));
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}

/** pool/<aa>/<bb>/<sha256> of every blob the database has a row for. */
async function recordedKeys(): Promise<string[]> {
  const r = await env.pg.query(`SELECT sha256 FROM chantal.packages UNION SELECT sha256 FROM chantal.metadata_files`);
  return r.rows
    .map((row) => (row.sha256 as string).trim())
    .map((s) => `pool/${s.slice(0, 2)}/${s.slice(2, 4)}/${s}`)
    .sort();
}

async function gc(...args: string[]) {
  const r = await env.cli("pool", "gc", "--json", ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "chantal-gc-s3-"));
  s3 = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: join(scratch, "s3rver"), configureBuckets: [{ name: BUCKET }] });
  endpoint = `http://127.0.0.1:${(await s3.run()).port}`;
  client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
  const up = join(scratch, "up");
  await generateRpmRepo(up, 4, 1_000);
  env = await startSyncEnvironment({ upstream: up });
  writeFileSync(
    join(env.configDir, "config.yaml"),
    `storage:\n  base_path: ${env.base}\n  backend: s3\n  s3:\n    bucket: ${BUCKET}\n    prefix: ${PREFIX}\n    region: us-east-1\n    endpoint: ${endpoint}\n    force_path_style: true\n` +
      `database:\n  url: ${env.db.url}\nrepositories:\n  - id: r1\n    type: rpm\n    upstream_url: ${env.server.url}/\n`,
  );
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "s1", "--publish")).code).toBe(0);
  rmSync(up, { recursive: true, force: true });
  mkdirSync(up);
  await generateRpmRepo(up, 4, 1_000, { first: 2 });
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
}, 180_000);

afterAll(async () => {
  client?.destroy();
  await env?.close();
  await s3?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("pool gc on S3", () => {
  it("deletes a stray object, keeps what the snapshot needs, then deletes the deleted snapshot's blobs", async () => {
    const stray = "ef".repeat(32);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/pool/ef/ef/${stray}`, Body: "stray" }));
    expect(await keys("pool/")).toEqual([...(await recordedKeys()), `pool/ef/ef/${stray}`].sort());

    const dry = await gc("--dry-run", "--protect-minutes", "0");
    expect(dry).toMatchObject({ dry_run: true, freed: { blobs: 1, bytes: 5 } });
    expect(dry.location).toMatch(/^s3:\/\/chantal-gc\/m\/pool\/$/);
    expect(await keys(`pool/ef/`)).toHaveLength(1);
    expect(await gc("--protect-minutes", "0")).toMatchObject({ freed: { blobs: 1 }, rows: { packages: 0, metadata: 0 } });
    expect(await keys("pool/")).toEqual(await recordedKeys());

    expect((await env.cli("snapshot", "delete", "--repo-id", "r1", "--name", "s1", "--force")).code).toBe(0);
    const r = await gc("--protect-minutes", "0");
    expect(r.rows.packages).toBe(2);
    expect(r.freed.blobs).toBe(2 + r.rows.metadata);
    expect(await keys("pool/")).toEqual(await recordedKeys());
    const verify = await env.cli("pool", "verify", "--deep");
    expect(verify.code, verify.stdout).toBe(0);
    // storage usage reads the bucket the same way: the pool is exactly what the database records; no free space on S3.
    const usage = await env.cli("storage", "usage", "--json");
    expect(usage.code, usage.stderr).toBe(0);
    const u = JSON.parse(usage.stdout);
    expect(u.pool.blobs).toBe((await recordedKeys()).length);
    expect(u).toMatchObject({ free_bytes: null, reclaimable: { blobs: 0 }, referenced: { blobs: u.pool.blobs } });
    // The published latest is complete (its objects are copies, never the pool's).
    expect(await keys("published/r1/latest/")).toContain("published/r1/latest/repodata/repomd.xml");
  });
});
