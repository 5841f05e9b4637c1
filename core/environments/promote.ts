// Promotion and rollback of a group's snapshot in an environment: order checks, publishing, one recorded switch.
import { existsSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type pg from "pg";
import type { Config } from "../config/schema.js";
import { LockClass } from "../db/lock-ids.js";
import { repositoryLockRequest, withLock, type LockRequest } from "../db/locks.js";
import { inTransaction } from "../db/transaction.js";
import { ChantalError } from "../errors.js";
import { getGroupSnapshot } from "../groups/group-snapshots.js";
import { environmentIndex, findGroup } from "../groups/groups.js";
import { publishSnapshot } from "../publish/trees.js";
import { currentPromotion, environmentState, insertPromotion, promotionById, type NewPromotion, type PromotionRow } from "./promotions.js";
import { switchEnvironment, type EnvironmentMember } from "./tree.js";
import { treeOf } from "../db/package-sets.js";
import { findSnapshot } from "../snapshots/snapshots.js";
import { blobStoreOf } from "../storage/backend.js";
import { S3BlobStore } from "../storage/s3-blob-store.js";
import { manifestKeyOf } from "../storage/s3-layout.js";
import { environmentPrefix } from "./s3-plan.js";
import { finishS3Switch, prepareS3Switch, type PreparedS3Switch } from "./s3-tree.js";

export class PromotionError extends ChantalError {}

/** Publishing a member waits for a running sync of it, as `publish snapshot` does. */
const PUBLISH_WAIT_MS = 3600_000;
/** A promotion of the same environment by someone else is waited for this long. */
const ENVIRONMENT_WAIT_MS = 600_000;

export interface PromotionDatabase {
  pool: pg.Pool;
  url: string;
}

export interface PromoteRequest {
  groupId: string;
  snapshotName: string;
  to: string;
  force?: boolean;
  note?: string;
  signal?: AbortSignal;
}

export interface PromotionOutcome {
  /** null when the environment already served this snapshot of the group: nothing was switched. */
  promotion: PromotionRow | null;
  path: string;
  /** Members whose snapshot was published for the promotion. */
  published: string[];
}

/** The per-environment lock: promotions and rollbacks of one environment (all groups share its directory) run one at a time. */
export function environmentLockRequest(environment: string, purpose: string, signal?: AbortSignal): LockRequest {
  return { lockClass: LockClass.environment, key: crc32(environment) | 0, purpose, waitMs: ENVIRONMENT_WAIT_MS, ...(signal ? { signal } : {}) };
}

function whoAmI(): { host: string; pid: number; osUser: string } {
  let osUser: string;
  try {
    osUser = userInfo().username;
  } catch {
    osUser = process.env.USER ?? "unknown";
  }
  return { host: hostname(), pid: process.pid, osUser };
}

/** Everything <published>/<env>/ serves with the group's members replaced: other groups' rows stay as they are. */
async function environmentMembers(q: pg.Pool, environment: string, groupId: string, members: readonly EnvironmentMember[]): Promise<EnvironmentMember[]> {
  const out = new Map<string, EnvironmentMember>();
  const mine = new Set(members.map((m) => m.repoId));
  for (const row of await environmentState(q, environment)) {
    if (row.groupId === groupId) continue;
    for (const m of row.members) {
      if (mine.has(m.repoId))
        throw new PromotionError(
          `repository ${m.repoId} is already in ${environment} through group ${row.groupId}: a repository is served in an environment through one group only`,
        );
      out.set(m.repoId, { repoId: m.repoId, snapshotName: m.snapshotName });
    }
  }
  for (const m of members) out.set(m.repoId, m);
  return [...out.values()].sort((a, b) => a.repoId.localeCompare(b.repoId));
}

/** Where the environment is served on this host: <published>/<env>, or its prefix in the bucket. */
export function environmentLocation(config: Config, environment: string): string {
  const store = blobStoreOf(config);
  if (store instanceof S3BlobStore) return store.bucket.url(environmentPrefix(store.bucket.settings.prefix, environment));
  return join(config.storage.published_path!, environment);
}

/** The S3 backend's switch up to its tight phase: every changed member's data copied from the pool (see s3-tree.ts). */
function prepareBucket(
  db: PromotionDatabase,
  store: S3BlobStore,
  environment: string,
  served: readonly EnvironmentMember[],
  signal?: AbortSignal,
  opts: { verify?: boolean } = {},
) {
  return prepareS3Switch(
    store,
    environment,
    served.map((m) => ({
      ...m,
      entries: async () => {
        const snap = await findSnapshot(db.pool, m.repoId, m.snapshotName);
        return snap ? treeOf(db.pool, "snapshot", snap.id, signal) : null;
      },
    })),
    signal,
    opts,
  );
}

/**
 * Serve what the database records for the environment again: after a failed switch or COMMIT (on a filesystem the
 * directory is rebuilt), and on S3 also when a promotion switches nothing (a killed switch's keys of unknown
 * content, and keys gone from the bucket, are copied again; an intact bucket costs one read and one listing per member).
 */
async function serveRecorded(db: PromotionDatabase, config: Config, environment: string, signal?: AbortSignal): Promise<void> {
  const recorded = await environmentState(db.pool, environment);
  const members = recorded.flatMap((r) => r.members.map((m) => ({ repoId: m.repoId, snapshotName: m.snapshotName })));
  const store = blobStoreOf(config);
  if (!(store instanceof S3BlobStore)) {
    await switchEnvironment(config.storage.published_path!, environment, members);
    return;
  }
  const prepared = await prepareBucket(db, store, environment, members, signal, { verify: true });
  if (prepared.plans.length > 0 || prepared.dropped.length > 0) await finishS3Switch(store, prepared);
}

/**
 * Record the switch and make the backend serve it, in one transaction: a failure before COMMIT puts the recorded
 * state back. On S3 the data copies run before the transaction (nothing live names them); the index phase inside it.
 */
async function recordAndSwitch(
  db: PromotionDatabase,
  config: Config,
  p: NewPromotion,
  served: readonly EnvironmentMember[],
  signal?: AbortSignal,
): Promise<PromotionRow> {
  const store = blobStoreOf(config);
  const prepared: PreparedS3Switch | null = store instanceof S3BlobStore ? await prepareBucket(db, store, p.environment, served, signal) : null;
  const client = await db.pool.connect();
  let id = 0;
  let switched = false;
  try {
    await inTransaction(client, async (c) => {
      id = await insertPromotion(c, p);
      if (prepared && store instanceof S3BlobStore) await finishS3Switch(store, prepared);
      else await switchEnvironment(config.storage.published_path!, p.environment, served);
      switched = true;
    });
  } catch (err) {
    // The switch happened but the COMMIT failed, or S3's index phase failed half-way: serve what the database says again.
    if (switched || prepared) await serveRecorded(db, config, p.environment).catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return (await promotionById(db.pool, id))!;
}

/** Whether a member's snapshot is published where promote expects it (its tree on disk, or its manifest in the bucket). */
async function isPublished(config: Config, m: { repoId: string; name: string; publishedAt: Date | null }): Promise<boolean> {
  if (!m.publishedAt) return false;
  const store = blobStoreOf(config);
  if (store instanceof S3BlobStore)
    return (await store.bucket.head(manifestKeyOf(store.bucket.settings.prefix, m.repoId, `snapshots/${m.name}`))) !== undefined;
  return existsSync(join(config.storage.published_path!, m.repoId, "snapshots", m.name));
}

/** Promote a group snapshot to an environment: in path order unless forced, publishing members that are not yet. */
export async function promote(db: PromotionDatabase, config: Config, req: PromoteRequest): Promise<PromotionOutcome> {
  const group = findGroup(config, req.groupId);
  const index = environmentIndex(config, req.to);
  const gs = await getGroupSnapshot(db.pool, group.id, req.snapshotName);
  const missing = group.repositories.filter((id) => !gs.members.some((m) => m.repoId === id));
  // A member snapshot deleted with --force, or a repository added to the group later: promoting would drop it from the environment.
  if (missing.length > 0)
    throw new PromotionError(
      `snapshot ${gs.name} of group ${group.id} has no member for ${missing.join(", ")} (deleted, or added to the group after ${gs.name} was made): create a new group snapshot`,
    );
  // A repository that left the group since is not promoted with it.
  gs.members = gs.members.filter((m) => group.repositories.includes(m.repoId));
  const path = environmentLocation(config, req.to);
  return withLock(db.url, environmentLockRequest(req.to, `promote ${group.id} ${gs.name} to ${req.to}`, req.signal), async () => {
    if (index > 0 && !req.force) {
      const before = config.environments[index - 1]!;
      const there = await currentPromotion(db.pool, group.id, before);
      if (there?.snapshotName !== gs.name)
        throw new PromotionError(
          `snapshot ${gs.name} of group ${group.id} is not in ${before} (${there ? `it serves ${there.snapshotName}` : "nothing is promoted there"}): promote it to ${before} first, or add --force`,
        );
    }
    const current = await currentPromotion(db.pool, group.id, req.to);
    if (current?.snapshotName === gs.name && current.members.every((m) => m.snapshotId !== null)) {
      if (config.storage.backend === "s3") await serveRecorded(db, config, req.to, req.signal);
      return { promotion: null, path, published: [] };
    }
    const publishedNow: string[] = [];
    for (const m of gs.members) {
      if (await isPublished(config, m)) continue;
      const repoRow = await db.pool.query(`SELECT id FROM chantal.repositories WHERE repo_id = $1`, [m.repoId]);
      await withLock(
        db.url,
        repositoryLockRequest(repoRow.rows[0].id, `publish ${m.repoId}/${m.name} for promote`, {
          waitMs: PUBLISH_WAIT_MS,
          ...(req.signal ? { signal: req.signal } : {}),
        }),
        () => publishSnapshot(db.pool, config, m, new Date(), req.signal),
      );
      publishedNow.push(m.repoId);
    }
    req.signal?.throwIfAborted();
    const repoIds = await db.pool.query(`SELECT id, repo_id FROM chantal.repositories WHERE repo_id = ANY($1)`, [gs.members.map((m) => m.repoId)]);
    const idOf = new Map<string, number>(repoIds.rows.map((r) => [r.repo_id as string, r.id as number]));
    const members = gs.members.map((m) => ({ repoId: m.repoId, snapshotName: m.name }));
    const served = await environmentMembers(db.pool, req.to, group.id, members);
    const promotion = await recordAndSwitch(
      db,
      config,
      {
        groupId: group.id,
        environment: req.to,
        snapshotName: gs.name,
        kind: "promote",
        previousId: current?.id ?? null,
        forced: req.force === true,
        note: req.note ?? null,
        ...whoAmI(),
        members: gs.members.map((m) => ({ repositoryId: idOf.get(m.repoId)!, snapshotId: m.id, snapshotName: m.name })),
      },
      served,
      req.signal,
    );
    return { promotion, path, published: publishedNow };
  });
}

/** Return the group in the environment to the state before the current one, in one switch. */
export async function rollback(
  db: PromotionDatabase,
  config: Config,
  req: { groupId: string; environment: string; note?: string; signal?: AbortSignal },
): Promise<PromotionOutcome> {
  const group = findGroup(config, req.groupId);
  environmentIndex(config, req.environment);
  const path = environmentLocation(config, req.environment);
  return withLock(db.url, environmentLockRequest(req.environment, `rollback ${group.id} in ${req.environment}`, req.signal), async () => {
    const current = await currentPromotion(db.pool, group.id, req.environment);
    if (!current) throw new PromotionError(`group ${group.id} was never promoted to ${req.environment}: nothing to roll back`);
    const target = current.previousId === null ? null : await promotionById(db.pool, current.previousId);
    if (!target)
      throw new PromotionError(
        `group ${group.id} in ${req.environment} has no earlier promotion to return to (it serves ${current.snapshotName}, its first promotion there)`,
      );
    const gone = target.members.filter((m) => m.snapshotId === null).map((m) => `${m.repoId}/${m.snapshotName}`);
    if (gone.length > 0)
      throw new PromotionError(`cannot roll back ${group.id} in ${req.environment} to ${target.snapshotName}: snapshot(s) ${gone.join(", ")} were deleted`);
    const served = await environmentMembers(
      db.pool,
      req.environment,
      group.id,
      target.members.map((m) => ({ repoId: m.repoId, snapshotName: m.snapshotName })),
    );
    const promotion = await recordAndSwitch(
      db,
      config,
      {
        groupId: group.id,
        environment: req.environment,
        snapshotName: target.snapshotName,
        kind: "rollback",
        previousId: target.previousId,
        forced: false,
        note: req.note ?? null,
        ...whoAmI(),
        members: target.members.map((m) => ({ repositoryId: m.repositoryId, snapshotId: m.snapshotId, snapshotName: m.snapshotName })),
      },
      served,
      req.signal,
    );
    return { promotion, path, published: [] };
  });
}
