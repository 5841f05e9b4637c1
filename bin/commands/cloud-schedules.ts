// `chantal-run cloud schedules`: make the live EventBridge Scheduler group match the configuration (create, update, delete) without a redeploy.
import type { Command } from "commander";
import type { GetScheduleOutput } from "@aws-sdk/client-scheduler";
import { reconcileSchedules, type Reconciliation, type ScheduleChange } from "../../core/cloud/reconcile.js";
import { applyScheduleChanges, clientRegion, CloudError, listLiveSchedules, schedulerClient, type AppliedChange } from "../../core/cloud/schedules.js";
import { ExitCode } from "../../core/errors.js";
import { loadCloudConfig } from "../../core/cloud/cloud-config.js";
import { desiredSchedules, isManagedScheduleName, scheduleGroupName, TARGET_TEMPLATE_SCHEDULE_NAME } from "../../core/cloud/plan.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

class SchedulesOwnedByDeployError extends CloudError {
  override readonly exitCode = ExitCode.config;
  constructor() {
    super(
      "cloud.schedules_owner is sst (the default): `sst deploy` creates and changes the repositories' schedules, and one made here would make the next deploy stop on ConflictException; " +
        "fix: run `npx sst deploy` to apply the configuration, or set cloud: { schedules_owner: runtime } and deploy once (the deploy then makes no repository schedules and this command owns them); --dry-run shows the difference either way",
    );
  }
}

interface Options {
  dryRun?: boolean;
  group?: string;
  region?: string;
  endpoint?: string;
  json?: boolean;
}

function changeLines(change: ScheduleChange, result: AppliedChange | undefined): string[] {
  const failed = result && !result.ok ? `   FAILED: ${result.error}` : "";
  if (change.action === "create") {
    const d = change.desired;
    return [
      `+ ${change.name}  ${d.expression} ${d.timezone}${d.flexibleTimeWindow.Mode === "FLEXIBLE" ? ` (window ${d.flexibleTimeWindow.MaximumWindowInMinutes} min)` : ""}${failed}`,
    ];
  }
  if (change.action === "delete") return [`- ${change.name}${failed}`];
  return [`~ ${change.name}${failed}`, ...change.fields.map((f) => `    ${f.field}: ${f.from || "(none)"} -> ${f.to}`)];
}

function summary(rec: Reconciliation): string {
  const count = (a: ScheduleChange["action"]) => rec.changes.filter((c) => c.action === a).length;
  return `${count("create")} to create, ${count("update")} to update, ${count("delete")} to delete, ${rec.unchanged.length} unchanged`;
}

function jsonChange(change: ScheduleChange, result: AppliedChange | undefined) {
  const base = { action: change.action, name: change.name, applied: result?.ok ?? false, ...(result?.error ? { error: result.error } : {}) };
  if (change.action === "create")
    return { ...base, expression: change.desired.expression, timezone: change.desired.timezone, flexible_time_window: change.desired.flexibleTimeWindow };
  if (change.action === "update") return { ...base, fields: change.fields };
  return base;
}

export function register(cloud: Command): void {
  cloud
    .command("schedules")
    .description("make the live EventBridge Scheduler group match the configuration (create, update, delete) without a redeploy")
    .option("--dry-run", "print the difference, change nothing")
    .option(
      "--group <name>",
      `schedule group (default $CHANTAL_SCHEDULE_GROUP, else ${scheduleGroupName("production")}: the SST app's group is chantal-<stage>)`,
    )
    .option("--region <region>", "AWS region (default AWS_REGION / AWS_DEFAULT_REGION / your AWS config)")
    .option("--endpoint <url>", "EventBridge Scheduler endpoint (default AWS_ENDPOINT_URL_SCHEDULER / AWS_ENDPOINT_URL, else AWS's)")
    .option("--json", "print the difference as JSON")
    .action(
      action(async (ctx, opts: Options) => {
        // Variables only the task has (bucket names, SSM secrets) may be unset here: the plan needs none of them.
        const { plan, loaded } = await loadCloudConfig(ctx.configDir, process.env);
        // One owner per schedule: a schedule made here while the deploy owns them makes the next deploy fail (ConflictException).
        if (!opts.dryRun && (loaded.config.cloud?.schedules_owner ?? "sst") === "sst") throw new SchedulesOwnedByDeployError();
        const group = opts.group ?? process.env.CHANTAL_SCHEDULE_GROUP ?? scheduleGroupName("production");
        // Chantal targets Node 20 with a pinned SDK: its "newer SDKs will need Node 22" notice is noise on every run.
        process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
        const client = schedulerClient({ region: opts.region, endpoint: opts.endpoint });
        try {
          const region = await clientRegion(client);
          const { schedules: all, unreadable } = await listLiveSchedules(client, group, ctx.signal);
          const template = all.find((s) => s.Name === TARGET_TEMPLATE_SCHEDULE_NAME);
          const live = new Map<string, GetScheduleOutput>(all.filter((s) => s.Name !== TARGET_TEMPLATE_SCHEDULE_NAME).map((s) => [s.Name!, s]));
          // A schedule we could not read is neither created again nor deleted: the rest is applied, it is reported.
          const unknown = new Set(unreadable.map((u) => u.name));
          const full = reconcileSchedules(desiredSchedules(plan), live, { isManaged: isManagedScheduleName });
          const rec = { ...full, changes: full.changes.filter((c) => !unknown.has(c.name)) };
          if (!template && rec.changes.some((c) => c.action === "create")) {
            throw new CloudError(
              `schedule group ${group} has no ${TARGET_TEMPLATE_SCHEDULE_NAME} schedule to copy the ECS target from: deploy the SST app (npx sst deploy --stage <stage>) before adding repositories with cloud schedules`,
            );
          }
          const results = opts.dryRun ? [] : await applyScheduleChanges(client, group, rec.changes, template, ctx.signal);
          const resultOf = (c: ScheduleChange) => results.find((r) => r.name === c.name && r.action === c.action);
          const failed = results.filter((r) => !r.ok).length;
          if (opts.json) {
            printJson({
              group,
              region,
              dry_run: !!opts.dryRun,
              changes: rec.changes.map((c) => jsonChange(c, resultOf(c))),
              unchanged: rec.unchanged,
              unmanaged: rec.unmanaged,
              unreadable,
              failed,
            });
          } else {
            const lines = [`schedule group ${group} (${region}): ${summary(rec)}${opts.dryRun ? " (dry run: nothing changed)" : ""}`];
            for (const c of rec.changes) lines.push(...changeLines(c, resultOf(c)));
            if (rec.unmanaged.length > 0) lines.push(`left alone (not chantal's): ${rec.unmanaged.join(", ")}`);
            if (rec.changes.length === 0) lines.push("nothing to change");
            process.stdout.write(lines.join("\n") + "\n");
          }
          for (const u of unreadable) process.stderr.write(`error: could not read schedule ${u.name} (left as it is; run cloud schedules again): ${u.error}\n`);
          if (failed > 0) process.stderr.write(`error: ${failed} of ${results.length} change(s) failed\n`);
          if (failed > 0 || unreadable.length > 0) return ExitCode.failed;
          return ExitCode.ok;
        } finally {
          client.destroy();
        }
      }),
    );
}
