// The S3 pool and publisher against a real S3 endpoint on 127.0.0.1 (s3rver): uploads (single and multipart),
// existence checks by HEAD and by listing, reads, and a publish whose writes are recorded in the order the
// bucket saw them complete: data, then the index files, then the deletes.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PoolError } from "../../core/storage/blob-store.js";
import { PublishError } from "../../core/storage/publish.js";
import { S3BlobStore } from "../../core/storage/s3-blob-store.js";
import { S3Bucket, type ObjectHeaders, type S3Settings } from "../../core/s3/bucket.js";
import { S3Error } from "../../core/s3/errors.js";
import { publishS3Tree, unpublishS3Tree } from "../../core/storage/s3-publish.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_ACCESS_KEY_ID = "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
delete process.env.AWS_PROFILE;

const BUCKET = "mirror";
const A_SHA = "a".repeat(64);

/** The real bucket, with every write logged as it completes. */
class RecordingBucket extends S3Bucket {
  readonly log: string[] = [];
  afterCopy?: (key: string) => void;
  override async copy(sourceKey: string, key: string, headers?: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    await super.copy(sourceKey, key, headers, signal);
    this.log.push(`copy ${key}`);
    this.afterCopy?.(key);
  }
  override async putBytes(key: string, data: Buffer, headers: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    await super.putBytes(key, data, headers, signal);
    this.log.push(`put ${key}`);
  }
  override async deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    await super.deleteKeys(keys, signal);
    for (const k of keys) this.log.push(`delete ${k}`);
  }
}

let dir: string;
let server: S3rver;
let endpoint: string;
let settings: S3Settings;

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function listKeys(bucket: S3Bucket, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of bucket.list(prefix)) out.push(...page.map((o) => o.key));
  return out.sort();
}

async function pooled(store: S3BlobStore, data: Buffer): Promise<string> {
  await store.ensureTempDir();
  const temp = store.tempPath("t");
  writeFileSync(temp, data);
  const digest = sha(data);
  await store.adopt(temp, digest);
  expect(existsSync(temp)).toBe(false);
  return digest;
}

