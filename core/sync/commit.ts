// The one transaction that ends a sync of any type: packages, the repository's new set and metadata, its index checksum.
import { replaceRepositoryMetadata, replaceRepositoryPackages, upsertMetadataFiles, upsertPackages, type PackageRecord } from "../db/package-sets.js";
import type { RunCounts } from "../db/sync-runs.js";
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
  const client = await ctx.db.connect();
  try {
    await client.query("BEGIN");
    await upsertPackages(client, packages, committedOf);
    await upsertMetadataFiles(client, metadata);
    const pkgChange = await replaceRepositoryPackages(client, ctx.row.id, packages, (p) => {
      const c = committedOf(p);
      return { key: c.location, sha256: c.sha256 };
    });
    await replaceRepositoryMetadata(client, ctx.row.id, metadata);
    await client.query(`UPDATE chantal.repositories SET index_checksum = $2, last_synced_at = now(), updated_at = now() WHERE id = $1`, [ctx.row.id, indexChecksum]);
    // Interrupted, or the lock lost to a takeover, while the transaction ran: roll back, change nothing.
    ctx.signal.throwIfAborted();
    await client.query("COMMIT");
    counts.packagesAdded = pkgChange.added + pkgChange.changed;
    counts.packagesRemoved = pkgChange.removed;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
