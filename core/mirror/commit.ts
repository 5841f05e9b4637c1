// The one transaction that ends a sync of any type: packages, the repository's new set and metadata, its index checksum.
import { recordedBlobs, recordRepositoryPackages, replaceRepositoryMetadata, upsertMetadataFiles, type PackageRecord } from "../db/package-sets.js";
import { errorMessage } from "../errors.js";
import type { RunCounts } from "../db/sync-runs.js";
import { connectionLossError, withAbortableClient } from "../db/client.js";
import { recordIndexChecksum } from "../db/repositories.js";
import { inTransaction } from "../db/transaction.js";
import type { RepoSyncContext } from "./types.js";

/** An upstream index file kept verbatim, at its repository-relative path. */
export interface MetadataEntry {
  path: string;
  sha256: string;
  size: number;
}

/** A package of the repository's new set: its catalog row and where upstream has it. */
export interface CommittedPackage extends PackageRecord {
  location: string;
}

/**
 * `committedOf` turns a syncer's own package objects into rows one batch at a time, so that a syncer whose
 * objects already are CommittedPackages (RPM) costs no copy of 100,000 of them.
 */
export async function commitSync<T>(
  ctx: RepoSyncContext,
  packages: readonly T[],
  committedOf: (p: T) => CommittedPackage,
  metadata: readonly MetadataEntry[],
  indexChecksum: string,
  counts: RunCounts,
): Promise<void> {
  // The blobs' directory entries reach the disk before the database says they exist.
  await ctx.blobs.flushAdopted?.();
  const what = `the commit of repository ${ctx.repo.id}`;
  try {
    const pkgChange = await withAbortableClient(ctx.db, ctx.signal, async (client) => {
      // Between statements too: an abort (SIGTERM, the lock lost to a takeover) rolls back and changes nothing.
      const step = async <R>(run: () => Promise<R>): Promise<R> => {
        ctx.signal.throwIfAborted();
        return run();
      };
      return inTransaction(client, async () => {
        // By difference: only packages the catalog lacks get their row, only the set's changes are written.
        const change = await step(() => recordRepositoryPackages(client, ctx.row.id, packages, committedOf, ctx.previousSet));
        await step(() => upsertMetadataFiles(client, metadata));
        await step(() => replaceRepositoryMetadata(client, ctx.row.id, metadata));
        await step(() => recordIndexChecksum(client, ctx.row.id, indexChecksum));
        ctx.signal.throwIfAborted();
        return change;
      });
    });
    counts.packagesAdded = pkgChange.added + pkgChange.changed;
    counts.packagesRemoved = pkgChange.removed;
  } catch (err) {
    throw connectionLossError(err, what);
  }
  // The database knows these blobs now: their alias journals (of this run and killed ones) are not needed.
  await ctx.blobs
    .pruneAliasJournals?.((shas) => recordedBlobs(ctx.db, shas))
    .catch((err: unknown) => ctx.log.warn({ repo: ctx.repo.id, error: errorMessage(err) }, "cannot prune the pool's alias journals"));
}