async function readAll(store: S3BlobStore, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of store.openRead(digest)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chantal-s3store-"));
  server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: join(dir, "s3"), configureBuckets: [{ name: BUCKET }] });
  const addr = await server.run();
  endpoint = `http://127.0.0.1:${addr.port}`;
  settings = { bucket: BUCKET, prefix: "site/a", region: "us-east-1", endpoint, forcePathStyle: true };
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("S3BlobStore", () => {
  it("uploads a verified temp file to its content-addressed key, reads it back, sizes and removes it", async () => {
    const store = new S3BlobStore(new S3Bucket(settings), join(dir, "tmp1"));
    const data = Buffer.from("hello pool");
    const digest = await pooled(store, data);
    expect(await listKeys(store.bucket, "site/a/pool/")).toContain(`site/a/pool/${digest.slice(0, 2)}/${digest.slice(2, 4)}/${digest}`);
    expect(await store.has(digest)).toBe(true);
    expect(await store.sizeOf(digest)).toBe(data.length);
    expect(await readAll(store, digest)).toEqual(data);
    await store.remove(digest);
    expect(await store.has(digest)).toBe(false);
    expect(await store.sizeOf(digest)).toBeUndefined();
    await expect(readAll(store, digest)).rejects.toThrow(PoolError);
    await expect(readAll(store, digest)).rejects.toThrow(/is missing from the pool s3:\/\/mirror\/site\/a\/pool\//);
  });

  it("a missing bucket or an unreachable endpoint is an error naming it, never an empty pool", async () => {
    const missing = new S3BlobStore(new S3Bucket({ ...settings, bucket: "no-such-bucket" }), join(dir, "tmp0"));
    await expect(missing.has(A_SHA)).rejects.toThrow(`bucket no-such-bucket at ${endpoint}/ does not exist: check storage.s3.bucket`);
    await expect(missing.haveMany([A_SHA])).rejects.toThrow(S3Error);
    const closed = new S3BlobStore(new S3Bucket({ ...settings, endpoint: "http://127.0.0.1:9" }), join(dir, "tmp0"));
    await expect(closed.has(A_SHA)).rejects.toThrow(/cannot reach bucket mirror at http:\/\/127\.0\.0\.1:9\/: .*ECONNREFUSED/);
  });

  it("uploads a large file in parts and reads back the same bytes", async () => {
    const store = new S3BlobStore(new S3Bucket(settings), join(dir, "tmp2"));
    const data = randomBytes(19 * 1024 * 1024);
    const digest = await pooled(store, data);
    expect(await store.sizeOf(digest)).toBe(data.length);
    expect(sha(await readAll(store, digest))).toBe(digest);
  });

  it("finds the same blobs by HEAD and by listing the <aa>/ prefixes", async () => {
    const byHead = new S3BlobStore(new S3Bucket(settings), join(dir, "tmp3"));
    const byList = new S3BlobStore(new S3Bucket(settings), join(dir, "tmp3"), 2);
    const stored = [];
    for (let i = 0; i < 12; i++) stored.push(await pooled(byHead, Buffer.from(`blob ${i}`)));
    const absent = Array.from({ length: 5 }, (_, i) => sha(Buffer.from(`absent ${i}`)));
    const asked = [...stored.slice(0, 9), ...absent, stored[0]!.toUpperCase()];
    const expected = new Set(stored.slice(0, 9));
    expect(await byHead.haveMany(asked)).toEqual(expected);
    expect(await byList.haveMany(asked)).toEqual(expected);
    expect(await byList.haveMany([])).toEqual(new Set());
  });
});

describe("publishing a tree in the bucket", () => {
  const PREFIX = "site/a/published/r1/latest/";

  it("copies data, then the index, then deletes; an unchanged file is not copied again; anyone can GET it", async () => {
    const bucket = new RecordingBucket(settings);
    const store = new S3BlobStore(bucket, join(dir, "tmp4"));
    const blob = async (s: string) => pooled(store, Buffer.from(s));
    const v1 = [
      { path: "repodata/repomd.xml", sha256: await blob("repomd v1") },
      { path: "repodata/repomd.xml.asc", sha256: await blob("sig v1") },
      { path: "repodata/aa-primary.xml.gz", sha256: await blob("primary v1") },
      { path: "Packages/alpha-1.0.rpm", sha256: await blob("alpha 1.0") },
      { path: "Packages/libstdc++-11.rpm", sha256: await blob("libstdc++ 11") },
      { path: "repodata/comps.xml", sha256: await blob("comps v1") },
    ];
    const first = await publishS3Tree(store, { repoId: "r1", name: "latest", entries: v1 });
    expect(first).toMatchObject({ path: `s3://mirror/${PREFIX}`, files: 6, copied: 7, deleted: 0, unchanged: 0 });
    expect(await listKeys(bucket, PREFIX)).toEqual(
      [
        "Packages/alpha-1.0.rpm",
        "Packages/libstdc  -11.rpm",
        "Packages/libstdc++-11.rpm",
        "repodata/aa-primary.xml.gz",
        "repodata/comps.xml",
        "repodata/repomd.xml",
        "repodata/repomd.xml.asc",
      ].map((p) => PREFIX + p),
    );
    // served to anonymous clients by path (a '+' sent as is, or as %2B)
    const get = (p: string) => fetch(`${endpoint}/mirror/${PREFIX}${p}`);
    expect(await (await get("repodata/repomd.xml")).text()).toBe("repomd v1");
    expect((await get("repodata/repomd.xml")).headers.get("cache-control")).toBe("no-cache");
    expect((await get("Packages/alpha-1.0.rpm")).headers.get("cache-control")).toBeNull();
    expect(await (await get("Packages/libstdc%2B%2B-11.rpm")).text()).toBe("libstdc++ 11");
    expect(await (await get("Packages/libstdc%20%20-11.rpm")).text()).toBe("libstdc++ 11");

    bucket.log.length = 0;
    const v2 = [
      { path: "repodata/repomd.xml", sha256: await blob("repomd v2") },
      { path: "repodata/repomd.xml.asc", sha256: await blob("sig v2") },
      { path: "repodata/bb-primary.xml.gz", sha256: await blob("primary v2") },
      { path: "Packages/alpha-1.0.rpm", sha256: v1[3]!.sha256 },
      { path: "Packages/beta-2.0.rpm", sha256: await blob("beta 2.0") },
      { path: "repodata/comps.xml", sha256: await blob("comps v2") },
    ];
    const second = await publishS3Tree(store, { repoId: "r1", name: "latest", entries: v2 });
    expect(second).toMatchObject({ copied: 5, deleted: 3, unchanged: 1 });
    const manifest = "put site/a/manifests/r1/latest.json";
    expect(bucket.log[0]).toBe(manifest);
    expect(bucket.log.slice(1, 3).sort()).toEqual([`copy ${PREFIX}Packages/beta-2.0.rpm`, `copy ${PREFIX}repodata/bb-primary.xml.gz`]);
    expect(bucket.log.slice(3)).toEqual([
      `copy ${PREFIX}repodata/comps.xml`,
      `copy ${PREFIX}repodata/repomd.xml.asc`,
      `copy ${PREFIX}repodata/repomd.xml`,
      manifest,
      `delete ${PREFIX}Packages/libstdc  -11.rpm`,
      `delete ${PREFIX}Packages/libstdc++-11.rpm`,
      `delete ${PREFIX}repodata/aa-primary.xml.gz`,
    ]);
    expect(await (await get("repodata/repomd.xml")).text()).toBe("repomd v2");
    expect((await get("repodata/aa-primary.xml.gz")).status).toBe(404);

    bucket.log.length = 0;
    expect(await publishS3Tree(store, { repoId: "r1", name: "latest", entries: v2 })).toMatchObject({ copied: 0, deleted: 0, unchanged: 6 });
    expect(bucket.log).toEqual([]);
  });

  it("refuses to publish when the pool lacks a blob, and writes nothing", async () => {
    const bucket = new RecordingBucket(settings);
    const store = new S3BlobStore(bucket, join(dir, "tmp5"));
    const present = await pooled(store, Buffer.from("present"));
    const entries = [
      { path: "dists/s/InRelease", sha256: present },
      { path: "pool/main/x.deb", sha256: sha(Buffer.from("never pooled")) },
    ];
    const err = await publishS3Tree(store, { repoId: "deb", name: "latest", entries }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect((err as Error).message).toMatch(/1 file\(s\) are missing from the pool s3:\/\/mirror\/site\/a\/pool\/, e\.g\. pool\/main\/x\.deb/);
    expect(bucket.log).toEqual([]);
  });

  it("an abort during the data copies stops before any index is written; unpublish removes the index first", async () => {
    const bucket = new RecordingBucket(settings);
    const store = new S3BlobStore(bucket, join(dir, "tmp6"));
    const entries = [
      { path: "dists/s/InRelease", sha256: await pooled(store, Buffer.from("inrelease")) },
      { path: "dists/s/main/binary-amd64/Packages", sha256: await pooled(store, Buffer.from("packages")) },
      ...(await Promise.all(Array.from({ length: 80 }, async (_, i) => ({ path: `pool/main/p${i}.deb`, sha256: await pooled(store, Buffer.from(`p${i}`)) })))),
    ];
    const stop = new AbortController();
    bucket.afterCopy = () => stop.abort(new Error("SIGTERM"));
    await expect(publishS3Tree(store, { repoId: "deb", name: "snapshots/v1", entries, signal: stop.signal })).rejects.toThrow("SIGTERM");
    const copied = bucket.log.filter((l) => l.startsWith("copy"));
    expect(copied.length).toBeGreaterThan(0);
    expect(copied.length).toBeLessThan(81);
    expect(await listKeys(bucket, "site/a/published/deb/snapshots/v1/dists/s/In")).toEqual([]);

    bucket.afterCopy = undefined;
    bucket.log.length = 0;
    expect(await publishS3Tree(store, { repoId: "deb", name: "snapshots/v1", entries })).toMatchObject({ copied: 82, deleted: 0 });
    expect(bucket.log.at(-2)).toBe("copy site/a/published/deb/snapshots/v1/dists/s/InRelease");
    bucket.log.length = 0;
    expect(await unpublishS3Tree(store, "deb", "snapshots/v1")).toBe(true);
    expect(bucket.log[0]).toBe("delete site/a/published/deb/snapshots/v1/dists/s/InRelease");
    expect(bucket.log.at(-1)).toBe("delete site/a/manifests/deb/snapshots/v1.json");
    expect(await listKeys(bucket, "site/a/published/deb/snapshots/v1/")).toEqual([]);
    expect(await unpublishS3Tree(store, "deb", "snapshots/v1")).toBe(false);
  });
});
