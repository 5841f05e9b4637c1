// The notification events and their JSON body (the webhook payload, README "Notifications"): built from a finished sync,
// a freshness state change or a backup; pure, snake_case on the wire.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { NotifyEventName } from "../config/schema.js";
import { chantalVersion } from "../package-info.js";
import type { FreshnessState } from "../freshness/state.js";
import { formatEvr, type PackageVersion, type SnapshotDiff } from "../snapshots/snapshots.js";

export type { NotifyEventName };

/** Most entries of each change list carried in one event; the counts are always whole. */
export const MAX_CHANGE_ENTRIES = 500;

export interface RunCountsJson {
  packages_total: number;
  packages_downloaded: number;
  packages_added: number;
  packages_removed: number;
  bytes_downloaded: number;
}

export interface PackageJson {
  name: string;
  arch: string;
  version: string;
}

export interface AdvisoryJson {
  id: string;
  type: string | null;
  severity: string | null;
  title: string | null;
}

export interface ChangesJson {
  added: PackageJson[];
  removed: PackageJson[];
  updated: { name: string; arch: string; from: string; to: string; direction: "upgrade" | "downgrade" }[];
  added_count: number;
  removed_count: number;
  updated_count: number;
  /** RPM: advisories of the new updateinfo.xml that the previous one did not have. */
  advisories?: AdvisoryJson[];
  advisories_count?: number;
  /** Some list was cut at MAX_CHANGE_ENTRIES. */
  truncated: boolean;
}

export interface NotifyEvent {
  /** The event's name: also the X-Chantal-Event header. */
  event: NotifyEventName;
  /** Unique per event (X-Chantal-Delivery): a receiver drops a retried duplicate by it. */
  id: string;
  occurred_at: string;
  chantal: { version: string; host: string };
  /** The repository the event is about (absent for backups). */
  repository?: string;
  run?: {
    id: number | null;
    trigger: string;
    status: string;
    duration_ms: number;
    counts: RunCountsJson;
    error: string | null;
    snapshot: string | null;
    published: string | null;
  };
  changes?: ChangesJson;
  freshness?: { state: FreshnessState; previous: FreshnessState | null; reason: string };
  backup?: { status: string; location: string | null; size_bytes: number; duration_ms: number; error: string | null };
  /** `notify test`: a sample, not a real run. */
  test?: true;
}

/** What a finished sync reports (functions/sync-repository.ts SyncResult, in core's terms). */
export interface SyncRunInfo {
  repoId: string;
  status: string;
  runId: number | null;
  trigger: string;
  durationMs: number;
  counts: { packagesTotal: number; packagesDownloaded: number; packagesAdded: number; packagesRemoved: number; bytesDownloaded: number };
  error?: string;
  snapshot?: string;
  published?: string;
}

export interface EventBase {
  now: Date;
  id?: string;
}

function base(name: NotifyEventName, b: EventBase): Pick<NotifyEvent, "event" | "id" | "occurred_at" | "chantal"> {
  return { event: name, id: b.id ?? randomUUID(), occurred_at: b.now.toISOString(), chantal: { version: chantalVersion, host: hostname() } };
}

function pkg(p: PackageVersion): PackageJson {
  return { name: p.name, arch: p.arch, version: formatEvr(p) };
}

/** A package diff (and new advisories) as an event carries it, each list cut at `max`. */
export function changesJson(diff: SnapshotDiff, advisories?: AdvisoryJson[], max = MAX_CHANGE_ENTRIES): ChangesJson {
  const cut = <T>(xs: T[]) => xs.slice(0, max);
  const truncated = diff.added.length > max || diff.removed.length > max || diff.updated.length > max || (advisories?.length ?? 0) > max;
  return {
    added: cut(diff.added).map(pkg),
    removed: cut(diff.removed).map(pkg),
    updated: cut(diff.updated).map((u) => ({ name: u.name, arch: u.arch, from: formatEvr(u.from), to: formatEvr(u.to), direction: u.direction })),
    added_count: diff.added.length,
    removed_count: diff.removed.length,
    updated_count: diff.updated.length,
    ...(advisories ? { advisories: cut(advisories), advisories_count: advisories.length } : {}),
    truncated,
  };
}

/** Whether a diff says anything changed. */
export function hasChanges(c: ChangesJson | undefined): c is ChangesJson {
  return !!c && c.added_count + c.removed_count + c.updated_count + (c.advisories_count ?? 0) > 0;
}

const SYNC_EVENT: Record<string, NotifyEventName | undefined> = {
  success: "sync.succeeded",
  noop: "sync.succeeded",
  failed: "sync.failed",
  interrupted: "sync.interrupted",
};

/**
 * The events of one finished sync: sync.succeeded (success or no-op), sync.failed, sync.interrupted, and sync.changed
 * beside sync.succeeded when its content diff is not empty. A dry run or a run skipped for a busy lock sends none.
 */
