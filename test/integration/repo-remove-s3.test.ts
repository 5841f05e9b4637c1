// repo remove and publish remove with storage.backend s3 (a real S3 endpoint on 127.0.0.1, s3rver), through the real CLI.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { listS3Keys, startS3rver, useS3rverCredentials } from "../helpers/s3rver.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

useS3rverCredentials();

const BUCKET = "chantal-remove";
const PREFIX = "m";

let scratch: string;
let s3: S3rver;
let endpoint: string;
let env: SyncEnvironment;

async function keys(prefix: string): Promise<string[]> {
  return (await listS3Keys(endpoint, BUCKET, `${PREFIX}/${prefix}`)).map((k) => k.slice(PREFIX.length + 1));
}

function configure(...ids: string[]): void {
  const repos = ids.map((id) => `  - id: ${id}\n    type: rpm\n    upstream_url: ${env.server.url}/\n`).join("");
  writeFileSync(
    join(env.configDir, "config.yaml"),
    `storage:\n  base_path: ${env.base}\n  backend: s3\n  s3:\n    bucket: ${BUCKET}\n    prefix: ${PREFIX}\n    region: us-east-1\n    endpoint: ${endpoint}\n    force_path_style: true\n` +
      `database:\n  url: ${env.db.url}\nrepositories:\n${repos}`,
  );
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "chantal-remove-s3-"));
  ({ server: s3, endpoint } = await startS3rver(join(scratch, "s3rver"), [BUCKET]));
  await generateRpmRepo(join(scratch, "up"), 4, 1_000);
  env = await startSyncEnvironment({ upstream: join(scratch, "up") });
  configure("r1", "r2");
  for (const id of ["r1", "r2"]) expect((await env.cli("repo", "sync", "--repo-id", id)).code).toBe(0);
  expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "s1", "--publish")).code).toBe(0);
}, 180_000);

afterAll(async () => {
  await env?.close();
  await s3?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("on S3", () => {
  it("publish remove deletes one tree's objects; repo remove deletes every published object of the repository and keeps the pool", async () => {
    const pool = await keys("pool/");
    expect(pool.length).toBeGreaterThan(4);
    expect(await keys("published/r2/latest/")).toContain("published/r2/latest/repodata/repomd.xml");

    const one = await env.cli("publish", "remove", "--repo-id", "r2");
    expect(one.code, one.stderr).toBe(0);
    expect(await keys("published/r2/latest/")).toEqual([]);

    expect((await keys("published/r1/snapshots/s1/")).length).toBeGreaterThan(4);
    configure("r2");
    const r = await env.cli("repo", "remove", "--repo-id", "r1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/unpublished latest, snapshots\/s1/);
    // Nothing of r1 is left in the bucket, its manifests included; every pooled blob stays.
    expect((await keys("")).filter((k) => k.includes("r1"))).toEqual([]);
    expect(await keys("pool/")).toEqual(pool);
  });
});
