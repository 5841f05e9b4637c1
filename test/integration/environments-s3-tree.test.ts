// S3 environment switches against a real S3 endpoint on 127.0.0.1 (s3rver), writes recorded in the order the
// bucket completed them: every member's data before any index, the state document after the last index, deletes
// last; a switch killed after its data phase, a member that leaves, a lost document, a blob missing from the pool.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentDocKey } from "../../core/environments/s3-plan.js";
import { finishS3Switch, prepareS3Switch, readEnvironmentDoc, readS3Environment, type S3EnvironmentMember } from "../../core/environments/s3-tree.js";
import { S3Bucket, type ObjectHeaders, type S3Settings } from "../../core/s3/bucket.js";
import { PublishError } from "../../core/storage/publish.js";
import { S3BlobStore } from "../../core/storage/s3-blob-store.js";
import { startS3rver, useS3rverCredentials } from "../helpers/s3rver.js";

useS3rverCredentials();

const BUCKET = "envs";
const PREFIX = "p";

/** The real bucket, with every write logged as it completes. */
class RecordingBucket extends S3Bucket {
  readonly log: string[] = [];
  override async copy(sourceKey: string, key: string, headers?: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    await super.copy(sourceKey, key, headers, signal);
    this.log.push(`copy ${key.slice(PREFIX.length + 1)}`);
  }
  override async putBytes(key: string, data: Buffer, headers: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    await super.putBytes(key, data, headers, signal);
    this.log.push(`put ${key.slice(PREFIX.length + 1)}`);
  }
  override async deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    await super.deleteKeys(keys, signal);
    for (const k of keys) this.log.push(`delete ${k.slice(PREFIX.length + 1)}`);
  }
}

let dir: string;
let server: S3rver;
let settings: S3Settings;
let n = 0;

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** A fresh store on its own prefix-free environment name, with `files` (path -> content) of each snapshot pooled. */
async function setup(): Promise<{ store: S3BlobStore; bucket: RecordingBucket; env: string; pool: (content: string) => Promise<string> }> {
  const bucket = new RecordingBucket(settings);
  const store = new S3BlobStore(bucket, join(dir, `tmp${++n}`));
  const pool = async (content: string) => {
    await store.ensureTempDir();
    const temp = store.tempPath("t");
    writeFileSync(temp, content);
    const digest = sha(Buffer.from(content));
    await store.adopt(temp, digest);
    return digest;
  };
  return { store, bucket, env: `env${n}`, pool };
}

async function listKeys(bucket: S3Bucket, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of bucket.list(`${PREFIX}/${prefix}`)) out.push(...page.map((o) => o.key.slice(PREFIX.length + 1 + prefix.length)));
  return out.sort();
}

async function text(bucket: S3Bucket, key: string): Promise<string | undefined> {
  return (await bucket.getBytes(`${PREFIX}/${key}`))?.toString("utf8");
}

type Tree = Record<string, string>;
/** Snapshot trees by name: rpm-like (repomd.xml the index). */
function member(pool: (c: string) => Promise<string>, repoId: string, snapshotName: string, tree: Tree | null): S3EnvironmentMember {
  return {
    repoId,
    snapshotName,
    entries: async () => (tree ? Promise.all(Object.entries(tree).map(async ([path, c]) => ({ path, sha256: await pool(c) }))) : null),
  };
}

const A1: Tree = { "Packages/a-1.rpm": "a1", "repodata/x1-primary.xml.gz": "p-a1", "repodata/repomd.xml": "md-a1" };
const A2: Tree = { "Packages/a-2.rpm": "a2", "repodata/x2-primary.xml.gz": "p-a2", "repodata/repomd.xml": "md-a2" };
const A3: Tree = { "Packages/a-3.rpm": "a3", "repodata/x3-primary.xml.gz": "p-a3", "repodata/repomd.xml": "md-a3" };
const B1: Tree = { "Packages/b-1.rpm": "b1", "repodata/repomd.xml": "md-b1" };
const B2: Tree = { "Packages/b-2.rpm": "b2", "repodata/repomd.xml": "md-b2" };

