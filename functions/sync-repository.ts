// The sync orchestration: locks, the sync_runs row, the type-specific sync, then publish and snapshot.
import { repositoryPackageCount } from "../core/db/package-sets.js";
import { configSecrets } from "../core/config/secrets.js";
import { findRepository, type LoadedConfig } from "../core/config/load.js";
import type { RepositoryConfig } from "../core/config/schema.js";
import { connectionLossError, type Database } from "../core/db/client.js";
import {
  acquireLock,
  describeHolder,
  exclusiveMaintenanceRunning,
  LockHeldError,
  maintenanceLockRequest,
  repositoryLockRequest,
  type HeldLock,
} from "../core/db/locks.js";
import { ensureRepository, repositoryChecksums, type RepositoryRow } from "../core/db/repositories.js";
import type { SyncStatus, SyncTrigger } from "../core/db/schema.js";
import { finishRun, markAbandonedRuns, startRun, zeroCounts, type RunCounts } from "../core/db/sync-runs.js";
import { AbortedError, ChantalError, errorMessage, failureCause, LockBusyError, UsageError } from "../core/errors.js";
import { repositoryHttp, routeSummary, type RepositoryHttp } from "../core/http/repo-http.js";
import type { Logger } from "../core/log.js";
import { redactSecrets } from "../core/redact.js";
import { repositoryTypeOf } from "../core/repository-types.js";
import { snapshotNameFromTemplate } from "../core/snapshots/name.js";
import { createSnapshot, findSnapshot } from "../core/snapshots/snapshots.js";
import { publishLatest, publishSnapshot } from "../core/publish/trees.js";
import { pruneHeld, retentionOf } from "../core/lifecycle/snapshot-retention.js";
import { blobStoreOf } from "../core/storage/backend.js";
import { effectiveFilter, effectiveSigning } from "../core/filter/effective.js";
import { loadSigner, signingLabel } from "../core/openpgp/sign.js";
import type { RepoSyncContext, RepoSyncResult, SyncPlanReport, SyncProgress } from "../core/mirror/types.js";
import { contentChanges, contentState, newAdvisories, type ContentState } from "../core/notify/changes.js";
import { syncEvents, type ChangesJson } from "../core/notify/events.js";
import type { Notifier } from "../core/notify/notifier.js";

export interface SyncRequest {
  repoId: string;
  trigger: SyncTrigger;
  /** Seconds to wait for a busy repository lock (0: fail at once). */
  waitSeconds?: number;
  /** Take the lock over from its holder (terminates the holder's database session). */
  force?: boolean;
  /** Re-read all upstream metadata even when the index is unchanged. */
  full?: boolean;
  /** Accept upstream metadata older than the last synced (an APT Release with an older Date) for this run. */
  allowDowngrade?: boolean;
  /** Publish latest after the sync (default true). */
  publish?: boolean;
  /** Create (and publish) a snapshot after a successful sync, named from this template. */
  snapshotTemplate?: string;
  /** Zone of {date} and {time} in the snapshot name (the schedule's; default UTC). */
  snapshotTimeZone?: string;
  /** Plan and report only (`repo sync --dry-run`): no package downloaded, no database state or published tree changed. */
  dryRun?: boolean;
}

export interface SyncEnv {
  loaded: LoadedConfig;
  database: Database;
  log: Logger;
  signal: AbortSignal;
  now: () => Date;
  onProgress?: (repoId: string, p: SyncProgress) => void;
  /** Where the run's events go (notify:); delivered in the background, never awaited here. */
  notifier?: Notifier | null;
}

export type SyncOutcome = "success" | "noop" | "dry-run" | "skipped-locked" | "failed" | "interrupted";

export interface SyncResult {
  repoId: string;
  status: SyncOutcome;
  runId: number | null;
  counts: RunCounts;
  durationMs: number;
  error?: string;
  published?: string;
  snapshot?: string;
  /** A dry run's plan. */
  plan?: SyncPlanReport;
}

