// The dashboard's read queries: each returns the JSON an /api/ endpoint serves and its page renders (nothing here writes).
import type pg from "pg";
import { backupListingJson, listBackups } from "../backup/list.js";
import type { BackupStore } from "../backup/store.js";
import type { Config } from "../config/schema.js";
import { recentRuns, type SyncRunRow } from "../db/sync-runs.js";
import { currentPromotion } from "../environments/promotions.js";
import { errorMessage } from "../errors.js";
import { freshnessJson, repositoriesFreshness } from "../freshness/report.js";
import { listGroupSnapshots } from "../groups/group-snapshots.js";
import { DEFAULT_PROTECT_MINUTES } from "../lifecycle/gc.js";
import type { SchedulerView } from "../metrics/registry.js";
import { redactUrl } from "../redact.js";
import { nextFire } from "../schedule/next.js";
import { scheduleTimeZone, syncJobKey, unscheduledReason } from "../schedule/plan.js";
import { readSchedulerStatus } from "../schedule/state.js";
import { windowWaitOf } from "../schedule/windows.js";
import { diffSnapshots, findSnapshot, formatEvr, listSnapshots, type PackageVersion, type SnapshotDiff } from "../snapshots/snapshots.js";
import type { BlobStore } from "../storage/blob-store.js";
import { storageUsage } from "../storage/usage.js";

/** What the queries read: the database, the pool, the configuration of now (SIGHUP may replace it) and the daemon's view. */
export interface WebSources {
  db: pg.Pool;
  blobs: BlobStore;
  config: Config;
  now: () => Date;
  backups?: () => BackupStore;
  scheduler?: () => SchedulerView;
  warn?: (message: string) => void;
}

/** A request for something that is not there (an unknown repository or snapshot): 404 with this message. */
export class NotFound extends Error {}

/** Limits of what one response lists (a dashboard page stays small). */
export const RUN_LIMIT = 50;
export const MAX_RUN_LIMIT = 500;

function runJson(r: SyncRunRow) {
  return {
    id: r.id,
    repository: r.repoId,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    duration_seconds: r.finishedAt ? (r.finishedAt.getTime() - r.startedAt.getTime()) / 1000 : null,
    trigger: r.trigger,
    status: r.status,
    packages_total: r.packagesTotal,
    packages_downloaded: r.packagesDownloaded,
    packages_added: r.packagesAdded,
    packages_removed: r.packagesRemoved,
    bytes_downloaded: r.bytesDownloaded,
    snapshot: r.snapshotName,
    error: r.error,
  };
}
export type RunJson = ReturnType<typeof runJson>;

/** The daemon's next fire time of the repository's sync; without a daemon (or before it planned it) the cron's next time. */
function nextRun(src: WebSources, repoId: string): Date | null {
  const known = src.scheduler?.().nextRuns.get(syncJobKey(repoId));
  if (known) return known;
  const repo = src.config.repositories.find((r) => r.id === repoId);
  if (!repo || unscheduledReason(repo)) return null;
  try {
    return nextFire(repo.schedule!.cron, src.now(), scheduleTimeZone(src.config, repo.schedule!.timezone));
  } catch {
    return null;
  }
}

/** Every repository of the configuration, then those only the database knows: freshness, last run (with its error), next run. */
export async function repositoriesJson(src: WebSources, only?: string) {
  const fresh = new Map(
    (await repositoriesFreshness(src.db, src.blobs, src.config, src.now(), { ...(only ? { repoId: only } : {}), warn: src.warn })).map((f) => [f.repoId, f]),
  );
  const configured = src.config.repositories.filter((r) => only === undefined || r.id === only);
  const ids = [...configured.map((r) => r.id), ...[...fresh.keys()].filter((id) => !configured.some((r) => r.id === id)).sort()];
  // Due runs waiting for a maintenance window, as the running daemon (this process or another host's) recorded them.
  const status = await readSchedulerStatus(src.db);
  const waitingFor = (id: string) => {
    const wait = windowWaitOf(
      status.schedules.find((s) => s.jobKey === syncJobKey(id)),
      status.running.length > 0,
    );
    return wait ? { opens_at: wait.opensAt } : null;
  };
  const out = [];
  for (const id of ids) {
    const repo = configured.find((r) => r.id === id);
    const f = fresh.get(id);
    const [last] = await recentRuns(src.db, { repoId: id, limit: 1 });
    out.push({
      id,
      type: repo?.type ?? f?.row.type ?? null,
      enabled: repo?.enabled ?? false,
      in_config: repo !== undefined,
      description: repo?.description ?? null,
      upstream_url: repo ? redactUrl(repo.upstream_url) : null,
      schedule: repo?.schedule?.enabled ? repo.schedule.cron : null,
      package_count: f?.row.packageCount ?? 0,
      freshness: freshnessJson(f),
      last_run: last ? runJson(last) : null,
      next_run: nextRun(src, id),
      waiting_for_window: repo?.schedule?.enabled ? waitingFor(id) : null,
    });
  }
  return out;
}
export type RepositoryJson = Awaited<ReturnType<typeof repositoriesJson>>[number];

/** One repository: its row above, its run history (errors included), its snapshots and the groups it is in. */
export async function repositoryJson(src: WebSources, repoId: string, limit = RUN_LIMIT) {
  const [repo] = await repositoriesJson(src, repoId);
  if (!repo) throw new NotFound(`no repository "${repoId}" in the configuration or the database`);
  const snapshots = await listSnapshots(src.db, repoId);
  return {
    ...repo,
    groups: src.config.groups.filter((g) => g.repositories.includes(repoId)).map((g) => g.id),
    runs: (await recentRuns(src.db, { repoId, limit })).map(runJson),
    snapshots: snapshots.map((s) => ({
      name: s.name,
      created_at: s.createdAt,
      package_count: s.packageCount,
      total_bytes: s.totalSize,
      published_at: s.publishedAt,
    })),
  };
}

