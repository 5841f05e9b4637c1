// Published trees in the bucket, by server-side copy from the pool (no bytes pass through this host). The
// order of writes keeps the tree usable throughout (see s3-layout.ts): new data, replaced data, the index
// files, then the deletes. The index phase is not interrupted by a signal: it is a handful of requests, and
// stopping half-way through it would leave a signature that does not match its index.
import { setMaxListeners } from "node:events";
import type { TreeEntry } from "../db/package-sets.js";
import { forEachLimited } from "../concurrency.js";
import { PublishError, type PublishResult } from "./publish.js";
import type { S3BlobStore } from "./s3-blob-store.js";
import type { ObjectHeaders } from "../s3/bucket.js";
import {
  cacheControlFor,
  manifestKeyOf,
  repoFileKeyOf,
  parseManifest,
  planTreeUpdate,
  serializeManifest,
  treeKeyPrefix,
  unpublishOrder,
  type TreeFile,
} from "./s3-layout.js";

const COPY_CONCURRENCY = 32;
const MANIFEST_HEADERS = { contentType: "application/json" };

export interface S3PublishRequest {
  repoId: string;
  /** `latest` or `snapshots/<name>`. */
  name: string;
  entries: readonly TreeEntry[];
  signal?: AbortSignal;
}

export interface S3PublishResult extends PublishResult {
  copied: number;
  deleted: number;
  unchanged: number;
}

/** Metadata gets its own headers (so the copy replaces the pool object's); a package keeps the pool object's. */
export function headersFor(path: string): ObjectHeaders | undefined {
  const cacheControl = cacheControlFor(path);
  return cacheControl ? { contentType: "application/octet-stream", cacheControl } : undefined;
}

async function listTree(store: S3BlobStore, treePrefix: string, signal?: AbortSignal): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of store.bucket.list(treePrefix, signal)) for (const o of page) keys.push(o.key);
  return keys;
}

/** Refuse before any copy when the pool lacks a file the tree needs. */
export async function checkPool(store: S3BlobStore, copies: readonly TreeFile[]): Promise<void> {
  const present = await store.haveMany(copies.map((f) => f.sha256));
  const missing = copies.filter((f) => !present.has(f.sha256));
  if (missing.length > 0) {
    const examples = missing.slice(0, 3).map((f) => `${f.path} (${f.sha256})`);
    throw new PublishError(
      `${missing.length} file(s) are missing from the pool ${store.location}, e.g. ${examples.join(", ")}: run "repo sync" to fetch them again`,
    );
  }
}

/** Bring the tree at <prefix>/published/<repo-id>/<name>/ to exactly `entries`. */
export async function publishS3Tree(store: S3BlobStore, req: S3PublishRequest): Promise<S3PublishResult> {
  const { bucket } = store;
  const signal = req.signal ? AbortSignal.any([req.signal]) : undefined;
  // Every copy in flight listens on it: not a leak.
  if (signal) setMaxListeners(COPY_CONCURRENCY * 2, signal);
  const treePrefix = treeKeyPrefix(bucket.settings.prefix, req.repoId, req.name);
  const manifestKey = manifestKeyOf(bucket.settings.prefix, req.repoId, req.name);
  const present = new Set((await listTree(store, treePrefix, signal)).map((k) => k.slice(treePrefix.length)));
  const previous = parseManifest(await bucket.getBytes(manifestKey, signal));
  const plan = planTreeUpdate(req.entries, present, previous);
  const copies = [...plan.data, ...plan.replaced, ...plan.indexes];
  await checkPool(store, copies);
  const copy = (f: TreeFile, s?: AbortSignal) => bucket.copy(store.keyOf(f.sha256), treePrefix + f.path, headersFor(f.path), s);

  if (copies.length > 0) await bucket.putBytes(manifestKey, serializeManifest(plan.interim), MANIFEST_HEADERS, signal);
  await forEachLimited(plan.data, COPY_CONCURRENCY, (f) => copy(f, signal), signal);
  await forEachLimited(plan.replaced, COPY_CONCURRENCY, (f) => copy(f, signal), signal);
  signal?.throwIfAborted();
  for (const f of plan.indexes) await copy(f);
  const finished = serializeManifest(plan.manifest);
  if (copies.length > 0 || plan.stale.length > 0 || !finished.equals(serializeManifest(previous)))
    await bucket.putBytes(manifestKey, finished, MANIFEST_HEADERS);
  // Clients that read the previous index a moment ago may still ask for these: they go last.
  await bucket.deleteKeys(
    plan.stale.map((p) => treePrefix + p),
    signal,
  );
  return { path: bucket.url(treePrefix), files: req.entries.length, copied: copies.length, deleted: plan.stale.length, unchanged: plan.unchanged };
}

/** Remove a published tree: its index files first (clients stop finding it), then the rest, then its manifest. */
export async function unpublishS3Tree(store: S3BlobStore, repoId: string, name: string, signal?: AbortSignal): Promise<boolean> {
  const { bucket } = store;
  const treePrefix = treeKeyPrefix(bucket.settings.prefix, repoId, name);
  const keys = await listTree(store, treePrefix, signal);
  const { indexes, rest } = unpublishOrder(keys, treePrefix);
  for (const key of indexes) await bucket.deleteKeys([key], signal);
  await bucket.deleteKeys(rest, signal);
  await bucket.deleteKeys([manifestKeyOf(bucket.settings.prefix, repoId, name)], signal);
  return keys.length > 0;
}

/** A file beside the repository's trees (the mirror's public key), put in one request (S3 replaces an object atomically); false when unchanged. */
export async function publishS3RepoFile(store: S3BlobStore, repoId: string, fileName: string, data: Uint8Array, contentType: string): Promise<boolean> {
  const key = repoFileKeyOf(store.bucket.settings.prefix, repoId, fileName);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if ((await store.bucket.getBytes(key))?.equals(bytes)) return false;
  await store.bucket.putBytes(key, bytes, { contentType, cacheControl: "no-cache" });
  return true;
}
