// sync_runs rows: one per attempt, written at start and finished with its outcome.
import { hostname } from "node:os";
import { and, desc, eq, getTableColumns, gte, sql } from "./drizzle.js";
import { orm, type Queryable } from "./orm.js";
import { repositories, syncRuns, type SyncStatus, type SyncTrigger } from "./schema.js";

export interface RunCounts {
  packagesTotal: number;
  packagesDownloaded: number;
  packagesAdded: number;
  packagesRemoved: number;
  bytesDownloaded: number;
}

export const zeroCounts = (): RunCounts => ({ packagesTotal: 0, packagesDownloaded: 0, packagesAdded: 0, packagesRemoved: 0, bytesDownloaded: 0 });

/** Runs left 'running' by a process that died (we hold the lock now, so none of them is alive). */
export async function markAbandonedRuns(q: Queryable, repositoryId: number): Promise<number> {
  const r = await orm(q, (db) =>
    db
      .update(syncRuns)
      .set({ status: "interrupted", finishedAt: sql`now()`, error: sql`COALESCE(${syncRuns.error}, ${"the process running this sync died"})` })
      .where(and(eq(syncRuns.repositoryId, repositoryId), eq(syncRuns.status, "running"))),
  );
  return r.rowCount ?? 0;
}

export async function startRun(
  q: Queryable,
  repositoryId: number,
  trigger: SyncTrigger,
  status: SyncStatus = "running",
  startedAt = new Date(),
): Promise<number> {
  const [row] = await orm(q, (db) =>
    db.insert(syncRuns).values({ repositoryId, trigger, host: hostname(), pid: process.pid, status, startedAt }).returning({ id: syncRuns.id }),
  );
  return row!.id;
}

export async function finishRun(
  q: Queryable,
  runId: number,
  outcome: { status: SyncStatus; counts: RunCounts; error?: string | null; snapshotName?: string | null; finishedAt?: Date },
): Promise<void> {
  const c = outcome.counts;
  await orm(q, (db) =>
    db
      .update(syncRuns)
      .set({
        status: outcome.status,
        finishedAt: outcome.finishedAt ?? new Date(),
        packagesTotal: c.packagesTotal,
        packagesDownloaded: c.packagesDownloaded,
        packagesAdded: c.packagesAdded,
        packagesRemoved: c.packagesRemoved,
        bytesDownloaded: c.bytesDownloaded,
        error: outcome.error ?? null,
        // No name given keeps the one recorded earlier.
        ...(outcome.snapshotName != null ? { snapshotName: outcome.snapshotName } : {}),
      })
      .where(eq(syncRuns.id, runId)),
  );
}

export interface SyncRunRow extends RunCounts {
  id: number;
  repoId: string;
  trigger: SyncTrigger;
  host: string;
  pid: number;
  startedAt: Date;
  finishedAt: Date | null;
  status: SyncStatus;
  snapshotName: string | null;
  error: string | null;
}

export async function recentRuns(q: Queryable, opts: { repoId?: string; limit?: number; trigger?: SyncTrigger; since?: Date } = {}): Promise<SyncRunRow[]> {
  const { repositoryId: _repositoryId, ...runColumns } = getTableColumns(syncRuns);
  return orm(q, (db) =>
    db
      .select({ ...runColumns, repoId: repositories.repoId })
      .from(syncRuns)
      .innerJoin(repositories, eq(repositories.id, syncRuns.repositoryId))
      .where(
        and(
          opts.repoId === undefined ? undefined : eq(repositories.repoId, opts.repoId),
          opts.trigger === undefined ? undefined : eq(syncRuns.trigger, opts.trigger),
          opts.since === undefined ? undefined : gte(syncRuns.startedAt, opts.since),
        ),
      )
      .orderBy(desc(syncRuns.startedAt), desc(syncRuns.id))
      .limit(opts.limit ?? 20),
  );
}

/** Delete every run of a repository (repo remove); returns how many. */
export async function deleteRunsOf(q: Queryable, repositoryId: number): Promise<number> {
  const r = await orm(q, (db) => db.delete(syncRuns).where(eq(syncRuns.repositoryId, repositoryId)));
  return r.rowCount ?? 0;
}

export interface RunSummary {
  repoId: string;
  total: number;
  success: number;
  noop: number;
  failed: number;
  interrupted: number;
  packagesAdded: number;
  packagesRemoved: number;
  snapshots: string[];
  /** The error of the newest failed or interrupted run of the window. */
  lastError: string | null;
}

/** Per repository, the runs that finished in [from, to): the daily digest's "what changed". */
export async function runSummariesBetween(q: Queryable, from: Date, to: Date): Promise<Map<string, RunSummary>> {
  const r = await q.query(
    `SELECT r.repo_id,
            count(*)::int AS total,
            count(*) FILTER (WHERE s.status = 'success')::int AS success,
            count(*) FILTER (WHERE s.status = 'noop')::int AS noop,
            count(*) FILTER (WHERE s.status = 'failed')::int AS failed,
            count(*) FILTER (WHERE s.status = 'interrupted')::int AS interrupted,
            COALESCE(sum(s.packages_added) FILTER (WHERE s.status = 'success'), 0)::bigint AS added,
            COALESCE(sum(s.packages_removed) FILTER (WHERE s.status = 'success'), 0)::bigint AS removed,
            COALESCE(array_agg(s.snapshot_name ORDER BY s.finished_at) FILTER (WHERE s.snapshot_name IS NOT NULL), '{}') AS snapshots,
            (array_agg(s.error ORDER BY s.finished_at DESC) FILTER (WHERE s.status IN ('failed', 'interrupted')))[1] AS last_error
       FROM chantal.sync_runs s JOIN chantal.repositories r ON r.id = s.repository_id
      WHERE s.finished_at >= $1 AND s.finished_at < $2 AND s.status IN ('success', 'noop', 'failed', 'interrupted')
      GROUP BY r.repo_id`,
    [from, to],
  );
  return new Map(
    r.rows.map((row) => [
      row.repo_id as string,
      {
        repoId: row.repo_id,
        total: row.total,
        success: row.success,
        noop: row.noop,
        failed: row.failed,
        interrupted: row.interrupted,
        packagesAdded: Number(row.added),
        packagesRemoved: Number(row.removed),
        snapshots: row.snapshots,
        lastError: row.last_error ?? null,
      },
    ]),
  );
}
