// sync_runs rows: one per attempt, written at start and finished with its outcome.
import { hostname } from "node:os";
import { and, desc, eq, getTableColumns, sql } from "drizzle-orm";
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

export async function recentRuns(q: Queryable, opts: { repoId?: string; limit?: number } = {}): Promise<SyncRunRow[]> {
  const { repositoryId: _repositoryId, ...runColumns } = getTableColumns(syncRuns);
  return orm(q, (db) =>
    db
      .select({ ...runColumns, repoId: repositories.repoId })
      .from(syncRuns)
      .innerJoin(repositories, eq(repositories.id, syncRuns.repositoryId))
      .where(opts.repoId === undefined ? undefined : eq(repositories.repoId, opts.repoId))
      .orderBy(desc(syncRuns.startedAt), desc(syncRuns.id))
      .limit(opts.limit ?? 20),
  );
}

/** Delete every run of a repository (repo remove); returns how many. */
export async function deleteRunsOf(q: Queryable, repositoryId: number): Promise<number> {
  const r = await orm(q, (db) => db.delete(syncRuns).where(eq(syncRuns.repositoryId, repositoryId)));
  return r.rowCount ?? 0;
}