export function syncEvents(r: SyncRunInfo, changes: ChangesJson | undefined, b: EventBase): NotifyEvent[] {
  const name = SYNC_EVENT[r.status];
  if (!name) return [];
  const c = r.counts;
  const run: NotifyEvent["run"] = {
    id: r.runId,
    trigger: r.trigger,
    status: r.status,
    duration_ms: Math.round(r.durationMs),
    counts: {
      packages_total: c.packagesTotal,
      packages_downloaded: c.packagesDownloaded,
      packages_added: c.packagesAdded,
      packages_removed: c.packagesRemoved,
      bytes_downloaded: c.bytesDownloaded,
    },
    error: r.error ?? null,
    snapshot: r.snapshot ?? null,
    published: r.published ?? null,
  };
  const out: NotifyEvent[] = [{ ...base(name, b), repository: r.repoId, run }];
  if (r.status === "success" && hasChanges(changes)) out.push({ ...base("sync.changed", { now: b.now }), repository: r.repoId, run, changes });
  return out;
}

const FRESHNESS_EVENT: Record<FreshnessState, NotifyEventName> = {
  ok: "freshness.ok",
  stale: "freshness.stale",
  expiring: "freshness.expiring",
  failing: "freshness.failing",
};

export function freshnessEvent(repoId: string, state: FreshnessState, previous: FreshnessState | null, reason: string, b: EventBase): NotifyEvent {
  return { ...base(FRESHNESS_EVENT[state], b), repository: repoId, freshness: { state, previous, reason } };
}

export interface BackupRunInfo {
  status: string;
  location: string | null;
  size: number;
  durationMs: number;
  error?: string;
}

/** backup.succeeded or backup.failed (an interrupted backup is a failure to back up); a backup skipped for a lock sends none. */
export function backupEvents(r: BackupRunInfo, b: EventBase): NotifyEvent[] {
  const name: NotifyEventName | undefined =
    r.status === "success" ? "backup.succeeded" : r.status === "failed" || r.status === "interrupted" ? "backup.failed" : undefined;
  if (!name) return [];
  return [
    {
      ...base(name, b),
      backup: { status: r.status, location: r.location, size_bytes: r.size, duration_ms: Math.round(r.durationMs), error: r.error ?? null },
    },
  ];
}

/** Whether a recorded change of freshness state is announced: a repository first seen ok needs no message (one first seen stale does). */
export function announcesFreshness(previous: FreshnessState | null, state: FreshnessState): boolean {
  return previous !== state && !(previous === null && state === "ok");
}

/** A sample event of each kind for `notify test`. */
export function sampleEvent(name: NotifyEventName, b: EventBase): NotifyEvent {
  const run = {
    id: 0,
    trigger: "manual",
    status: name === "sync.failed" ? "failed" : name === "sync.interrupted" ? "interrupted" : "success",
    duration_ms: 12_345,
    counts: { packages_total: 1234, packages_downloaded: 2, packages_added: 2, packages_removed: 1, bytes_downloaded: 3_145_728 },
    error: name === "sync.failed" ? "repomd.xml: HTTP 503 Service Unavailable for https://mirror.example/repo/repodata/repomd.xml (after 6 attempts)" : null,
    snapshot: null,
    published: null,
  };
  const common = { ...base(name, b), test: true as const };
  if (name.startsWith("sync.")) {
    const changes: ChangesJson | undefined =
      name === "sync.changed"
        ? {
            added: [{ name: "example-tool", arch: "x86_64", version: "1.0-1.el9" }],
            removed: [{ name: "example-old", arch: "noarch", version: "0.9-3.el9" }],
            updated: [{ name: "openssl", arch: "x86_64", from: "1:3.0.7-24.el9", to: "1:3.0.7-25.el9", direction: "upgrade" }],
            added_count: 1,
            removed_count: 1,
            updated_count: 1,
            advisories: [{ id: "RHSA-2026:0001", type: "security", severity: "Important", title: "openssl security update" }],
            advisories_count: 1,
            truncated: false,
          }
        : undefined;
    return { ...common, repository: "example-repo", run, ...(changes ? { changes } : {}) };
  }
  if (name.startsWith("freshness.")) {
    const state = name.slice("freshness.".length) as FreshnessState;
    return { ...common, repository: "example-repo", freshness: { state, previous: state === "ok" ? "stale" : "ok", reason: "a sample for notify test" } };
  }
  const failed = name === "backup.failed";
  return {
    ...common,
    backup: {
      status: failed ? "failed" : "success",
      location: failed ? null : "/var/lib/chantal/backups/chantal-backup-20260101T000000Z.tar.gz",
      size_bytes: failed ? 0 : 52_428_800,
      duration_ms: 4_200,
      error: failed ? "no space left on device" : null,
    },
  };
}
