// Which scheduled jobs a configuration asks for: pure, so the daemon, `scheduler list` and tests agree.
//
// A job is one schedule of one kind: "sync" (one per repository with an enabled schedule), "backup" (the
// backup.schedule), "pool-gc" (pool.gc.schedule) or "group-snapshot" (one per group with an enabled schedule; it runs
// after its members' syncs of the same fire time, core/schedule/group-slot.ts) or "notify-digest" (notify.email.digest:
// the daily digest mail, core/notify/digest.ts). The daemon, queue, catch-up and state are kind-agnostic; each kind's handler is in
// functions/scheduler.ts (jobHandlers).
import type { Config, RepositoryConfig } from "../config/schema.js";
import { hostTimeZone } from "./zone.js";

export type JobKind = "sync" | "backup" | "pool-gc" | "group-snapshot" | "notify-digest";

export interface ScheduledJob {
  /** Unique and stable: the key of its row in chantal.schedule_state ("sync:<repo_id>"). */
  key: string;
  kind: JobKind;
  /** What the job acts on: the repository id for "sync", "database" for "backup", "pool" for "pool-gc", the group id for "group-snapshot", "email" for "notify-digest". */
  target: string;
  cron: string;
  timeZone: string;
  jitterSeconds: number;
  /** Set when the schedule creates a snapshot after a successful sync; a group snapshot's name template. */
  snapshotTemplate?: string;
  /** "group-snapshot": the member repositories, in the group's order. */
  members?: string[];
}

export const syncJobKey = (repoId: string): string => `sync:${repoId}`;
export const BACKUP_JOB_KEY = "backup";
export const POOL_GC_JOB_KEY = "pool-gc";
export const NOTIFY_DIGEST_JOB_KEY = "notify-digest";
export const groupSnapshotJobKey = (groupId: string): string => `group-snapshot:${groupId}`;

/** schedule.timezone, else scheduler.timezone, else the host's zone. */
export function scheduleTimeZone(config: Config, own: string | undefined, hostZone: string = hostTimeZone()): string {
  return own ?? config.scheduler.timezone ?? hostZone;
}

/** Why a configured repository has no scheduled sync, or null when it has one. */
export function unscheduledReason(repo: RepositoryConfig): "repository disabled" | "manual only" | null {
  if (!repo.schedule?.enabled) return "manual only";
  if (!repo.enabled) return "repository disabled";
  return null;
}

export function planJobs(config: Config, hostZone: string = hostTimeZone()): ScheduledJob[] {
  const jobs: ScheduledJob[] = [];
  for (const repo of config.repositories) {
    if (unscheduledReason(repo) !== null) continue;
    const s = repo.schedule!;
    jobs.push({
      key: syncJobKey(repo.id),
      kind: "sync",
      target: repo.id,
      cron: s.cron,
      timeZone: scheduleTimeZone(config, s.timezone, hostZone),
      jitterSeconds: s.jitter_seconds,
      ...(s.create_snapshot ? { snapshotTemplate: s.snapshot_name_template } : {}),
    });
  }
  const backup = config.backup.schedule;
  if (backup?.enabled) {
    jobs.push({
      key: BACKUP_JOB_KEY,
      kind: "backup",
      target: "database",
      cron: backup.cron,
      timeZone: scheduleTimeZone(config, backup.timezone, hostZone),
      jitterSeconds: 0,
    });
  }
  const gc = config.pool?.gc?.schedule;
  if (gc?.enabled) {
    jobs.push({
      key: POOL_GC_JOB_KEY,
      kind: "pool-gc",
      target: "pool",
      cron: gc.cron,
      timeZone: scheduleTimeZone(config, gc.timezone, hostZone),
      jitterSeconds: 0,
    });
  }
  for (const group of config.groups) {
    const s = group.schedule;
    if (!s?.enabled) continue;
    jobs.push({
      key: groupSnapshotJobKey(group.id),
      kind: "group-snapshot",
      target: group.id,
      cron: s.cron,
      timeZone: scheduleTimeZone(config, s.timezone, hostZone),
      jitterSeconds: 0,
      snapshotTemplate: s.name,
      members: [...group.repositories],
    });
  }
  const email = config.notify?.email;
  if (email?.digest) {
    jobs.push({
      key: NOTIFY_DIGEST_JOB_KEY,
      kind: "notify-digest",
      target: "email",
      cron: email.digest_cron,
      timeZone: scheduleTimeZone(config, email.digest_timezone, hostZone),
      jitterSeconds: 0,
    });
  }
  return jobs;
}

/** Two plans of one job fire at the same times (a change of jitter or snapshot settings keeps the next run). */
export function sameTiming(a: Pick<ScheduledJob, "cron" | "timeZone">, b: Pick<ScheduledJob, "cron" | "timeZone">): boolean {
  return a.cron.trim() === b.cron.trim() && a.timeZone === b.timeZone;
}

export interface PlanChanges {
  added: ScheduledJob[];
  removed: ScheduledJob[];
  /** Same key, different cron or zone: the next run is computed again. */
  retimed: ScheduledJob[];
  /** Same key and timing, other settings changed (jitter, snapshot): the next run is kept. */
  updated: ScheduledJob[];
}

export function diffPlans(before: readonly ScheduledJob[], after: readonly ScheduledJob[]): PlanChanges {
  const old = new Map(before.map((j) => [j.key, j]));
  const now = new Map(after.map((j) => [j.key, j]));
  const changes: PlanChanges = { added: [], removed: [], retimed: [], updated: [] };
  for (const job of after) {
    const prev = old.get(job.key);
    if (!prev) changes.added.push(job);
    else if (!sameTiming(prev, job)) changes.retimed.push(job);
    else if (JSON.stringify(prev) !== JSON.stringify(job)) changes.updated.push(job);
  }
  for (const job of before) if (!now.has(job.key)) changes.removed.push(job);
  return changes;
}
