// Backups in S3 against a real S3 endpoint on 127.0.0.1 (s3rver): streaming multipart upload, list, verify, info,
// restore from the URL, and retention applied in the bucket. The AWS SDK never reaches AWS.
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { createBackup } from "../../core/backup/create.js";
import { loadConfig } from "../../core/config/load.js";
import { silentLogger } from "../../core/log.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_ACCESS_KEY_ID = "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
delete process.env.AWS_PROFILE;

let env: SyncEnvironment;
let upstream: string;
let s3dir: string;
let server: S3rver;
let endpoint: string;

beforeAll(async () => {
  s3dir = mkdtempSync(join(tmpdir(), "chantal-s3rver-"));
  server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: s3dir, configureBuckets: [{ name: "backups" }] });
  const addr = await server.run();
  endpoint = `http://127.0.0.1:${addr.port}`;
  upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
  await generateRpmRepo(upstream, 5, 1_024);
  env = await startSyncEnvironment({ upstream });
  appendFileSync(join(env.configDir, "config.yaml"), `backup:\n  s3:\n    endpoint: ${endpoint}\n    region: us-east-1\n    force_path_style: true\n`);
});
afterAll(async () => {
  await env?.close();
  await server?.close();
  rmSync(s3dir, { recursive: true, force: true });
  rmSync(upstream, { recursive: true, force: true });
});

async function keys(prefix: string): Promise<string[]> {
  const c = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
  try {
    const r = await c.send(new ListObjectsV2Command({ Bucket: "backups", Prefix: prefix }));
    return (r.Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    c.destroy();
  }
}

describe("backups in S3 (s3rver on 127.0.0.1)", () => {
  it("backs up, lists, verifies, shows and restores from an s3:// URL", async () => {
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    const b = await env.cli("db", "backup", "--target", "s3://backups/site-a/chantal", "--json");
    expect(b.code, b.stderr).toBe(0);
    const result = JSON.parse(b.stdout);
    expect(result.location).toMatch(/^s3:\/\/backups\/site-a\/chantal\/chantal-backup-\d{8}-\d{6}\.tar\.gz$/);
    expect(result.counts).toMatchObject({ repositories: 1, packages: 5 });
    expect(await keys("site-a/")).toEqual([result.location.slice("s3://backups/".length)]);

    const list = await env.cli("db", "backup-list", "--target", "s3://backups/site-a/chantal");
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/chantal-backup-\d{8}-\d{6}\.tar\.gz .* 5 +0\d{3}_\w+ +ok/);
    const verify = await env.cli("db", "backup-verify", result.location);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toMatch(/✓ database.sql.gz sha256/);
    const info = await env.cli("db", "backup-info", result.location);
    expect(info.stdout).toMatch(/contents: +1 repositories, 5 packages, 0 snapshots/);

    await env.pg.query(`DELETE FROM chantal.repositories`);
    const r = await env.cli("db", "restore", result.location, "--yes", "--no-restore-config");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/configuration unchanged/);
    const n = await env.pg.query(`SELECT count(*)::int AS n FROM chantal.repository_packages`);
    expect(n.rows[0].n).toBe(5);

    const missing = await env.cli("db", "backup-info", "s3://backups/site-a/chantal/nope.tar.gz");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read s3:\/\/backups\/site-a\/chantal\/nope.tar.gz: NoSuchKey/);
  });

  it("applies retention in the bucket after each backup", async () => {
    const loaded = await loadConfig({ configDir: env.configDir });
    const config = { ...loaded.config, backup: { ...loaded.config.backup, retention: { keep_last: 1, keep_daily: 2 } } };
    const ctx = { config, configDir: env.configDir, databaseUrl: env.db.url, log: silentLogger(), signal: new AbortController().signal };
    const times = ["2024-02-01T08:00:00Z", "2024-02-01T20:00:00Z", "2024-02-02T08:00:00Z", "2024-02-03T08:00:00Z"];
    let last: Awaited<ReturnType<typeof createBackup>> | undefined;
    for (const t of times) last = await createBackup({ target: "s3://backups/ret", includeConfig: true, compress: true }, { ...ctx, now: () => new Date(t) });
    // keep_daily 2: the newest of 02-03 and of 02-02; keep_last 1: 02-03
    expect(await keys("ret/")).toEqual(["ret/chantal-backup-20240202-080000.tar.gz", "ret/chantal-backup-20240203-080000.tar.gz"]);
    expect(last!.prune!.deleted.sort()).toEqual(["chantal-backup-20240201-200000.tar.gz"]);
    const dry = await env.cli("db", "backup-list", "--target", "s3://backups/ret", "--json");
    expect(JSON.parse(dry.stdout).map((b: { name: string }) => b.name)).toEqual([
      "chantal-backup-20240203-080000.tar.gz",
      "chantal-backup-20240202-080000.tar.gz",
    ]);
  });
});
