// backup-prune: apply backup.retention to a directory or S3 prefix; the newest backup is fully verified before anything goes.
import type { Logger } from "../log.js";
import { listBackups, type BackupListing } from "./list.js";
import { planRetention, type RetentionDecision, type RetentionPolicy } from "./retention.js";
import type { BackupStore } from "./store.js";
import { verifyBackup } from "./verify.js";

export interface PruneOptions {
  dryRun?: boolean;
  /** Calendar days, weeks and months are counted in this zone (default: the host's). */
  timeZone?: string;
  /** A backup known to be valid (the one just written and verified), not read again. */
  verified?: string;
  signal?: AbortSignal;
  log?: Logger;
}

export interface PruneResult {
  target: string;
  decisions: (RetentionDecision & { location: string; size: number; error?: string })[];
  deleted: string[];
  dryRun: boolean;
}

/**
 * The newest backup whose manifest reads is verified member by member; if it fails it counts as invalid and the next
 * one is tried, so retention can never delete the newest backup that would actually restore.
 */
async function confirmNewestValid(store: BackupStore, listing: BackupListing[], opts: PruneOptions): Promise<void> {
  for (const b of listing) {
    if (!b.valid) continue;
    if (b.name === opts.verified) return;
    const report = await verifyBackup(store, b.name, opts.signal ? { signal: opts.signal } : {});
    if (report.ok) return;
    b.valid = false;
    b.error = report.checks.find((c) => !c.ok)?.detail ?? "verification failed";
    opts.log?.warn({ backup: b.location, error: b.error }, "the newest backup does not verify: kept, and not counted for retention");
  }
}

export async function pruneBackups(store: BackupStore, policy: RetentionPolicy, opts: PruneOptions = {}): Promise<PruneResult> {
  const listing = await listBackups(store, opts.signal);
  await confirmNewestValid(store, listing, opts);
  const byName = new Map(listing.map((b) => [b.name, b]));
  const plan = planRetention(
    listing.map((b) => ({ name: b.name, createdAt: b.createdAt, valid: b.valid })),
    policy,
    opts.timeZone ? { timeZone: opts.timeZone } : {},
  );
  const deleted: string[] = [];
  for (const d of plan) {
    if (d.keep || opts.dryRun) continue;
    if (opts.signal?.aborted) throw opts.signal.reason;
    await store.remove(d.name);
    deleted.push(d.name);
    opts.log?.info({ backup: store.describe(d.name) }, "backup deleted by retention");
  }
  return {
    target: store.describe(),
    dryRun: opts.dryRun ?? false,
    deleted,
    decisions: plan.map((d) => {
      const b = byName.get(d.name)!;
      return { ...d, location: b.location, size: b.size, ...(b.error ? { error: b.error } : {}) };
    }),
  };
}
