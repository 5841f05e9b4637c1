// Retiring a repository that left the YAML (repo remove) and unpublishing one tree (publish remove), under the repository lock.
import { join } from "node:path";
import type { LoadedConfig } from "../config/load.js";
import type { Database } from "../db/client.js";
import {
  acquireLock,
  describeHolder,
  exclusiveMaintenanceRunning,
  LockHeldError,
  maintenanceLockRequest,
  repositoryLockRequest,
  type HeldLock,
} from "../db/locks.js";
import { clearRepositorySets } from "../db/package-sets.js";
import { deleteRepositoryRow, findRepositoryRow, forgetSyncedState, type RepositoryRow } from "../db/repositories.js";
import { deleteRunsOf } from "../db/sync-runs.js";
import { ChantalError, LockBusyError, UsageError } from "../errors.js";
import { checkSnapshotName } from "../snapshots/name.js";
import { deleteSnapshotsOf, findSnapshot, listSnapshots } from "../snapshots/snapshots.js";
import { refuseSnapshotsInUse } from "../environments/protection.js";
import { withTransaction } from "../db/transaction.js";
import { unpublishTrees } from "../publish/trees.js";
import { removePrimaryMemo } from "../rpm/primary-memo.js";

export interface RemovalPlan {
  /** Published names to remove: `latest`, and `snapshots/<name>` unless the snapshots are kept. */
  unpublish: string[];
  deleteSnapshots: boolean;
  /** The row goes only with its snapshots: kept snapshots still belong to it. */
  deleteRow: boolean;
}

/** What `repo remove` does for a repository with these snapshots. */
export function planRemoval(snapshotNames: readonly string[], keepSnapshots: boolean): RemovalPlan {
  if (keepSnapshots) return { unpublish: ["latest"], deleteSnapshots: false, deleteRow: false };
  return { unpublish: ["latest", ...snapshotNames.map((n) => `snapshots/${n}`)], deleteSnapshots: true, deleteRow: true };
}

/** Why a repository may not be removed because the configuration still defines it, or null. */
export function stillConfiguredProblem(loaded: Pick<LoadedConfig, "dir" | "sources">, repoId: string): string | null {
  const source = loaded.sources.get(repoId);
  if (!source) return null;
  return `repository ${repoId} is still in the configuration (${join(loaded.dir, source.file)}, repositories[${source.index}]): delete it from that file first, then run "repo remove --repo-id ${repoId}" again`;
}

async function knownRepository(database: Database, repoId: string): Promise<RepositoryRow> {
  const row = await findRepositoryRow(database.pool, repoId);
  if (!row) throw new UsageError(`the database knows no repository "${repoId}" (see "repo list")`);
  return row;
}

/** The repository lock at once, or a LockBusyError naming who holds it. */
async function repositoryLock(database: Database, row: RepositoryRow, purpose: string, signal: AbortSignal): Promise<HeldLock> {
  try {
    return await acquireLock(database.url, repositoryLockRequest(row.id, purpose, { signal }));
  } catch (err) {
    if (!(err instanceof LockHeldError)) throw err;
    const h = err.holders[0];
    throw new LockBusyError(
      `repository ${row.repoId} is locked${h ? ` by ${describeHolder(h)}${h.purpose ? ` (${h.purpose})` : ""}` : ""}: try again when that has finished`,
    );
  }
}

export interface RemoveEnv {
  loaded: LoadedConfig;
  database: Database;
  signal: AbortSignal;
}

export interface RemovalResult {
  repoId: string;
  unpublished: string[];
  keptSnapshots: string[];
  deleted: { packageLinks: number; metadataLinks: number; runs: number; snapshots: number; repository: boolean };
}

/**
 * Remove a repository that is no longer configured: unpublish first (a failure leaves the database state,
 * so running it again finishes the work), then delete its state in one transaction. Blobs and package rows
 * stay for `pool gc` (core/storage/gc.ts).
 */
