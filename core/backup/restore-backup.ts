// The restore as a user runs it: verify, plan (counts, migrations), then under the exclusive maintenance lock load the
// archive in one transaction and swap the configuration directory; and backup-verify --deep, the same load rolled back.
import type pg from "pg";
import { readMigrations, type Migration } from "../db/migrate.js";
import type { Logger } from "../log.js";
import type { Keyring } from "../openpgp/signature.js";
import type { BlobStore } from "../storage/blob-store.js";
import { makeConfigStaging, removeStaging, swapConfigDir } from "./config-swap.js";
import { plainArchive, type Identity } from "./encryption.js";
import type { Manifest } from "./manifest.js";
import { verifyPool } from "../storage/pool-verify.js";
import { currentCounts, loadBackupIntoDatabase, migrationsAfter, restoreConnection, takeRestoreLock, type LoadOutcome, type TableCounts } from "./restore.js";
import type { BackupStore } from "./store.js";
import { assertVerified, verifyBackup, type VerifyReport } from "./verify.js";

export interface RestorePlan {
  location: string;
  manifest: Manifest;
  verification: VerifyReport;
  current: TableCounts | null;
  backup: TableCounts;
  /** Migrations applied after loading (the backup's schema is older). */
  migrateForward: string[];
  /** Decrypts an encrypted backup (checked by the verification, used again by the load). */
  identity?: Identity;
  /** The configuration directory is replaced (the backup has config and it was asked for). */
  restoreConfig: boolean;
  configDir: string;
}

export interface RestoreEnv {
  databaseUrl: string;
  db: pg.Pool;
  log: Logger;
  signal: AbortSignal;
  now: () => Date;
}

/** Verify the archive (nothing is written) and work out what the restore would do; refuses a newer schema. */
export async function planRestore(
  store: BackupStore,
  name: string,
  opts: { restoreConfig: boolean; configDir: string; keyring?: Keyring; identity?: Identity },
  env: RestoreEnv,
  known?: Migration[],
): Promise<RestorePlan> {
  const verification = await verifyBackup(store, name, {
    signal: env.signal,
    requireContents: true,
    ...(opts.keyring ? { keyring: opts.keyring } : {}),
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
  const manifest = assertVerified(verification);
  const pending = migrationsAfter(manifest, known ?? (await readMigrations()));
  return {
    location: verification.location,
    manifest,
    verification,
    current: await currentCounts(env.db),
    backup: { repositories: manifest.repositories_count, packages: manifest.packages_count, snapshots: manifest.snapshots_count },
    migrateForward: pending.map((m) => m.id),
    restoreConfig: opts.restoreConfig && manifest.includes_config,
    ...(opts.identity ? { identity: opts.identity } : {}),
    configDir: opts.configDir,
  };
}

export interface RestoreOutcome extends LoadOutcome {
  location: string;
  configRestored: boolean;
  /** Where the previous configuration directory went. */
  configMovedTo?: string;
  /** Blobs the restored database references that the pool lacks (checked by size, like `pool verify`). */
  missingBlobs?: number;
}

export async function executeRestore(
  plan: RestorePlan,
  store: BackupStore,
  name: string,
  env: RestoreEnv,
  opts: { blobs?: BlobStore; known?: Migration[] } = {},
): Promise<RestoreOutcome> {
  const lock = await takeRestoreLock(env.databaseUrl, "restore", env.signal);
  let staging: string | undefined;
  let committed = false;
  try {
    if (plan.restoreConfig) staging = await makeConfigStaging(plan.configDir);
    const conn = await restoreConnection(env.databaseUrl, env.signal);
    let loaded: LoadOutcome;
    try {
      const input = plainArchive(await store.openRead(name, env.signal), plan.manifest, plan.identity, env.signal);
      loaded = await loadBackupIntoDatabase(conn.client, input, {
        manifest: plan.manifest,
        known: opts.known ?? (await readMigrations()),
        commit: true,
        ...(staging ? { configStagingDir: staging } : {}),
        signal: AbortSignal.any([env.signal, lock.signal]),
        onPhase: (phase) => env.log.info({ phase }, `restore: ${phase}`),
      });
      committed = true;
    } finally {
      await conn.close();
    }
    const outcome: RestoreOutcome = { ...loaded, location: plan.location, configRestored: false };
    if (staging) {
      const swapped = await swapConfigDir(plan.configDir, staging, env.now());
      staging = undefined;
      outcome.configRestored = true;
      if (swapped.movedTo) outcome.configMovedTo = swapped.movedTo;
    }
    if (opts.blobs) {
      const check = await verifyPool(env.db, opts.blobs, { signal: env.signal });
      outcome.missingBlobs = check.problems.length;
    }
    return outcome;
  } catch (err) {
    if (committed) env.log.error("the database was restored, but a later step failed");
    // Interrupted: the cut connection's error says less than the signal (and maps to exit 130/143).
    if (!committed && env.signal.aborted && env.signal.reason instanceof Error) throw env.signal.reason;
    throw err;
  } finally {
    await removeStaging(staging);
    await lock.release();
  }
}

/**
 * backup-verify --deep: load the dump into a scratch `chantal` schema inside a transaction (the live one renamed aside
 * within it, invisible to every other session) and compare the row counts with the manifest; then roll back.
 */
export async function deepVerify(
  store: BackupStore,
  name: string,
  manifest: Manifest,
  env: Pick<RestoreEnv, "databaseUrl" | "signal">,
  identity?: Identity,
): Promise<LoadOutcome> {
  const conn = await restoreConnection(env.databaseUrl, env.signal);
  try {
    const input = plainArchive(await store.openRead(name, env.signal), manifest, identity, env.signal);
    return await loadBackupIntoDatabase(conn.client, input, { manifest, known: await readMigrations(), commit: false, signal: env.signal });
  } finally {
    await conn.close();
  }
}
