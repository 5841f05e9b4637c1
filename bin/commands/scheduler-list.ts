// `chantal-run scheduler list`: every configured repository (and the database backup, pool gc, scheduled group snapshots and the notify digest) with its schedule, time zone, next run and last run.
import type { Command } from "commander";
import { repositoriesWithLastRun } from "../../core/db/repositories.js";
import { nextFire } from "../../core/schedule/next.js";
import {
  BACKUP_JOB_KEY,
  groupSnapshotJobKey,
  NOTIFY_DIGEST_JOB_KEY,
  POOL_GC_JOB_KEY,
  scheduleTimeZone,
  syncJobKey,
  unscheduledReason,
} from "../../core/schedule/plan.js";
import { readSchedulerStatus } from "../../core/schedule/state.js";
import { windowWaitOf, windowWaitText } from "../../core/schedule/windows.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";

async function listCloudSchedules(signal: AbortSignal, opts: { json?: boolean; group?: string; region?: string; endpoint?: string }): Promise<void> {
  const { liveScheduleRows } = await import("../../core/cloud/schedules.js");
  const { scheduleGroupName, TARGET_TEMPLATE_SCHEDULE_NAME } = await import("../../core/cloud/plan.js");
  const { group, region, rows, unreadable } = await liveScheduleRows({
    group: opts.group ?? process.env.CHANTAL_SCHEDULE_GROUP ?? scheduleGroupName("production"),
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    signal,
    excludeNames: [TARGET_TEMPLATE_SCHEDULE_NAME],
  });
  for (const u of unreadable) process.stderr.write(`warning: could not read schedule ${u.name}: ${u.error}\n`);
  if (opts.json) return printJson({ group, region, schedules: rows, unreadable });
  process.stdout.write(`schedule group ${group} (${region})\n`);
  const times = new LocalTimes();
  printTable(
    rows.map((r) => ({
      ...r,
      lastModified: times.format(r.lastModified === null ? null : new Date(r.lastModified)),
      target: r.handler === "sync" ? r.repoId : r.handler === "group-snapshot" ? `(group ${r.groupId ?? "?"})` : r.handler,
      window: r.flexibleWindowMinutes ? `${r.flexibleWindowMinutes} min` : "off",
    })),
    [
      { key: "name", title: "SCHEDULE" },
      { key: "target", title: "REPOSITORY" },
      { key: "expression", title: "EXPRESSION" },
      { key: "timezone", title: "TIMEZONE" },
      { key: "window", title: "WINDOW" },
      { key: "state", title: "STATE" },
      { key: "lastModified", title: "MODIFIED" },
    ],
  );
  times.printNote();
}

