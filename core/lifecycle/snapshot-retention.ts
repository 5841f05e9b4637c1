// Snapshot retention (snapshots.retention): which snapshots of a repository go, and `snapshot prune` / the prune after a
// scheduled snapshot, under the repository lock. Their blobs stay until `pool gc` finds nothing else references them.
import type { Config, SnapshotRetention } from "../config/schema.js";
import type { Database } from "../db/client.js";
import { acquireLock, describeHolder, LockHeldError, repositoryLockRequest } from "../db/locks.js";
import { findRepositoryRow } from "../db/repositories.js";
import { LockBusyError } from "../errors.js";
import { unpublishSnapshot } from "../publish/trees.js";
import { snapshotUses } from "../environments/promotions.js";
import { deleteSnapshotRow, listSnapshots, type SnapshotRow } from "../snapshots/snapshots.js";

const DAY_MS = 24 * 3600 * 1000;

export interface RetentionCandidate {
  name: string;
  createdAt: Date;
  published: boolean;
  /** An environment serves it, or returns to it on rollback: never pruned. */
  inEnvironment?: boolean;
}

export type KeepReason = "environment" | "keep_last" | "keep_days" | "published";

export interface RetentionPlan {
  keep: { name: string; reason: KeepReason }[];
  delete: string[];
}

/**
 * Pure: a snapshot stays when an environment uses it, or it is among the keep_last newest, or younger than keep_days, or published (unless
 * include_published). With neither keep_last nor keep_days there is no retention: every snapshot stays.
 */
export function planRetention(snapshots: readonly RetentionCandidate[], retention: SnapshotRetention | undefined, now: Date): RetentionPlan {
  const plan: RetentionPlan = { keep: [], delete: [] };
  const active = retention !== undefined && (retention.keep_last !== undefined || retention.keep_days !== undefined);
  const newestFirst = [...snapshots].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.name < b.name ? 1 : -1));
  newestFirst.forEach((s, i) => {
    if (!active) return;
    if (s.inEnvironment) plan.keep.push({ name: s.name, reason: "environment" });
    else if (retention.keep_last !== undefined && i < retention.keep_last) plan.keep.push({ name: s.name, reason: "keep_last" });
    else if (retention.keep_days !== undefined && now.getTime() - s.createdAt.getTime() < retention.keep_days * DAY_MS)
      plan.keep.push({ name: s.name, reason: "keep_days" });
    else if (s.published && !retention.include_published) plan.keep.push({ name: s.name, reason: "published" });
    else plan.delete.push(s.name);
  });
  return plan;
}

/** The retention that applies to a repository: its own snapshots: block replaces the global one whole. */
export function retentionOf(config: Config, repoId: string): SnapshotRetention | undefined {
  const repo = config.repositories.find((r) => r.id === repoId);
  return repo?.snapshots ? repo.snapshots.retention : config.snapshots?.retention;
}

export interface PruneResult {
  repoId: string;
  deleted: string[];
  kept: { name: string; reason: KeepReason }[];
}

/** Apply the retention to one repository whose lock the caller holds (a sync after its scheduled snapshot, or pruneSnapshots). */
export async function pruneHeld(config: Config, database: Database, repoId: string, dryRun: boolean, now: Date): Promise<PruneResult> {
  const snapshots = await listSnapshots(database.pool, repoId);
  const candidates: RetentionCandidate[] = [];
  for (const s of snapshots) {
    const inEnvironment = (await snapshotUses(database.pool, s.id)).length > 0;
    candidates.push({ name: s.name, createdAt: s.createdAt, published: s.publishedAt !== null, inEnvironment });
  }
  const plan = planRetention(candidates, retentionOf(config, repoId), now);
  if (!dryRun) {
    const byName = new Map<string, SnapshotRow>(snapshots.map((s) => [s.name, s]));
    for (const name of plan.delete) {
      const snap = byName.get(name)!;
      // Unpublished first: a crash leaves a row (the next prune finishes it), never a tree without its row.
      await unpublishSnapshot(config, snap);
      await deleteSnapshotRow(database.pool, snap.id);
    }
  }
  return { repoId, deleted: plan.delete, kept: plan.keep };
}

/** `snapshot prune`: the retention of each given repository (configured ones with a retention by default), each under its lock. */
export async function pruneSnapshots(
  config: Config,
  database: Database,
  repoIds: readonly string[],
  opts: { dryRun: boolean; now: Date; signal: AbortSignal },
): Promise<PruneResult[]> {
  const out: PruneResult[] = [];
  for (const repoId of repoIds) {
    const row = await findRepositoryRow(database.pool, repoId);
    if (!row) continue; // never synced: no snapshot
    const lock = await acquireLock(database.url, repositoryLockRequest(row.id, `snapshot prune ${repoId}`, { waitMs: 30_000, signal: opts.signal })).catch(
      (err: unknown) => {
        if (err instanceof LockHeldError)
          throw new LockBusyError(
            `repository ${repoId} is locked${err.holders[0] ? ` by ${describeHolder(err.holders[0])}` : ""}: run snapshot prune again later`,
          );
        throw err;
      },
    );
    try {
      out.push(await pruneHeld(config, database, repoId, opts.dryRun, opts.now));
    } finally {
      await lock.release();
    }
  }
  return out;
}
