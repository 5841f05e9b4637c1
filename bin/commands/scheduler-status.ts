// `chantal-run scheduler status`: is a scheduler running (on any host), the last and the next scheduled sync — from the database.
import type { Command } from "commander";
import { planJobs } from "../../core/schedule/plan.js";
import { readSchedulerStatus, type HostRow, type InstanceRow, type ScheduleStateRow, type SchedulerStatus } from "../../core/schedule/state.js";
import { windowWaitOf, windowWaitText } from "../../core/schedule/windows.js";
import { action } from "../context.js";
import { LocalTimes, printJson } from "../output.js";

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${d > 0 ? `${d}d ` : ""}${d > 0 || h > 0 ? `${h}h ` : ""}${m}m ${s % 60}s`;
}

/** The active sync schedules recorded by the (last) daemon: configured ones have a next run. */
function activeSyncSchedules(status: SchedulerStatus): ScheduleStateRow[] {
  return status.schedules.filter((s) => s.kind === "sync" && s.nextRunAt !== null);
}

/** The configured syncs whose due run waits for its maintenance window (scheduler.windows), with the opening. */
function waitingSyncs(status: SchedulerStatus): { repository: string; opensAt: Date | null }[] {
  return activeSyncSchedules(status).flatMap((s) => {
    const wait = windowWaitOf(s, status.running.length > 0);
    return wait ? [{ repository: s.target, opensAt: wait.opensAt }] : [];
  });
}

function nextSync(status: SchedulerStatus): ScheduleStateRow | null {
  return activeSyncSchedules(status).sort((a, b) => a.nextRunAt!.getTime() - b.nextRunAt!.getTime())[0] ?? null;
}

function instanceJson(i: InstanceRow, now: Date) {
  return {
    host: i.host,
    pid: i.pid,
    version: i.version,
    config_dir: i.configDir,
    started_at: i.startedAt,
    uptime_seconds: i.running ? Math.floor((now.getTime() - i.startedAt.getTime()) / 1000) : null,
    heartbeat_at: i.heartbeatAt,
    stopped_at: i.stoppedAt ?? null,
    stop_reason: i.stopReason,
    running: i.running,
  };
}

function hostJson(h: HostRow) {
  return {
    host: h.host,
    pid: h.pid,
    state: h.state,
    reason: h.reason,
    started_at: h.startedAt,
    heartbeat_at: h.heartbeatAt,
    heartbeat_age_seconds: h.heartbeatAgeSeconds,
    stopped_at: h.stoppedAt ?? null,
    stop_reason: h.stopReason,
  };
}

function toJson(status: SchedulerStatus) {
  const next = nextSync(status);
  const last = status.lastScheduledSync;
  return {
    status: status.running.length > 0 ? "running" : "stopped",
    instances: status.running.map((i) => instanceJson(i, status.dbNow)),
    last_instance: status.latest ? instanceJson(status.latest, status.dbNow) : null,
    hosts: status.hosts.map(hostJson),
    scheduled_repositories: activeSyncSchedules(status).length,
    last_sync: last
      ? {
          repository: last.repoId,
          started_at: last.startedAt,
          finished_at: last.finishedAt ?? null,
          status: last.status,
          snapshot: last.snapshotName,
          error: last.error,
        }
      : null,
    next_sync: next ? { repository: next.target, at: next.nextRunAt!, cron: next.cron, timezone: next.timeZone } : null,
    waiting_for_window: waitingSyncs(status).map((w) => ({ repository: w.repository, opens_at: w.opensAt })),
    group_snapshots: groupSchedules(status).map((g) => ({
      group: g.target,
      cron: g.cron,
      timezone: g.timeZone,
      next_run: g.nextRunAt,
      last_fire_at: g.lastFireAt,
      last_finished_at: g.lastFinishedAt,
      last_status: g.lastStatus,
      last_error: g.lastError,
    })),
  };
}

/** The scheduled group snapshots the daemon recorded that are still configured (a next run). */
function groupSchedules(status: SchedulerStatus): ScheduleStateRow[] {
  return status.schedules.filter((s) => s.kind === "group-snapshot" && s.nextRunAt !== null);
}

/** `configuredCount`: scheduled repositories in this host's configuration, shown when no scheduler has run yet. */
function lines(status: SchedulerStatus, configuredCount: number): string[] {
  const out: string[] = [];
  const times = new LocalTimes();
  const row = (k: string, v: string) => out.push(`${`${k}:`.padEnd(12)}${v}`);
  if (status.running.length > 0) {
    row("Status", "Running");
    for (const i of status.running) {
      row("Host", i.host);
      row("PID", String(i.pid));
      row(
        "Uptime",
        `${duration(status.dbNow.getTime() - i.startedAt.getTime())} (since ${times.format(i.startedAt)}, last heartbeat ${times.format(i.heartbeatAt)})`,
      );
    }
  } else {
    row("Status", "Stopped");
    const l = status.latest;
    if (l)
      row(
        "Last run",
        `${l.host} pid ${l.pid}, ${times.format(l.startedAt)} to ${times.format(l.stoppedAt ?? l.heartbeatAt)}${l.stopReason ? ` (${l.stopReason})` : " (did not stop cleanly)"}`,
      );
    else row("Last run", "never started against this database");
  }
  // Several hosts on one database (or one that died): each host's newest daemon, with its heartbeat.
  if (status.hosts.length > 1 || status.hosts.some((h) => h.state === "stale")) {
    status.hosts.forEach((h, n) => {
      const state = h.state === "stale" ? `stale (${h.reason})` : h.state === "stopped" ? `stopped${h.stopReason ? ` (${h.stopReason})` : ""}` : "running";
      const heartbeat = `${h.state === "running" ? "heartbeat" : "last heartbeat"} ${duration(h.heartbeatAgeSeconds * 1000)} ago (${times.format(h.heartbeatAt)})`;
      out.push(`${(n === 0 ? "Hosts:" : "").padEnd(12)}${h.host} pid ${h.pid}: ${state}, ${heartbeat}`);
    });
  }
  const count = status.latest ? activeSyncSchedules(status).length : configuredCount;
  row("Schedules", `${count} ${count === 1 ? "repository" : "repositories"}${status.latest ? "" : " (in this configuration)"}`);
  const last = status.lastScheduledSync;
  row(
    "Last sync",
    last
      ? `${last.repoId} at ${times.format(last.startedAt)}: ${last.status}${last.snapshotName ? ` (snapshot ${last.snapshotName})` : ""}${last.error ? ` (${last.error})` : ""}`
      : "none yet",
  );
  const next = nextSync(status);
  const when = next ? `${next.target} at ${times.format(next.nextRunAt!)} (schedule in ${next.timeZone})` : "none";
  row("Next sync", next && status.running.length === 0 ? `${when}, once the scheduler runs` : when);
  for (const w of waitingSyncs(status)) row("Waiting", `${w.repository}: due, ${windowWaitText(w, (at) => times.format(at))}`);
  for (const g of groupSchedules(status)) {
    const last = g.lastFinishedAt ? `last ${g.lastStatus} at ${times.format(g.lastFinishedAt)}${g.lastError ? ` (${g.lastError})` : ""}` : "not run yet";
    row("Group", `${g.target}: next ${times.format(g.nextRunAt!)}, after its members' syncs of that time; ${last}`);
  }
  if (times.note()) out.push(times.note());
  return out;
}

export function register(scheduler: Command): void {
  scheduler
    .command("status")
    .description("is a scheduler running (on any host), the last and the next scheduled sync — from the database")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { json?: boolean }) => {
        const { config } = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const status = await readSchedulerStatus(database.pool);
        if (opts.json) return printJson(toJson(status));
        process.stdout.write(lines(status, planJobs(config).filter((j) => j.kind === "sync").length).join("\n") + "\n");
      }),
    );
}