async function takeLocks(req: SyncRequest, row: RepositoryRow, env: SyncEnv): Promise<HeldLock[]> {
  const maintenance = await acquireLock(env.database.url, maintenanceLockRequest("shared", `sync ${req.repoId}`, { signal: env.signal })).catch((err) => {
    if (err instanceof LockHeldError) throw new LockBusyError(`${exclusiveMaintenanceRunning(err.holders)}: sync of ${req.repoId} not started`);
    throw err;
  });
  try {
    const repoLock = await acquireLock(
      env.database.url,
      repositoryLockRequest(row.id, `sync ${req.repoId}`, { waitMs: (req.waitSeconds ?? 0) * 1000, takeover: req.force ?? false, signal: env.signal }),
    );
    return [repoLock, maintenance];
  } catch (err) {
    await maintenance.release();
    if (err instanceof LockHeldError) {
      const h = err.holders[0];
      throw new LockBusyError(`repository ${req.repoId} is already being synced${h ? ` by ${describeHolder(h)}` : ""}`);
    }
    throw err;
  }
}

async function recordSkipped(env: SyncEnv, row: RepositoryRow, req: SyncRequest, message: string): Promise<number> {
  const runId = await startRun(env.database.pool, row.id, req.trigger, "skipped-locked", env.now());
  await finishRun(env.database.pool, runId, { status: "skipped-locked", counts: zeroCounts(), error: message, finishedAt: env.now() });
  return runId;
}

async function syncByType(ctx: RepoSyncContext): Promise<RepoSyncResult> {
  const type = repositoryTypeOf(ctx.repo.type);
  // Refused before the syncer runs: one that ignored dryRun would download and commit.
  if (type && ctx.dryRun && !type.dryRun) throw new ChantalError(`repository ${ctx.repo.id}: a dry run of ${ctx.repo.type} repositories is not built yet`);
  if (type) return type.sync(ctx);
  throw new ChantalError(`repository ${ctx.repo.id}: type "${ctx.repo.type}" cannot be synced by this version yet`);
}

/** A unique snapshot name: the template's, else with -2, -3 ... appended; an existing snapshot is never touched. */
async function freeSnapshotName(env: SyncEnv, repoId: string, wanted: string): Promise<string> {
  for (let i = 1; ; i++) {
    const name = i === 1 ? wanted : `${wanted}-${i}`;
    if (!(await findSnapshot(env.database.pool, repoId, name))) return name;
  }
}

async function afterSync(
  req: SyncRequest,
  env: SyncEnv,
  row: RepositoryRow,
  outcome: RepoSyncResult,
  signal: AbortSignal,
): Promise<Pick<SyncResult, "published" | "snapshot">> {
  const { config } = env.loaded;
  const out: Pick<SyncResult, "published" | "snapshot"> = {};
  if (req.publish !== false) {
    signal.throwIfAborted();
    const state = (await repositoryChecksums(env.database.pool, row.id))!;
    const stale = state.indexChecksum !== state.publishedChecksum;
    if (outcome.status === "success" || stale) {
      const published = await publishLatest(env.database.pool, config, { id: row.id, repoId: req.repoId }, signal, outcome.verified);
      out.published = published.path;
      env.log.debug({ repo: req.repoId, files: published.files, ...(published.changed !== undefined ? { changed: published.changed } : {}) }, "published");
    }
  }
  if (req.snapshotTemplate) {
    signal.throwIfAborted();
    const wanted = snapshotNameFromTemplate(req.snapshotTemplate, {
      repoId: req.repoId,
      now: env.now(),
      ...(req.snapshotTimeZone ? { timeZone: req.snapshotTimeZone } : {}),
    });
    const name = await freeSnapshotName(env, req.repoId, wanted);
    if (name !== wanted) env.log.warn({ repo: req.repoId, wanted, name }, "snapshot name exists already: using a suffix");
    const snap = await createSnapshot(env.database.pool, row.id, req.repoId, name);
    await publishSnapshot(env.database.pool, config, snap, env.now(), signal);
    out.snapshot = name;
    // snapshots.retention after each scheduled (or --snapshot) one, under the repository lock this sync holds.
    if (retentionOf(config, req.repoId)) {
      const pruned = await pruneHeld(config, env.database, req.repoId, false, env.now());
      if (pruned.deleted.length) env.log.info({ repo: req.repoId, deleted: pruned.deleted }, "snapshot retention: deleted older snapshots");
    }
  }
  return out;
}

/** A signing key this close to its expiry is warned about at every sync: clients refuse metadata signed after it. */
const KEY_EXPIRY_WARNING_MS = 30 * 86400_000;

