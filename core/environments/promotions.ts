// Promotion rows: the history of every switch of a group in an environment, and what each environment serves now.
import { and, desc, eq, inArray, type SQL } from "../db/drizzle.js";
import type pg from "pg";
import { orm, type Queryable } from "../db/orm.js";
import { promotionMembers, promotions, repositories, type PromotionKind } from "../db/schema.js";

export interface PromotionMember {
  repositoryId: number;
  repoId: string;
  snapshotId: number | null;
  snapshotName: string;
}

export interface PromotionRow {
  id: number;
  groupId: string;
  environment: string;
  snapshotName: string;
  kind: PromotionKind;
  previousId: number | null;
  forced: boolean;
  host: string;
  pid: number;
  osUser: string;
  note: string | null;
  promotedAt: Date;
  members: PromotionMember[];
}

async function membersOf(q: Queryable, ids: readonly number[]): Promise<Map<number, PromotionMember[]>> {
  const out = new Map<number, PromotionMember[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const rows = await orm(q, (db) =>
    db
      .select({
        promotionId: promotionMembers.promotionId,
        repositoryId: promotionMembers.repositoryId,
        repoId: repositories.repoId,
        snapshotId: promotionMembers.snapshotId,
        snapshotName: promotionMembers.snapshotName,
      })
      .from(promotionMembers)
      .innerJoin(repositories, eq(repositories.id, promotionMembers.repositoryId))
      .where(inArray(promotionMembers.promotionId, [...ids]))
      .orderBy(repositories.repoId),
  );
  for (const { promotionId, ...m } of rows) out.get(promotionId)!.push(m);
  return out;
}

async function selectPromotions(q: Queryable, where: SQL | undefined, limit?: number): Promise<PromotionRow[]> {
  const rows = await orm(q, (db) => {
    const query = db.select().from(promotions).where(where).orderBy(desc(promotions.id));
    return limit === undefined ? query : query.limit(limit);
  });
  const members = await membersOf(
    q,
    rows.map((r) => r.id),
  );
  return rows.map((r) => ({ ...r, members: members.get(r.id) ?? [] }));
}

/** What the group shows in the environment now: the newest row, or null when it was never promoted there. */
export async function currentPromotion(q: Queryable, groupId: string, environment: string): Promise<PromotionRow | null> {
  const [row] = await selectPromotions(q, and(eq(promotions.groupId, groupId), eq(promotions.environment, environment)), 1);
  return row ?? null;
}

export async function promotionById(q: Queryable, id: number): Promise<PromotionRow | null> {
  const [row] = await selectPromotions(q, eq(promotions.id, id));
  return row ?? null;
}

/** Newest first; either filter may be left out. */
export async function promotionHistory(q: Queryable, filter: { groupId?: string; environment?: string; limit?: number }): Promise<PromotionRow[]> {
  const where = and(
    filter.groupId === undefined ? undefined : eq(promotions.groupId, filter.groupId),
    filter.environment === undefined ? undefined : eq(promotions.environment, filter.environment),
  );
  return selectPromotions(q, where, filter.limit);
}

/** Every group's current row in the environment: together they are what <published>/<env>/ serves. */
export async function environmentState(q: Queryable, environment: string): Promise<PromotionRow[]> {
  const r = await (q as pg.Pool).query(`SELECT DISTINCT ON (group_id) id FROM chantal.promotions WHERE environment = $1 ORDER BY group_id, id DESC`, [
    environment,
  ]);
  const ids = r.rows.map((row) => Number(row.id));
  return ids.length === 0 ? [] : selectPromotions(q, inArray(promotions.id, ids));
}

/** A switch to record: a row without what the database assigns (id, time), with its members by repository row. */
export type NewPromotion = Omit<PromotionRow, "id" | "promotedAt" | "members"> & {
  members: readonly { repositoryId: number; snapshotId: number | null; snapshotName: string }[];
};

/** Record one switch with its members (inside the caller's transaction); returns its id. */
export async function insertPromotion(client: pg.ClientBase, p: NewPromotion): Promise<number> {
  const { members, ...row } = p;
  const [inserted] = await orm(client, (db) => db.insert(promotions).values(row).returning({ id: promotions.id }));
  const id = inserted!.id;
  if (members.length > 0) await orm(client, (db) => db.insert(promotionMembers).values(members.map((m) => ({ promotionId: id, ...m }))));
  return id;
}

export interface SnapshotUse {
  groupId: string;
  environment: string;
  /** "current": served now; "previous": what a rollback returns to, still readable by clients mid-download. */
  role: "current" | "previous";
}

/** The environments that serve the snapshot now or would return to it on rollback: it must not be deleted under them. */
export async function snapshotUses(q: Queryable, snapshotId: number): Promise<SnapshotUse[]> {
  const r = await (q as pg.Pool).query(
    `WITH cur AS (SELECT DISTINCT ON (group_id, environment) id, group_id, environment, previous_id FROM chantal.promotions ORDER BY group_id, environment, id DESC)
     SELECT cur.group_id, cur.environment, 'current' AS role FROM cur JOIN chantal.promotion_members m ON m.promotion_id = cur.id WHERE m.snapshot_id = $1
     UNION
     SELECT cur.group_id, cur.environment, 'previous' AS role FROM cur JOIN chantal.promotion_members m ON m.promotion_id = cur.previous_id WHERE m.snapshot_id = $1
     ORDER BY 1, 2, 3`,
    [snapshotId],
  );
  return r.rows.map((row) => ({ groupId: row.group_id, environment: row.environment, role: row.role }));
}