export async function runsJson(src: WebSources, opts: { repoId?: string; limit?: number } = {}) {
  return (await recentRuns(src.db, { ...(opts.repoId ? { repoId: opts.repoId } : {}), limit: opts.limit ?? RUN_LIMIT })).map(runJson);
}

export interface DiffRow {
  name: string;
  arch: string;
  from: string | null;
  to: string | null;
  change: "added" | "removed" | "upgrade" | "downgrade";
}

/** The diff as rows side by side: one per name.arch that changed, its version in each snapshot, sorted by name. */
export function sideBySide(diff: SnapshotDiff): DiffRow[] {
  const row = (p: PackageVersion, change: "added" | "removed"): DiffRow => ({
    name: p.name,
    arch: p.arch,
    from: change === "removed" ? formatEvr(p) : null,
    to: change === "added" ? formatEvr(p) : null,
    change,
  });
  return [
    ...diff.added.map((p) => row(p, "added")),
    ...diff.removed.map((p) => row(p, "removed")),
    ...diff.updated.map((u) => ({ name: u.name, arch: u.arch, from: formatEvr(u.from), to: formatEvr(u.to), change: u.direction })),
  ].sort((a, b) => a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch));
}

/** Snapshot from → to of one repository (snapshot diff's comparison), as counts and side-by-side rows. */
export async function snapshotDiffJson(src: WebSources, repoId: string, from: string, to: string) {
  const [a, b] = [await findSnapshot(src.db, repoId, from), await findSnapshot(src.db, repoId, to)];
  const missing = [a ? null : from, b ? null : to].filter((n) => n !== null);
  if (!a || !b) throw new NotFound(`repository ${repoId} has no snapshot named ${missing.map((n) => JSON.stringify(n)).join(" or ")}`);
  const diff = await diffSnapshots(src.db, a, b);
  return {
    repository: repoId,
    from: { name: a.name, created_at: a.createdAt, package_count: a.packageCount },
    to: { name: b.name, created_at: b.createdAt, package_count: b.packageCount },
    counts: { added: diff.added.length, removed: diff.removed.length, updated: diff.updated.length },
    rows: sideBySide(diff),
  };
}

async function groupJson(src: WebSources, g: Config["groups"][number]) {
  const snapshots = await listGroupSnapshots(src.db, g.id);
  const environments = [];
  for (const env of src.config.environments) {
    const p = await currentPromotion(src.db, g.id, env);
    environments.push({
      environment: env,
      snapshot: p?.snapshotName ?? null,
      promoted_at: p?.promotedAt ?? null,
      kind: p?.kind ?? null,
      members: p?.members.map((m) => ({ repository: m.repoId, snapshot: m.snapshotName })) ?? [],
    });
  }
  return {
    id: g.id,
    description: g.description ?? null,
    repositories: g.repositories,
    schedule: g.schedule?.enabled ? g.schedule.cron : null,
    snapshots: snapshots.map((s) => ({ name: s.name, created_at: s.createdAt, members: s.members.map((m) => ({ repository: m.repoId, snapshot: m.name })) })),
    environments,
  };
}

/** Groups with their members and snapshots, and per environment what each group serves there (its current promotion). */
export async function groupsJson(src: WebSources) {
  const groups: Awaited<ReturnType<typeof groupJson>>[] = [];
  for (const g of src.config.groups) groups.push(await groupJson(src, g));
  return {
    environments: src.config.environments.map((env) => ({
      environment: env,
      serves: groups.flatMap((g) => {
        const e = g.environments.find((x) => x.environment === env);
        return e?.snapshot ? [{ group: g.id, snapshot: e.snapshot, promoted_at: e.promoted_at, members: e.members }] : [];
      }),
    })),
    groups,
  };
}

export interface BackupsJson {
  target: string | null;
  error: string | null;
  backups: {
    name: string;
    created_at: Date;
    size: number;
    valid: boolean;
    error: string | null;
    packages: number | null;
    database_version: string | null;
  }[];
}

/** The backups in the backup target, newest first (an unreadable archive is listed as invalid, a target that cannot be listed as an error). */
export async function backupsJson(src: WebSources, signal?: AbortSignal): Promise<BackupsJson> {
  if (!src.backups) return { target: null, error: "no backup target is known to this listener", backups: [] };
  const store = src.backups();
  try {
    const list = await listBackups(store, signal);
    return {
      target: store.describe(),
      error: null,
      backups: list.map(backupListingJson),
    };
  } catch (err) {
    return { target: store.describe(), error: errorMessage(err), backups: [] };
  } finally {
    store.close();
  }
}

/** storage usage: per repository, the pool's total and free space, what pool gc would free (a dry run: nothing is deleted). */
export async function poolJson(src: WebSources, signal?: AbortSignal) {
  const protectMinutes = src.config.pool?.gc?.protect_minutes ?? DEFAULT_PROTECT_MINUTES;
  const u = await storageUsage(src.db, src.config, { protectMs: protectMinutes * 60_000, ...(signal ? { signal } : {}) });
  return { ...u, protect_minutes: protectMinutes };
}

/** The daemon's schedules: next run per job, what runs and waits now (null without a daemon). */
export function schedulerJson(src: WebSources) {
  if (!src.scheduler) return null;
  const v = src.scheduler();
  return {
    next_runs: [...v.nextRuns].map(([job, at]) => ({ job, at })).sort((a, b) => a.at.getTime() - b.at.getTime()),
    queued: v.queued,
    running: v.running,
  };
}