/**
 * The repository's signing key (its own signing: block, else the global one), loaded once per run inside it, so an
 * unreadable or locked key is the run's recorded failure; undefined when the repository has no signing block.
 */
async function mirrorSigner(env: SyncEnv, repo: RepositoryConfig): Promise<RepoSyncContext["signer"]> {
  const signing = effectiveSigning(env.loaded.config, repo);
  if (!signing) return undefined;
  const signer = await loadSigner(signing, signingLabel(repo), env.now());
  const expiresAt = signer.key.expiresAt;
  if (expiresAt && expiresAt.getTime() - env.now().getTime() < KEY_EXPIRY_WARNING_MS)
    env.log.warn(
      { repo: repo.id, key: signer.fingerprint, expires: expiresAt.toISOString() },
      `the signing key ${signing.key_file} expires soon: extend it (gpg --quick-set-expire) or make a new one and give clients its public key`,
    );
  return signer;
}

/** Sync, then hand the run's events (sync.succeeded/changed/failed/interrupted) to the notifier without waiting for them. */
export async function syncRepository(req: SyncRequest, env: SyncEnv): Promise<SyncResult> {
  const found: { changes?: ChangesJson } = {};
  const result = await syncAndDiff(req, env, found);
  if (env.notifier && !req.dryRun) {
    try {
      env.notifier.emit(syncEvents({ ...result, trigger: req.trigger }, found.changes, { now: env.now() }));
    } catch (err) {
      env.log.warn({ repo: req.repoId, error: errorMessage(err) }, "notifications of this sync not sent");
    }
  }
  return result;
}

/** The repository's content before the run, when a target wants sync.changed; a failure to read it only loses the diff. */
async function contentBefore(env: SyncEnv, repo: RepositoryConfig, repositoryId: number): Promise<ContentState | null> {
  if (!env.notifier?.wants("sync.changed", repo.id)) return null;
  const repoId = repo.id;
  return contentState(env.database.pool, repositoryId, repo.type).catch((err: unknown) => {
    env.log.warn({ repo: repoId, error: errorMessage(err) }, "cannot read the package set before the sync: sync.changed will carry no diff");
    return null;
  });
}