export async function removeRepository(req: { repoId: string; keepSnapshots: boolean }, env: RemoveEnv): Promise<RemovalResult> {
  const problem = stillConfiguredProblem(env.loaded, req.repoId);
  if (problem) throw new UsageError(problem);
  const row = await knownRepository(env.database, req.repoId);
  // Shared like a sync's: a restore (exclusive) is not raced.
  const maintenance = await acquireLock(env.database.url, maintenanceLockRequest("shared", `repo remove ${req.repoId}`, { signal: env.signal })).catch(
    (err) => {
      if (err instanceof LockHeldError) throw new LockBusyError(`${exclusiveMaintenanceRunning(err.holders)}: repository ${req.repoId} not removed`);
      throw err;
    },
  );
  try {
    const lock = await repositoryLock(env.database, row, `repo remove ${req.repoId}`, env.signal);
    try {
      const signal = AbortSignal.any([env.signal, lock.signal]);
      const rows = await listSnapshots(env.database.pool, req.repoId);
      const snapshots = rows.map((s) => s.name);
      const plan = planRemoval(snapshots, req.keepSnapshots);
      if (plan.deleteSnapshots)
        await refuseSnapshotsInUse(
          env.database.pool,
          req.repoId,
          rows,
          `remove repository ${req.repoId}`,
          "promote other snapshots there first, or add --keep-snapshots",
        );
      const unpublished = await unpublishTrees(env.loaded.config, req.repoId, plan.unpublish, signal);
      signal.throwIfAborted();
      const removed = await withTransaction(env.database.pool, async (client) => {
        const sets = await clearRepositorySets(client, row.id);
        const runs = await deleteRunsOf(client, row.id);
        const deletedSnapshots = plan.deleteSnapshots ? await deleteSnapshotsOf(client, row.id) : 0;
        if (plan.deleteRow) await deleteRepositoryRow(client, row.id);
        else await forgetSyncedState(client, row.id);
        return {
          repoId: req.repoId,
          unpublished,
          keptSnapshots: plan.deleteSnapshots ? [] : snapshots,
          deleted: { packageLinks: sets.packages, metadataLinks: sets.metadata, runs, snapshots: deletedSnapshots, repository: plan.deleteRow },
        };
      });
      await removePrimaryMemo(env.loaded.config, req.repoId);
      return removed;
    } finally {
      await lock.release();
    }
  } finally {
    await maintenance.release();
  }
}

/** `latest`, or `snapshots/<name>` for a snapshot (a name that cannot be a snapshot is refused before anything is touched). */
export function publishedName(snapshot: string | undefined): string {
  return snapshot === undefined ? "latest" : `snapshots/${checkSnapshotName(snapshot)}`;
}

/**
 * Unpublish one tree of a repository, configured or not (the kept snapshots of a removed repository too).
 * The database is not touched: `publish repo` / `publish snapshot` bring the tree back.
 */
export async function unpublishOne(req: { repoId: string; snapshot?: string }, env: RemoveEnv): Promise<string> {
  const name = publishedName(req.snapshot);
  const row = await knownRepository(env.database, req.repoId);
  const lock = await repositoryLock(env.database, row, `publish remove ${req.repoId} ${name}`, env.signal);
  try {
    const snap = req.snapshot === undefined ? null : await findSnapshot(env.database.pool, req.repoId, req.snapshot);
    if (snap) await refuseSnapshotsInUse(env.database.pool, req.repoId, [snap], `unpublish ${name} of ${req.repoId}`, "promote another snapshot there first");
    const removed = await unpublishTrees(env.loaded.config, req.repoId, [name], AbortSignal.any([env.signal, lock.signal]));
    if (removed.length === 0) throw new ChantalError(`repository ${req.repoId} has nothing published as ${name}: nothing to remove`);
    return name;
  } finally {
    await lock.release();
  }
}
