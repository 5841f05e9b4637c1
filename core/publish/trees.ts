// Publishing from the database: the current set to <published>/<repo>/latest, a snapshot to .../snapshots/<name>.
import { join } from "node:path";
import type pg from "pg";
import type { Config, RepositoryConfig } from "../config/schema.js";
import { loadKeyring } from "../openpgp/signature.js";
import { gateTree, type GateOptions } from "./gate.js";
import type { VerifiedListing } from "../mirror/types.js";
import { silentLogger } from "../log.js";
import type { BlobStore } from "../storage/blob-store.js";
import { treeOf, treePages, type TreeEntry } from "../db/package-sets.js";
import { publishTree, removePublished, unpublish, type PublishResult } from "../storage/publish.js";
import { blobStoreOf } from "../storage/backend.js";
import { S3BlobStore } from "../storage/s3-blob-store.js";
import { publishS3Tree, unpublishS3Tree } from "../storage/s3-publish.js";
import { mirrorKeyring, publishMirrorKey } from "./mirror-key.js";
import { markPublished, type SnapshotRow } from "../snapshots/snapshots.js";
import { ChantalError } from "../errors.js";
import { connectionLossError, withAbortableClient } from "../db/client.js";
import { recordPublished, repositoryChecksums } from "../db/repositories.js";

export function publishedRoot(config: Config, repoId: string): string {
  return join(config.storage.published_path!, repoId);
}

/** `verified`: what the sync that just committed the set verified (its gate reads no metadata again). */
export async function publishLatest(
  db: pg.Pool,
  config: Config,
  repository: { id: number; repoId: string },
  signal?: AbortSignal,
  verified?: VerifiedListing,
): Promise<PublishResult> {
  const checksum = (await repositoryChecksums(db, repository.id))?.indexChecksum;
  if (!checksum) throw new ChantalError(`repository ${repository.repoId} has not been synced yet: nothing to publish`);
  const result = await publishFrom(db, config, repository.repoId, "latest", { owner: "repository", id: repository.id }, signal, verified);
  // Abortable: the row may be locked (a concurrent commit), and a signal must not wait for it.
  await withAbortableClient(db, signal, (c) => recordPublished(c, repository.id, checksum));
  return result;
}

export async function publishSnapshot(db: pg.Pool, config: Config, snapshot: SnapshotRow, now: Date, signal?: AbortSignal): Promise<PublishResult> {
  const result = await publishFrom(db, config, snapshot.repoId, `snapshots/${snapshot.name}`, { owner: "snapshot", id: snapshot.id }, signal);
  await markPublished(db, snapshot.id, now);
  return result;
}

export function unpublishSnapshot(config: Config, snapshot: SnapshotRow): Promise<boolean> {
  const store = blobStoreOf(config);
  if (store instanceof S3BlobStore) return unpublishS3Tree(store, snapshot.repoId, `snapshots/${snapshot.name}`);
  return unpublish(publishedRoot(config, snapshot.repoId), `snapshots/${snapshot.name}`);
}

/** Unpublish trees of a repository (`latest`, `snapshots/<name>`) on the configured backend; returns those that were published. */
export async function unpublishTrees(config: Config, repoId: string, names: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const store = blobStoreOf(config);
  if (!(store instanceof S3BlobStore)) return removePublished(publishedRoot(config, repoId), names);
  const removed: string[] = [];
  for (const name of names) if (await unpublishS3Tree(store, repoId, name, signal)) removed.push(name);
  return removed;
}

/**
 * The keys a tree's signature must verify with: the mirror's when it signs the tree (a filter, or signing.resign),
 * else the upstream's (verify.keyring). Not yet requireSignature for the mirror's: the formats sign (core/rpm, core/apt).
 */
async function gateKeys(config: Config, repo: RepositoryConfig): Promise<Pick<GateOptions, "keyring" | "requireSignature">> {
  const mirror = await mirrorKeyring(config, repo);
  // The mirror signs this tree (a filter regenerates it, or resign): unsigned, it would be refused by every client.
  if (mirror) return { keyring: mirror, requireSignature: true };
  return repo.verify?.keyring ? { keyring: await loadKeyring(repo.verify.keyring) } : {};
}

/** publish.gate: closure (the repository's publish block, else the global one) asks the gate to check every dependency. */
function closureGate(db: pg.Pool, config: Config, repo: RepositoryConfig, blobs: BlobStore, signal: AbortSignal | undefined): Pick<GateOptions, "closure"> {
  if ((repo.publish?.gate ?? config.publish?.gate) !== "closure") return {};
  // The configured block even when inactive: its dependency_repositories satisfy a verbatim tree's dependencies too.
  const filter = repo.filter ?? config.filter;
  return { closure: { config, repo, db, blobs, log: silentLogger(), signal: signal ?? new AbortController().signal, ...(filter ? { filter } : {}) } };
}

/** The backend's publisher: hardlinks and a symlink swap in a directory, or server-side copies in the bucket. */
async function publishFrom(
  db: pg.Pool,
  config: Config,
  repoId: string,
  name: string,
  tree: { owner: "repository" | "snapshot"; id: number },
  signal?: AbortSignal,
  verified?: VerifiedListing,
): Promise<PublishResult> {
  const store = blobStoreOf(config);
  // A repository that left the configuration (its snapshots can still be published) is not checked: its settings are gone.
  const repo = config.repositories.find((r) => r.id === repoId);
  try {
    // The gate reads the tree before any of it is built: a refused (or interrupted) gate leaves nothing behind.
    const gated = !repo
      ? undefined
      : await gateTree(db, store, repo, name, tree, {
          ...(await gateKeys(config, repo)),
          ...closureGate(db, config, repo, store, signal),
          ...(verified ? { verified } : {}),
          ...(signal ? { signal } : {}),
        });
    // After the gate (a refused tree publishes nothing), before the tree (a client never sees a signature without its key).
    await publishMirrorKey(config, repoId);
    if (store instanceof S3BlobStore) {
      const entries = gated ? Array.from(gated, ([path, sha256]) => ({ path, sha256 })) : await treeOf(db, tree.owner, tree.id);
      return await publishS3Tree(store, { repoId, name, entries, ...(signal ? { signal } : {}) });
    }
    return await publishTree({
      repoRoot: publishedRoot(config, repoId),
      name,
      // The tree the gate checked, not a second read of the database; read again when the standby's update fails
      // half-way and the tree is built afresh.
      pages: () => (gated ? pagesOf(gated) : treePages(db, tree.owner, tree.id, signal)),
      blobPath: (s) => store.pathOf(s),
      // A snapshot of the set latest shows (a sync's --snapshot) points to latest's tree instead of linking it again.
      reuse: tree.owner === "snapshot",
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    throw connectionLossError(err, `the publish of ${repoId}/${name} (the published tree is unchanged)`);
  }
}

/** A tree held in memory (path -> sha256) as the publisher's pages, `pageSize` entries each (the cursor's size). */
export async function* pagesOf(tree: ReadonlyMap<string, string>, pageSize = 5_000): AsyncGenerator<TreeEntry[]> {
  let page: TreeEntry[] = [];
  for (const [path, sha256] of tree) {
    page.push({ path, sha256 });
    if (page.length === pageSize) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}
