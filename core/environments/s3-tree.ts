// Environment trees in an S3 bucket: each member's tree copied server-side from the pool to
// <prefix>/published/<env>/<repo-id>/, switched in the order s3-plan.ts describes (all data first, then each
// member's index files in one tight phase, then the state document, then the deletes of what no kept state uses).
import { setMaxListeners } from "node:events";
import type { TreeEntry } from "../db/package-sets.js";
import { forEachLimited } from "../concurrency.js";
import type { S3BlobStore } from "../storage/s3-blob-store.js";
import { checkPool, headersFor } from "../storage/s3-publish.js";
import type { TreeFile } from "../storage/s3-layout.js";
import {
  droppedMembers,
  environmentDocKey,
  environmentPrefix,
  environmentTreePrefix,
  finalDoc,
  interimDoc,
  needsSwitch,
  parseDoc,
  planMember,
  serializeDoc,
  type EnvironmentDoc,
  type MemberPlan,
} from "./s3-plan.js";

const COPY_CONCURRENCY = 32;
const DOC_HEADERS = { contentType: "application/json" };

export interface S3EnvironmentMember {
  repoId: string;
  snapshotName: string;
  /** The snapshot's tree; null when its row is gone (a forced delete): the member is then left as it is. */
  entries: () => Promise<readonly TreeEntry[] | null>;
}

export interface S3SwitchResult {
  /** s3:// URL of <prefix>/published/<env>/. */
  path: string;
  switched: string[];
  copied: number;
  deleted: number;
}

/** A switch with its data copied: what is left is the tight index phase (finishS3Switch). */
export interface PreparedS3Switch {
  environment: string;
  doc: EnvironmentDoc;
  plans: MemberPlan[];
  dropped: string[];
}

async function listKeys(store: S3BlobStore, prefix: string, signal?: AbortSignal): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of store.bucket.list(prefix, signal)) for (const o of page) keys.push(o.key);
  return keys;
}

export async function readEnvironmentDoc(store: S3BlobStore, environment: string, signal?: AbortSignal): Promise<EnvironmentDoc> {
  return parseDoc(await store.bucket.getBytes(environmentDocKey(store.bucket.settings.prefix, environment), signal));
}

function copier(store: S3BlobStore, environment: string) {
  const prefix = store.bucket.settings.prefix;
  return (repoId: string, f: TreeFile, signal?: AbortSignal) =>
    store.bucket.copy(store.keyOf(f.sha256), environmentTreePrefix(prefix, environment, repoId) + f.path, headersFor(f.path), signal);
}

/**
 * Plan the switch of `environment` to serve exactly `members` and copy every changed member's new data files
 * (interruptible: nothing live names them yet). The state document is marked first, so a kill from here on makes
 * the next switch copy the touched paths again. `verify` also lists members that need no switch and re-copies
 * those missing a key their state names.
 */
export async function prepareS3Switch(
  store: S3BlobStore,
  environment: string,
  members: readonly S3EnvironmentMember[],
  signal?: AbortSignal,
  opts: { verify?: boolean } = {},
): Promise<PreparedS3Switch> {
  const { bucket } = store;
  const prefix = bucket.settings.prefix;
  const doc = await readEnvironmentDoc(store, environment, signal);
  const served = new Set(members.map((m) => m.repoId));
  const plans: MemberPlan[] = [];
  const present = async (repoId: string) => {
    const p = environmentTreePrefix(prefix, environment, repoId);
    return new Set((await listKeys(store, p, signal)).map((k) => k.slice(p.length)));
  };
  for (const m of members) {
    let keys: Set<string> | undefined;
    if (!needsSwitch(doc, m.repoId, m.snapshotName)) {
      // verify: a member whose document is intact is re-copied only when a key it names is gone (one listing).
      if (!opts.verify) continue;
      keys = await present(m.repoId);
      const files = doc.current.get(m.repoId)!.files;
      if ([...files.keys()].every((path) => keys!.has(path))) continue;
    }
    const entries = await m.entries();
    if (entries === null) continue;
    plans.push(planMember(m.repoId, { snapshot: m.snapshotName, entries }, keys ?? (await present(m.repoId)), doc));
  }
  for (const repoId of [...doc.current.keys()].filter((r) => !served.has(r)).sort()) plans.push(planMember(repoId, null, await present(repoId), doc));
  const dropped = droppedMembers(doc, served);
  await checkPool(
    store,
    plans.flatMap((p) => [...p.data, ...p.replaced, ...p.indexes]),
  );
  const copying = plans.some((p) => p.data.length + p.replaced.length + p.indexes.length > 0);
  if (copying) await bucket.putBytes(environmentDocKey(prefix, environment), serializeDoc(interimDoc(doc, plans)), DOC_HEADERS, signal);
  const s = signal ? AbortSignal.any([signal]) : undefined;
  // Every copy in flight listens on it: not a leak.
  if (s) setMaxListeners(COPY_CONCURRENCY * 2, s);
  const copy = copier(store, environment);
  await forEachLimited(
    plans.flatMap((p) => p.data.map((f) => ({ repoId: p.repoId, f }))),
    COPY_CONCURRENCY,
    ({ repoId, f }) => copy(repoId, f, s),
    s,
  );
  signal?.throwIfAborted();
  return { environment, doc, plans, dropped };
}

/**
 * The tight phase, not interrupted by a signal (a handful of requests per member; stopping inside it would leave
 * a member's signature beside another index): member after member its rewritten data, then its index files; then
 * the state document; then the deletes of keys that neither the new state nor the one before it uses.
 */
export async function finishS3Switch(store: S3BlobStore, prepared: PreparedS3Switch): Promise<S3SwitchResult> {
  const { bucket } = store;
  const prefix = bucket.settings.prefix;
  const { environment, doc, plans, dropped } = prepared;
  const copy = copier(store, environment);
  let copied = 0;
  for (const p of plans) {
    await forEachLimited(p.replaced, COPY_CONCURRENCY, (f) => copy(p.repoId, f));
    for (const f of p.indexes) await copy(p.repoId, f);
    const treePrefix = environmentTreePrefix(prefix, environment, p.repoId);
    for (const path of p.indexDeletes) await bucket.deleteKeys([treePrefix + path]);
    copied += p.data.length + p.replaced.length + p.indexes.length;
  }
  const before = serializeDoc(doc);
  const after = serializeDoc(finalDoc(doc, plans, dropped));
  if (!after.equals(before)) await bucket.putBytes(environmentDocKey(prefix, environment), after, DOC_HEADERS);
  // Clients that read the index before this switch may still ask for the previous state's keys: only older ones go.
  const stale = plans.flatMap((p) => p.stale.map((path) => environmentTreePrefix(prefix, environment, p.repoId) + path));
  for (const repoId of dropped) stale.push(...(await listKeys(store, environmentTreePrefix(prefix, environment, repoId))));
  await bucket.deleteKeys(stale);
  return {
    path: bucket.url(environmentPrefix(prefix, environment)),
    switched: plans.map((p) => p.repoId),
    copied,
    deleted: stale.length + plans.reduce((n, p) => n + p.indexDeletes.length, 0),
  };
}

/** What <prefix>/published/<env>/ serves according to its state document: repository id -> snapshot name. */
export async function readS3Environment(store: S3BlobStore, environment: string): Promise<Map<string, string>> {
  const doc = await readEnvironmentDoc(store, environment);
  return new Map([...doc.current].map(([repo, s]) => [repo, s.snapshot]));
}