async function switchTo(store: S3BlobStore, env: string, members: S3EnvironmentMember[]) {
  return finishS3Switch(store, await prepareS3Switch(store, env, members));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chantal-envs3-"));
  const started = await startS3rver(join(dir, "s3"), [BUCKET]);
  server = started.server;
  settings = { bucket: BUCKET, prefix: PREFIX, region: "us-east-1", endpoint: started.endpoint, forcePathStyle: true };
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("S3 environment switch", () => {
  it("copies every member's data before any index, writes the document after the last index, deletes last", async () => {
    const { store, bucket, env, pool } = await setup();
    await switchTo(store, env, [member(pool, "a", "1", A1), member(pool, "b", "1", B1)]);
    expect(await text(bucket, `published/${env}/a/repodata/repomd.xml`)).toBe("md-a1");
    await switchTo(store, env, [member(pool, "a", "2", A2), member(pool, "b", "2", B2)]);
    bucket.log.length = 0;
    const result = await switchTo(store, env, [member(pool, "a", "3", A3), member(pool, "b", "1", B1)]);
    const log = bucket.log.filter((l) => !l.includes("/pool/") && !l.startsWith("put pool/"));
    const index = (l: string) => l.endsWith("repomd.xml");
    const firstIndex = log.findIndex((l) => l.startsWith("copy") && index(l));
    const lastData = log.findLastIndex((l) => l.startsWith("copy") && !index(l));
    const docs = log.flatMap((l, i) => (l === `put environments/${env}.json` ? [i] : []));
    // The interim document, then data of both members, then a's and b's index, then the final document, then deletes.
    expect(docs).toHaveLength(2);
    expect(docs[0]).toBeLessThan(log.findIndex((l) => l.startsWith("copy")));
    expect(lastData).toBeLessThan(firstIndex);
    expect(log.filter((l) => l.startsWith("copy") && index(l))).toEqual([
      `copy published/${env}/a/repodata/repomd.xml`,
      `copy published/${env}/b/repodata/repomd.xml`,
    ]);
    expect(docs[1]).toBeGreaterThan(log.findLastIndex((l) => l.startsWith("copy")));
    const deletes = log.flatMap((l, i) => (l.startsWith("delete") ? [i] : []));
    expect(Math.min(...deletes)).toBeGreaterThan(docs[1]!);
    // a: state 1 goes (neither 3 nor 2); b back to 1: its b-1 was kept as the state before 2, nothing of b goes.
    expect(log.filter((l) => l.startsWith("delete")).sort()).toEqual([
      `delete published/${env}/a/Packages/a-1.rpm`,
      `delete published/${env}/a/repodata/x1-primary.xml.gz`,
    ]);
    expect(log).not.toContain(`copy published/${env}/b/Packages/b-1.rpm`);
    expect(result.switched).toEqual(["a", "b"]);
    expect(await listKeys(bucket, `published/${env}/a/`)).toEqual([
      "Packages/a-2.rpm",
      "Packages/a-3.rpm",
      "repodata/repomd.xml",
      "repodata/x2-primary.xml.gz",
      "repodata/x3-primary.xml.gz",
    ]);
    expect(Object.fromEntries(await readS3Environment(store, env))).toEqual({ a: "3", b: "1" });
    // The same state again: one read of the document, nothing written.
    bucket.log.length = 0;
    await switchTo(store, env, [member(pool, "a", "3", A3), member(pool, "b", "1", B1)]);
    expect(bucket.log).toEqual([]);
  });

  it("a switch killed after its data phase leaves the live index; the next switch re-copies what it touched", async () => {
    const { store, bucket, env, pool } = await setup();
    await switchTo(store, env, [member(pool, "a", "1", A1)]);
    await prepareS3Switch(store, env, [member(pool, "a", "2", A2)]); // the process dies before finishS3Switch
    expect(await text(bucket, `published/${env}/a/repodata/repomd.xml`)).toBe("md-a1");
    expect(await text(bucket, `published/${env}/a/Packages/a-2.rpm`)).toBe("a2");
    const doc = await readEnvironmentDoc(store, env);
    expect(doc.current.get("a")!.snapshot).toBe("1");
    expect([...doc.unknown.get("a")!].sort()).toEqual(["Packages/a-2.rpm", "repodata/repomd.xml", "repodata/x2-primary.xml.gz"]);
    // Someone overwrote a key the dead switch was writing: the next switch does not trust it.
    await bucket.putBytes(`${PREFIX}/published/${env}/a/Packages/a-2.rpm`, Buffer.from("garbage"), { contentType: "application/octet-stream" });
    // Staying on state 1 (what the database records) still repairs: the unknown keys are written again.
    bucket.log.length = 0;
    await switchTo(store, env, [member(pool, "a", "1", A1)]);
    expect(bucket.log).toContain(`copy published/${env}/a/repodata/repomd.xml`);
    expect((await readEnvironmentDoc(store, env)).unknown.size).toBe(0);
    await switchTo(store, env, [member(pool, "a", "2", A2)]);
    expect(await text(bucket, `published/${env}/a/Packages/a-2.rpm`)).toBe("a2");
    expect(await text(bucket, `published/${env}/a/repodata/repomd.xml`)).toBe("md-a2");
  });

  it("a member that leaves loses its index at once and its data at the switch after; a lost document costs copies", async () => {
    const { store, bucket, env, pool } = await setup();
    await switchTo(store, env, [member(pool, "a", "1", A1), member(pool, "b", "1", B1)]);
    await switchTo(store, env, [member(pool, "a", "1", A1)]);
    expect(await listKeys(bucket, `published/${env}/b/`)).toEqual(["Packages/b-1.rpm"]);
    expect(Object.fromEntries(await readS3Environment(store, env))).toEqual({ a: "1" });
    await switchTo(store, env, [member(pool, "a", "2", A2)]);
    expect(await listKeys(bucket, `published/${env}/b/`)).toEqual([]);

    await bucket.deleteKeys([environmentDocKey(PREFIX, env)]);
    await bucket.putBytes(`${PREFIX}/published/${env}/a/stray`, Buffer.from("x"), { contentType: "text/plain" });
    await switchTo(store, env, [member(pool, "a", "3", A3)]);
    // Every key of state 3 was copied again; the others (state 2, which the lost document no longer names) go.
    expect(await listKeys(bucket, `published/${env}/a/`)).toEqual(["Packages/a-3.rpm", "repodata/repomd.xml", "repodata/x3-primary.xml.gz"]);
    expect(await text(bucket, `published/${env}/a/repodata/repomd.xml`)).toBe("md-a3");
  });

  it("a blob missing from the pool is refused before anything is copied; a member whose snapshot is gone is left as it is", async () => {
    const { store, bucket, env, pool } = await setup();
    await switchTo(store, env, [member(pool, "a", "1", A1), member(pool, "b", "1", B1)]);
    const gone = await pool("b2");
    await store.remove(gone);
    bucket.log.length = 0;
    const missing: S3EnvironmentMember = {
      repoId: "b",
      snapshotName: "2",
      entries: async () => [
        { path: "Packages/b-2.rpm", sha256: gone },
        { path: "repodata/repomd.xml", sha256: await pool("md-b2") },
      ],
    };
    await expect(prepareS3Switch(store, env, [member(pool, "a", "2", A2), missing])).rejects.toThrow(PublishError);
    await expect(prepareS3Switch(store, env, [member(pool, "a", "2", A2), missing])).rejects.toThrow(/missing from the pool .*Packages\/b-2\.rpm/);
    expect(bucket.log.filter((l) => !l.startsWith("put pool/"))).toEqual([]);
    // b's snapshot row is gone (a forced delete): b keeps serving what it serves; a switches.
    await switchTo(store, env, [member(pool, "a", "2", A2), member(pool, "b", "2", null)]);
    expect(Object.fromEntries(await readS3Environment(store, env))).toEqual({ a: "2", b: "1" });
    expect(await text(bucket, `published/${env}/b/repodata/repomd.xml`)).toBe("md-b1");
  });
});