async function syncAndDiff(req: SyncRequest, env: SyncEnv, found: { changes?: ChangesJson }): Promise<SyncResult> {
  const started = Date.now();
  if (req.dryRun && req.snapshotTemplate) throw new UsageError(`repository ${req.repoId}: a dry run creates no snapshot: leave out the snapshot template`);
  const { config } = env.loaded;
  const repo = findRepository(env.loaded, req.repoId);
  const secrets = configSecrets(config);
  const unlocked = await ensureRepository(env.database.pool, repo);
  let locks: HeldLock[];
  try {
    locks = await takeLocks(req, unlocked, env);
  } catch (err) {
    if (!(err instanceof LockBusyError)) throw err;
    // A dry run records nothing, not even that it was skipped.
    const runId = req.dryRun ? null : await recordSkipped(env, unlocked, req, err.message);
    return { repoId: req.repoId, status: "skipped-locked", runId, counts: zeroCounts(), durationMs: Date.now() - started, error: err.message };
  }
  const signal = AbortSignal.any([env.signal, ...locks.map((l) => l.signal)]);
  let http: RepositoryHttp | undefined;
  let runId: number | null = null;
  // Filled by the syncer as it goes: a failed or interrupted run reports what it did download.
  const counts = zeroCounts();
  try {
    const blobs = blobStoreOf(config);
    // Read again under the lock: a restore or `pool verify --fix` may have reset the index checksum meanwhile.
    const row = await ensureRepository(env.database.pool, repo);
    if (!req.dryRun) {
      const abandoned = await markAbandonedRuns(env.database.pool, row.id);
      if (abandoned) env.log.warn({ repo: repo.id, runs: abandoned }, "marked runs of a dead process as interrupted");
      await blobs.cleanStaleTemp(24 * 3600 * 1000);
      runId = await startRun(env.database.pool, row.id, req.trigger, "running", env.now());
    }
    const before = req.dryRun ? null : await contentBefore(env, repo, row.id);
    // Built inside the run, so an unreadable ca_bundle or client certificate is recorded as its failure.
    http = repositoryHttp(
      repo,
      config,
      {
        onRetry: (i) =>
          env.log.warn({ repo: repo.id, url: i.url, attempt: i.attempt, delayMs: i.delayMs, error: redactSecrets(i.error.message, secrets) }, "retrying"),
      },
      { configDir: env.loaded.dir, onWarning: (message) => env.log.warn({ repo: repo.id }, message) },
    );
    // Asks a PAC file now: one that cannot be loaded fails the run here, named, before any request.
    env.log.debug({ repo: repo.id, ...routeSummary(await http.resolve(repo.upstream_url)) }, "proxy");
    for (const warning of http.warnings) env.log.warn({ repo: repo.id }, warning);
    const filter = effectiveFilter(config, repo);
    const signer = await mirrorSigner(env, repo);
    const ctx: RepoSyncContext = {
      config,
      repo,
      row,
      db: env.database.pool,
      blobs,
      http: http.http,
      log: env.log,
      signal,
      // A dry run has no run row (the syncers do not read the id).
      runId: runId ?? 0,
      // A dry run always plans, even over an unchanged index.
      force: (req.full ?? false) || req.dryRun === true,
      counts,
      allowDowngrade: req.allowDowngrade ?? false,
      now: env.now,
      ...(signer ? { signer } : {}),
      ...(req.dryRun ? { dryRun: true } : {}),
      // The curated mirror's filter (the signer is wired beside it by the signing work).
      ...(filter ? { filter } : {}),
      ...(env.onProgress ? { onProgress: (p: SyncProgress) => env.onProgress!(repo.id, p) } : {}),
    };
    const outcome = await syncByType(ctx);
    if (req.dryRun) {
      // No run row, no publish, no snapshot: only fetched metadata may have entered the content-addressed pool.
      if (outcome.status !== "dry-run" || !outcome.plan)
        throw new ChantalError(`repository ${repo.id}: the ${repo.type} sync returned "${outcome.status}" to a dry run instead of its plan`);
      return { repoId: repo.id, status: "dry-run", runId: null, counts, durationMs: Date.now() - started, plan: outcome.plan };
    }
    if (runId === null || outcome.status === "dry-run") throw new ChantalError(`repository ${repo.id}: the ${repo.type} sync planned only, unasked`);
    // A no-op read no package list: the repository still holds what the last sync left, and the run says so.
    if (outcome.status === "noop") counts.packagesTotal = await repositoryPackageCount(env.database.pool, row.id);
    const extra = await afterSync(req, env, row, outcome, signal);
    // A signal during the publish's last steps: the run is not recorded as a success.
    signal.throwIfAborted();
    await finishRun(env.database.pool, runId, { status: outcome.status, counts, snapshotName: extra.snapshot ?? null, finishedAt: env.now() });
    if (before && outcome.status === "success") {
      try {
        const after = await contentState(env.database.pool, row.id, repo.type);
        // An unreadable updateinfo.xml costs the advisories only, never the package diff.
        const advisories = await newAdvisories(blobs, before, after, env.signal).catch((err: unknown) => {
          env.log.warn({ repo: repo.id, error: errorMessage(err) }, "cannot read the advisories of updateinfo.xml: sync.changed lists packages only");
          return undefined;
        });
        found.changes = contentChanges(before, after, repo.type, advisories);
      } catch (err) {
        env.log.warn({ repo: repo.id, error: errorMessage(err) }, "cannot read the package set after the sync: sync.changed will carry no diff");
      }
    }
    return { repoId: repo.id, status: outcome.status, runId, counts, durationMs: Date.now() - started, ...extra };
  } catch (err) {
    const cause = failureCause(connectionLossError(err, `the sync of repository ${repo.id}`), signal);
    const status: SyncStatus = cause instanceof AbortedError ? "interrupted" : "failed";
    const message = redactSecrets(`${errorMessage(cause)}`, secrets);
    if (runId !== null) await finishRun(env.database.pool, runId, { status, counts, error: message, finishedAt: env.now() }).catch(() => undefined);
    return { repoId: repo.id, status, runId, counts, durationMs: Date.now() - started, error: message };
  } finally {
    await http?.close();
    for (const l of locks) await l.release();
  }
}
