// sync_runs rows: one per attempt, written at start and finished with its outcome.
import { hostname } from "node:os";
import type pg from "pg";
import type { SyncStatus, SyncTrigger } from "./schema.js";

export interface RunCounts {
  packagesTotal: number;
  packagesDownloaded: number;
  packagesAdded: number;
  packagesRemoved: number;
  bytesDownloaded: number;
}

export const zeroCounts = (): RunCounts => ({ packagesTotal: 0, packagesDownloaded: 0, packagesAdded: 0, packagesRemoved: 0, bytesDownloaded: 0 });

/** Runs left 'running' by a process that died (we hold the lock now, so none of them is alive). */
export async function markAbandonedRuns(q: pg.Pool | pg.ClientBase, repositoryId: number): Promise<number> {
  const r = await q.query(
    `UPDATE chantal.sync_runs SET status = 'interrupted', finished_at = now(), error = COALESCE(error, 'the process running this sync died')
     WHERE repository_id = $1 AND status = 'running'`,
    [repositoryId],
  );
  return r.rowCount ?? 0;
}

export async function startRun(q: pg.Pool | pg.ClientBase, repositoryId: number, trigger: SyncTrigger, status: SyncStatus = "running", startedAt = new Date()): Promise<number> {
  const r = await q.query(
    `INSERT INTO chantal.sync_runs (repository_id, trigger, host, pid, status, started_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [repositoryId, trigger, hostname(), process.pid, status, startedAt],
  );
  return Number(r.rows[0].id);
}

export async function finishRun(
  q: pg.Pool | pg.ClientBase,
  runId: number,
  outcome: { status: SyncStatus; counts: RunCounts; error?: string | null; snapshotName?: string | null; finishedAt?: Date },
): Promise<void> {
  const c = outcome.counts;
  await q.query(
    `UPDATE chantal.sync_runs SET status = $2, finished_at = $3, packages_total = $4, packages_downloaded = $5, packages_added = $6,
       packages_removed = $7, bytes_downloaded = $8, error = $9, snapshot_name = COALESCE($10, snapshot_name) WHERE id = $1`,
    [runId, outcome.status, outcome.finishedAt ?? new Date(), c.packagesTotal, c.packagesDownloaded, c.packagesAdded, c.packagesRemoved, c.bytesDownloaded, outcome.error ?? null, outcome.snapshotName ?? null],
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

export async function recentRuns(q: pg.Pool | pg.ClientBase, opts: { repoId?: string; limit?: number } = {}): Promise<SyncRunRow[]> {
  const r = await q.query(
    `SELECT s.*, r.repo_id FROM chantal.sync_runs s JOIN chantal.repositories r ON r.id = s.repository_id
     WHERE ($1::text IS NULL OR r.repo_id = $1) ORDER BY s.started_at DESC, s.id DESC LIMIT $2`,
    [opts.repoId ?? null, opts.limit ?? 20],
  );
  return r.rows.map((row) => ({
    id: Number(row.id),
    repoId: row.repo_id,
    trigger: row.trigger,
    host: row.host,
    pid: row.pid,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    status: row.status,
    snapshotName: row.snapshot_name,
    error: row.error,
    packagesTotal: row.packages_total,
    packagesDownloaded: row.packages_downloaded,
    packagesAdded: row.packages_added,
    packagesRemoved: row.packages_removed,
    bytesDownloaded: Number(row.bytes_downloaded),
  }));
}

/** Delete every run of a repository (repo remove); returns how many. */
export async function deleteRunsOf(q: pg.Pool | pg.ClientBase, repositoryId: number): Promise<number> {
  const r = await q.query(`DELETE FROM chantal.sync_runs WHERE repository_id = $1`, [repositoryId]);
  return r.rowCount ?? 0;
}