export function register(scheduler: Command): void {
  scheduler
    .command("list")
    .description("every configured repository (and the database backup, pool gc and group snapshots) with its schedule, time zone, next run and last run")
    .option("--json", "print as JSON")
    .option("--cloud", "list the live EventBridge Scheduler schedules of the AWS deployment instead")
    .option("--group <name>", "with --cloud: the schedule group (default $CHANTAL_SCHEDULE_GROUP, else chantal-production)")
    .option("--region <region>", "with --cloud: the AWS region")
    .option("--endpoint <url>", "with --cloud: another Scheduler API endpoint")
    .action(
      action(async (ctx, opts: { json?: boolean; cloud?: boolean; group?: string; region?: string; endpoint?: string }) => {
        if (opts.cloud) return listCloudSchedules(ctx.signal, opts);
        const { config } = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const lastRuns = new Map((await repositoriesWithLastRun(database.pool)).map((r) => [r.repoId, r]));
        const now = new Date();
        const status = await readSchedulerStatus(database.pool);
        const states = status.schedules;
        // A run waiting for its maintenance window, as the running daemon recorded it.
        const waitingFor = (key: string) => {
          const wait = windowWaitOf(
            states.find((j) => j.jobKey === key),
            status.running.length > 0,
          );
          return wait ? { opens_at: wait.opensAt } : null;
        };
        const rows = config.repositories.map((repo) => {
          const unscheduled = unscheduledReason(repo);
          const zone = unscheduled ? null : scheduleTimeZone(config, repo.schedule!.timezone);
          const next = zone ? nextFire(repo.schedule!.cron, now, zone) : null;
          const last = lastRuns.get(repo.id);
          return {
            repository: repo.id,
            scheduled: unscheduled === null,
            schedule: unscheduled ? null : repo.schedule!.cron,
            unscheduled_reason: unscheduled,
            timezone: zone,
            jitter_seconds: unscheduled ? null : repo.schedule!.jitter_seconds,
            create_snapshot: unscheduled ? null : repo.schedule!.create_snapshot,
            snapshot_name_template: unscheduled || !repo.schedule!.create_snapshot ? null : repo.schedule!.snapshot_name_template,
            next_run: next,
            waiting_for_window: unscheduled ? null : waitingFor(syncJobKey(repo.id)),
            last_run: last?.startedAt ? { started_at: last.startedAt, finished_at: last.finishedAt ?? null, status: last.status, trigger: last.trigger } : null,
          };
        });
        const daily: { label: string; key: string; schedule: { enabled: boolean; cron: string; timezone?: string | undefined } | undefined; name?: string }[] =
          [
            { label: "(database backup)", key: BACKUP_JOB_KEY, schedule: config.backup.schedule },
            { label: "(pool gc)", key: POOL_GC_JOB_KEY, schedule: config.pool?.gc?.schedule },
            // A group snapshot runs after its members' syncs of the same fire time (docs/DESIGN.md).
            ...config.groups.map((g) => ({
              label: `(group ${g.id})`,
              key: groupSnapshotJobKey(g.id),
              schedule: g.schedule,
              ...(g.schedule ? { name: g.schedule.name } : {}),
            })),
            ...(config.notify?.email?.digest
              ? [
                  {
                    label: "(notify digest)",
                    key: NOTIFY_DIGEST_JOB_KEY,
                    schedule: { enabled: true, cron: config.notify.email.digest_cron, timezone: config.notify.email.digest_timezone },
                  },
                ]
              : []),
          ];
        for (const { label, key, schedule: backup, name } of daily) {
          if (!backup?.enabled) continue;
          const zone = scheduleTimeZone(config, backup.timezone);
          const next = nextFire(backup.cron, now, zone);
          const state = states.find((j) => j.jobKey === key);
          rows.push({
            repository: label,
            scheduled: true,
            schedule: backup.cron,
            unscheduled_reason: null,
            timezone: zone,
            jitter_seconds: 0,
            create_snapshot: name !== undefined ? true : null,
            snapshot_name_template: name ?? null,
            next_run: next,
            waiting_for_window: null,
            last_run: state?.lastStartedAt
              ? { started_at: state.lastStartedAt, finished_at: state.lastFinishedAt ?? null, status: state.lastStatus, trigger: "schedule" }
              : null,
          });
        }
        if (opts.json) return printJson(rows);
        const times = new LocalTimes();
        printTable(
          rows.map((r) => ({
            repository: r.repository,
            schedule: r.schedule ?? `(${r.unscheduled_reason})`,
            timezone: r.timezone ?? "-",
            next: r.waiting_for_window
              ? windowWaitText({ opensAt: r.waiting_for_window.opens_at }, (at) => times.format(at))
              : (times.format(r.next_run) ?? "-"),
            last: r.last_run
              ? `${times.format(r.last_run.started_at)} (${r.last_run.status}${r.last_run.trigger === "schedule" ? "" : `, ${r.last_run.trigger}`})`
              : "never",
          })),
          [
            { key: "repository", title: "REPOSITORY" },
            { key: "schedule", title: "SCHEDULE" },
            { key: "timezone", title: "TIMEZONE" },
            { key: "next", title: "NEXT RUN" },
            { key: "last", title: "LAST RUN (RESULT)" },
          ],
        );
        times.printNote();
      }),
    );
}
