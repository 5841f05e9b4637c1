// The one transaction that ends a sync of any type: packages, the repository's new set and metadata, its index checksum.
import {
  replaceRepositoryMetadata,
  replaceRepositoryPackages,
  upsertMetadataFiles,
  upsertPackages,
  type PackageRecord,
} from "../db/package-sets.js";
import type { RunCounts } from "../db/sync-runs.js";
import type { RepoSyncContext } from "./types.js";

/** An upstream index file kept verbatim, at its repository-relative path. */
export interface MetadataEntry {
  path: string;
  sha256: string;
  size: number;
}

export interface CommittedPackage {
  location: string;
  record: PackageRecord;
}

export async function commitSync(ctx: RepoSyncContext, packages: readonly CommittedPackage[], metadata: readonly MetadataEntry[], indexChecksum: string, counts: RunCounts): Promise<void> {
  const client = await ctx.db.connect();
  try {
    await client.query("BEGIN");
    const ids = await upsertPackages(client, packages.map((p) => p.record));
    const metaIds = await upsertMetadataFiles(client, metadata);
    const pkgChange = await replaceRepositoryPackages(client, ctx.row.id, packages.map((p) => ({ location: p.location, packageId: ids.get(p.record.sha256)! })));
    await replaceRepositoryMetadata(client, ctx.row.id, metadata.map((m) => ({ path: m.path, metadataFileId: metaIds.get(m.sha256)! })));
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
