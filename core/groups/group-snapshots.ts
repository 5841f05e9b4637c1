// Group snapshots: every member of a group frozen under one name in one transaction, linked by a group_snapshots row.
import { and, asc, desc, eq } from "../db/drizzle.js";
import type pg from "pg";
import type { Config, GroupConfig } from "../config/schema.js";
import { acquireLock, LockHeldError, repositoryLockRequest, type HeldLock } from "../db/locks.js";
import { orm, type Queryable } from "../db/orm.js";
import { ensureRepository } from "../db/repositories.js";
import { groupSnapshotMembers, groupSnapshots, repositories, snapshots } from "../db/schema.js";
import { withTransaction } from "../db/transaction.js";
import { ChantalError, LockBusyError } from "../errors.js";
import { checkSnapshotName } from "../snapshots/name.js";
import { insertSnapshot, SNAPSHOT_ROW_COLUMNS, type SnapshotRow } from "../snapshots/snapshots.js";
import { groupRepositories } from "./groups.js";

export class GroupSnapshotError extends ChantalError {}

export interface GroupSnapshotRow {
  id: number;
  groupId: string;
  name: string;
  description: string | null;
  createdAt: Date;
  members: SnapshotRow[];
}

/** Take every member's repository lock (a running sync holds it); the ones still busy after waitMs are named in one error. */
async function lockMembers(url: string, repos: { id: number; repoId: string }[], purpose: string, waitMs: number, signal?: AbortSignal): Promise<HeldLock[]> {
  const held: HeldLock[] = [];
  const busy: string[] = [];
  try {
    for (const r of repos) {
      try {
        held.push(await acquireLock(url, repositoryLockRequest(r.id, purpose, { waitMs, ...(signal ? { signal } : {}) })));
      } catch (err) {
        if (!(err instanceof LockHeldError)) throw err;
        busy.push(`${r.repoId} (${err.message})`);
      }
    }
    if (busy.length > 0) {
      throw new LockBusyError(
        `cannot freeze the group: ${busy.length === 1 ? "a member is" : "members are"} being synced: ${busy.join("; ")}; wait for the sync or add --wait SECONDS`,
      );
    }
    return held;
  } catch (err) {
    for (const h of held) await h.release();
    throw err;
  }
}

/** Freeze every member of the group under `name`: all or none, while no member is being synced. */
export async function createGroupSnapshot(
  pool: pg.Pool,
  dbUrl: string,
  config: Config,
  group: GroupConfig,
  name: string,
  opts: { description?: string; waitMs?: number; signal?: AbortSignal } = {},
): Promise<GroupSnapshotRow> {
  checkSnapshotName(name);
  const rows = [];
  for (const repo of groupRepositories(config, group)) rows.push(await ensureRepository(pool, repo));
  const members = rows.map((r, i) => ({ id: r.id, repoId: group.repositories[i]! }));
  const locks = await lockMembers(dbUrl, members, `snapshot create --group ${group.id} ${name}`, opts.waitMs ?? 0, opts.signal);
  try {
    await withTransaction(
      pool,
      async (client) => {
        const [gs] = await orm(client, (db) =>
          db
            .insert(groupSnapshots)
            .values({ groupId: group.id, name, description: opts.description ?? null })
            .onConflictDoNothing()
            .returning({ id: groupSnapshots.id }),
        );
        if (!gs) throw new GroupSnapshotError(`group ${group.id} already has a snapshot named "${name}"`);
        for (const m of members) {
          const snapshotId = await insertSnapshot(client, m.id, m.repoId, name, opts.description ?? `group ${group.id}`);
          await orm(client, (db) => db.insert(groupSnapshotMembers).values({ groupSnapshotId: gs.id, snapshotId }));
        }
      },
      { isolation: "repeatable read" },
    );
  } finally {
    for (const l of locks) await l.release();
  }
  return getGroupSnapshot(pool, group.id, name);
}

async function membersOf(q: Queryable, groupSnapshotId: number): Promise<SnapshotRow[]> {
  return orm(q, (db) =>
    db
      .select(SNAPSHOT_ROW_COLUMNS)
      .from(groupSnapshotMembers)
      .innerJoin(snapshots, eq(snapshots.id, groupSnapshotMembers.snapshotId))
      .innerJoin(repositories, eq(repositories.id, snapshots.repositoryId))
      .where(eq(groupSnapshotMembers.groupSnapshotId, groupSnapshotId))
      .orderBy(asc(repositories.repoId)),
  );
}

export async function findGroupSnapshot(q: Queryable, groupId: string, name: string): Promise<GroupSnapshotRow | null> {
  const [row] = await orm(q, (db) =>
    db
      .select()
      .from(groupSnapshots)
      .where(and(eq(groupSnapshots.groupId, groupId), eq(groupSnapshots.name, name))),
  );
  return row ? { ...row, members: await membersOf(q, row.id) } : null;
}

export async function getGroupSnapshot(q: Queryable, groupId: string, name: string): Promise<GroupSnapshotRow> {
  const row = await findGroupSnapshot(q, groupId, name);
  if (!row) throw new GroupSnapshotError(`group ${groupId} has no snapshot named "${name}" (see "snapshot list --group ${groupId}")`);
  return row;
}

/** The group's snapshots, newest first, each with its members. */
export async function listGroupSnapshots(q: Queryable, groupId: string): Promise<GroupSnapshotRow[]> {
  const rows = await orm(q, (db) =>
    db.select().from(groupSnapshots).where(eq(groupSnapshots.groupId, groupId)).orderBy(desc(groupSnapshots.createdAt), desc(groupSnapshots.id)),
  );
  const out: GroupSnapshotRow[] = [];
  for (const r of rows) out.push({ ...r, members: await membersOf(q, r.id) });
  return out;
}

/** The member snapshot of one repository in a group snapshot (for the per-member diff). */
export function memberOf(gs: GroupSnapshotRow, repoId: string): SnapshotRow | undefined {
  return gs.members.find((m) => m.repoId === repoId);
}

/** A group snapshot from an import, of member snapshots already in (their ids), with the exporter's description and time. */
export async function insertImportedGroupSnapshot(
  pool: pg.Pool,
  groupId: string,
  name: string,
  snapshotIds: readonly number[],
  opts: { description: string | null; createdAt: Date },
): Promise<void> {
  checkSnapshotName(name);
  await withTransaction(pool, async (client) => {
    const [gs] = await orm(client, (db) =>
      db
        .insert(groupSnapshots)
        .values({ groupId, name, description: opts.description, createdAt: opts.createdAt })
        .onConflictDoNothing()
        .returning({ id: groupSnapshots.id }),
    );
    if (!gs) throw new GroupSnapshotError(`group ${groupId} already has a snapshot named "${name}"`);
    for (const snapshotId of snapshotIds) await orm(client, (db) => db.insert(groupSnapshotMembers).values({ groupSnapshotId: gs.id, snapshotId }));
  });
}
