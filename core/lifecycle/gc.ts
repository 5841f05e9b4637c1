// pool gc as one operation for the CLI, the scheduler and the cloud handler: the maintenance lock exclusive for the
// mark-and-delete of blobs, then the sweep of published trees (which needs no lock: publishes already share .trees/).
import type { Config } from "../config/schema.js";
import type { Database } from "../db/client.js";
import { acquireLock, describeHolder, LockHeldError, maintenanceLockRequest } from "../db/locks.js";
import { LockBusyError } from "../errors.js";
import { blobStoreOf } from "../storage/backend.js";
import { collectPoolGarbage, type PoolGcResult } from "../storage/gc.js";
import { sweepPublishedTrees } from "../storage/gc-trees.js";

/** Orphans and temp files younger than this are kept unless --protect-minutes says otherwise. */
export const DEFAULT_PROTECT_MINUTES = 60;

export interface PoolGcRequest {
  dryRun?: boolean;
  protectMinutes?: number;
  /** Wait this long for running syncs, backups and removals to finish (0: fail at once). */
  waitSeconds?: number;
}

export interface PoolGcEnv {
  config: Config;
  database: Database;
  signal: AbortSignal;
  onProgress?: (prefixesDone: number) => void;
}

export interface PoolGcReport extends PoolGcResult {
  location: string;
  /** Published trees removed (filesystem backend). */
  trees: string[];
}

export async function runPoolGc(req: PoolGcRequest, env: PoolGcEnv): Promise<PoolGcReport> {
  const blobs = blobStoreOf(env.config);
  const protectMs = (req.protectMinutes ?? env.config.pool?.gc?.protect_minutes ?? DEFAULT_PROTECT_MINUTES) * 60_000;
  const collect = () =>
    collectPoolGarbage(env.database.pool, blobs, {
      dryRun: req.dryRun ?? false,
      protectMs,
      signal: env.signal,
      ...(env.onProgress ? { onProgress: env.onProgress } : {}),
    });
  let result: PoolGcResult;
  if (req.dryRun) result = await collect();
  else {
    // Exclusive: no sync holds downloaded-but-unrecorded blobs, no backup or restore reads the database meanwhile.
    const lock = await acquireLock(
      env.database.url,
      maintenanceLockRequest("exclusive", "pool gc", { signal: env.signal, waitMs: (req.waitSeconds ?? 0) * 1000 }),
    ).catch((err: unknown) => {
      if (err instanceof LockHeldError)
        throw new LockBusyError(
          `syncs, backups or a restore are running (${err.holders.map((h) => `${describeHolder(h)}${h.purpose ? ` (${h.purpose})` : ""}`).join(", ")}): run pool gc when they have finished, or with --wait-seconds`,
        );
      throw err;
    });
    try {
      result = await collect();
    } finally {
      await lock.release();
    }
  }
  const trees = env.config.storage.backend === "s3" ? [] : (await sweepPublishedTrees(env.config.storage.published_path!, req.dryRun ?? false)).removed;
  return { location: blobs.location, ...result, trees };
}
