// The Prometheus registry (prom-client) built from the database at each scrape: repositories, freshness, scheduler, backups, pool.
import { Gauge, Registry } from "prom-client";
import { dateFromBackupName, isArchiveName } from "../backup/naming.js";
import type { BackupStore } from "../backup/store.js";
import type { Config } from "../config/schema.js";
import type { Queryable } from "../db/orm.js";
import { errorMessage } from "../errors.js";
import { repositoriesFreshness } from "../freshness/report.js";
import { FRESHNESS_STATES } from "../freshness/state.js";
import type { BlobStore } from "../storage/blob-store.js";

/** The run statuses `chantal_repository_last_run_status` has a series for (1 for the current one, 0 for the others). */
export const RUN_STATUSES = ["success", "noop", "failed", "interrupted", "skipped-locked"] as const;

/** What the running daemon knows that the database does not (absent for `metrics write`). */
export interface SchedulerView {
  nextRuns: ReadonlyMap<string, Date>;
  queued: number;
  running: number;
}

export interface MetricsSources {
  db: Queryable;
  blobs: BlobStore;
  config: Pick<Config, "freshness" | "repositories">;
  now: () => Date;
  /** Where backups are; undefined: no backup metrics. */
  backups?: () => BackupStore;
  scheduler?: () => SchedulerView;
  warn?: (message: string) => void;
}

const seconds = (d: Date) => d.getTime() / 1000;

/** Pool bytes as the database records them: every package and metadata blob once (what `storage usage` calls the pool's total is the same set). */
async function recordedPoolBytes(q: Queryable): Promise<number> {
  const r = await q.query(
    `SELECT (SELECT COALESCE(sum(size), 0) FROM chantal.packages) + (SELECT COALESCE(sum(size), 0) FROM chantal.metadata_files) AS bytes`,
  );
  return Number(r.rows[0].bytes);
}

/** A fresh registry filled from the database now: one per scrape, so that a removed repository's series go away with it. */
export async function buildRegistry(src: MetricsSources): Promise<Registry> {
  const registry = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const repo = (name: string, help: string, labelNames: string[] = []) => gauge(name, help, ["repo_id", ...labelNames]);
  const lastSuccess = repo("chantal_repository_last_success_timestamp_seconds", "Unix time the last successful (or no-op) sync finished");
  const lastStatus = repo("chantal_repository_last_run_status", "1 for the status of the last finished run, 0 for the others", ["status"]);
  const lastDuration = repo("chantal_repository_last_run_duration_seconds", "Duration of the last finished run");
  const lastBytes = repo("chantal_repository_last_run_downloaded_bytes", "Bytes downloaded by the last finished run");
  const lastPackages = repo("chantal_repository_last_run_downloaded_packages", "Packages downloaded by the last finished run");
  const lastAdded = repo("chantal_repository_last_run_added_packages", "Packages added (or changed) by the last finished run");
  const packages = repo("chantal_repository_packages", "Packages in the repository's current set");
  const freshness = repo("chantal_repository_freshness_state", "1 for the repository's freshness state (freshness: policy), 0 for the others", ["state"]);
  const validUntil = repo("chantal_repository_valid_until_timestamp_seconds", "Unix time of upstream's Release Valid-Until (APT repositories that set one)");
  const upstream = repo("chantal_repository_upstream_timestamp_seconds", "Upstream's own timestamp: repomd.xml revision (when a Unix time) or Release Date");

  for (const f of await repositoriesFreshness(src.db, src.blobs, src.config, src.now(), { warn: src.warn })) {
    const id = { repo_id: f.repoId };
    const run = f.row.lastRun;
    if (f.row.lastSuccessAt) lastSuccess.set(id, seconds(f.row.lastSuccessAt));
    if (run) {
      for (const s of new Set<string>([...RUN_STATUSES, run.status])) lastStatus.set({ ...id, status: s }, s === run.status ? 1 : 0);
      lastDuration.set(id, (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000);
      lastBytes.set(id, run.bytesDownloaded);
      lastPackages.set(id, run.packagesDownloaded);
      lastAdded.set(id, run.packagesAdded);
    }
    packages.set(id, f.row.packageCount);
    for (const s of FRESHNESS_STATES) freshness.set({ ...id, state: s }, s === f.state ? 1 : 0);
    if (f.validUntil) validUntil.set(id, seconds(f.validUntil));
    if (f.upstreamTimestamp) upstream.set(id, seconds(f.upstreamTimestamp));
  }

  gauge("chantal_pool_recorded_bytes", "Bytes of every blob the database records in the pool (packages and metadata, each once)").set(
    await recordedPoolBytes(src.db),
  );

  if (src.backups) {
    const store = src.backups();
    try {
      const archives = (await store.list()).filter((o) => isArchiveName(o.name));
      gauge("chantal_backups", "Backup archives in the backup target").set(archives.length);
      const dated = archives.map((o) => ({ o, at: dateFromBackupName(o.name) ?? o.modified })).sort((a, b) => b.at.getTime() - a.at.getTime());
      if (dated[0]) {
        gauge("chantal_backup_last_success_timestamp_seconds", "Unix time of the newest backup archive").set(seconds(dated[0].at));
        gauge("chantal_backup_last_size_bytes", "Size of the newest backup archive").set(dated[0].o.size);
      }
    } catch (err) {
      src.warn?.(`metrics: cannot list the backups in ${store.describe()}: ${errorMessage(err)}`);
    } finally {
      store.close();
    }
  }

  if (src.scheduler) {
    const v = src.scheduler();
    const next = gauge("chantal_scheduler_next_run_timestamp_seconds", "Unix time of each schedule's next run", ["job"]);
    for (const [job, at] of v.nextRuns) next.set({ job }, seconds(at));
    gauge("chantal_scheduler_queued_runs", "Runs waiting in the scheduler's queue").set(v.queued);
    gauge("chantal_scheduler_running_runs", "Runs the scheduler is running now").set(v.running);
  }
  return registry;
}

/** The text exposition format of everything above. */
export async function metricsText(src: MetricsSources): Promise<string> {
  return (await buildRegistry(src)).metrics();
}
