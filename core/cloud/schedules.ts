// EventBridge Scheduler calls for `cloud schedules` and `scheduler list --cloud`: thin wrappers over the
// SDK; what to change is decided in reconcile.ts.
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  paginateListSchedules,
  type GetScheduleOutput,
} from "@aws-sdk/client-scheduler";
import { errorMessage } from "../errors.js";
import { redactText } from "../redact.js";
import { CloudError } from "./errors.js";
import { createFromTemplate, mergedUpdate, type ScheduleChange } from "./reconcile.js";

export { CloudError };

const GET_CONCURRENCY = 8;

export interface SchedulerClientOptions {
  /** Else AWS_REGION / AWS_DEFAULT_REGION / the shared config file. */
  region?: string;
  /** Else AWS_ENDPOINT_URL_SCHEDULER / AWS_ENDPOINT_URL (the SDK reads them), else AWS's endpoint. */
  endpoint?: string;
}

export function schedulerClient(opts: SchedulerClientOptions = {}): SchedulerClient {
  return new SchedulerClient({ region: opts.region, endpoint: opts.endpoint, maxAttempts: 5 });
}

/** The client's region, or a CloudError that says how to set one. */
export async function clientRegion(client: SchedulerClient): Promise<string> {
  try {
    return await client.config.region();
  } catch {
    throw new CloudError("no AWS region: pass --region or set AWS_REGION");
  }
}

function cloudError(what: string, group: string, err: unknown): CloudError {
  if (err instanceof CloudError) return err;
  return new CloudError(`EventBridge Scheduler: ${what} in schedule group ${group} failed: ${redactText(errorMessage(err))}`, { cause: err });
}

/**
 * Every schedule of a group, in full (ListSchedules has no expressions, so one GetSchedule each), by name.
 * Throws a CloudError naming the group when it does not exist.
 */
export async function listLiveSchedules(client: SchedulerClient, group: string, signal?: AbortSignal): Promise<GetScheduleOutput[]> {
  try {
    await client.send(new GetScheduleGroupCommand({ Name: group }), { abortSignal: signal });
  } catch (err) {
    if (err instanceof ResourceNotFoundException) {
      throw new CloudError(
        `schedule group ${group} does not exist in region ${await clientRegion(client)}: deploy the SST app first (npx sst deploy --stage <stage> creates chantal-<stage>), or pass --group`,
      );
    }
    throw cloudError("reading the group", group, err);
  }
  const names: string[] = [];
  try {
    for await (const page of paginateListSchedules({ client, pageSize: 100 }, { GroupName: group })) {
      for (const s of page.Schedules ?? []) if (s.Name) names.push(s.Name);
      signal?.throwIfAborted();
    }
    // A few GetSchedule calls at a time: well under the API's default rate, quick for hundreds of repositories.
    const sorted = names.sort();
    const out: GetScheduleOutput[] = [];
    for (let i = 0; i < sorted.length; i += GET_CONCURRENCY) {
      const batch = sorted.slice(i, i + GET_CONCURRENCY);
      out.push(...(await Promise.all(batch.map((name) => client.send(new GetScheduleCommand({ Name: name, GroupName: group }), { abortSignal: signal })))));
    }
    return out;
  } catch (err) {
    throw cloudError("listing schedules", group, err);
  }
}

/** One live schedule as `scheduler list --cloud` shows it: which handler and repository its input runs. */
export interface LiveScheduleRow {
  name: string;
  handler: string | null;
  repoId: string | null;
  /** The group, for a group-snapshot schedule. */
  groupId?: string;
  expression: string;
  timezone: string;
  state: string;
  flexibleWindowMinutes: number | null;
  lastModified: string | null;
}

/** The SST_EVENT the schedule passes to the container, if it has one. */
function scheduleEvent(input: string | undefined): { handler?: string; repoId?: string; groupId?: string } {
  try {
    const overrides = (JSON.parse(input ?? "{}") as { containerOverrides?: { environment?: { name: string; value: string }[] }[] }).containerOverrides ?? [];
    const value = overrides.flatMap((c) => c.environment ?? []).find((e) => e.name === "SST_EVENT")?.value;
    return value ? (JSON.parse(value) as { handler?: string; repoId?: string; groupId?: string }) : {};
  } catch {
    return {};
  }
}

export function describeLiveSchedule(s: GetScheduleOutput): LiveScheduleRow {
  const event = scheduleEvent(s.Target?.Input);
  return {
    name: s.Name ?? "",
    handler: event.handler ?? null,
    repoId: event.repoId ?? null,
    ...(typeof event.groupId === "string" ? { groupId: event.groupId } : {}),
    expression: s.ScheduleExpression ?? "",
    timezone: s.ScheduleExpressionTimezone ?? "UTC",
    state: s.State ?? "ENABLED",
    flexibleWindowMinutes: s.FlexibleTimeWindow?.Mode === "FLEXIBLE" ? (s.FlexibleTimeWindow.MaximumWindowInMinutes ?? null) : null,
    lastModified: s.LastModificationDate?.toISOString() ?? null,
  };
}

export interface AppliedChange {
  action: ScheduleChange["action"];
  name: string;
  ok: boolean;
  error?: string;
}

/**
 * Apply the changes one by one: create from the template's target; update by get, merge and put;
 * delete. A failure is recorded and the rest still run.
 */
export async function applyScheduleChanges(
  client: SchedulerClient,
  group: string,
  changes: ScheduleChange[],
  template: GetScheduleOutput | undefined,
  signal?: AbortSignal,
): Promise<AppliedChange[]> {
  const results: AppliedChange[] = [];
  for (const change of changes) {
    signal?.throwIfAborted();
    try {
      if (change.action === "create") {
        if (!template) throw new CloudError("no target template");
        await client.send(new CreateScheduleCommand(createFromTemplate(template, change.desired, group)), { abortSignal: signal });
      } else if (change.action === "update") {
        // Get again right before the put, so a target changed meanwhile (a deploy) is kept, not reverted.
        const current = await client.send(new GetScheduleCommand({ Name: change.name, GroupName: group }), { abortSignal: signal });
        await client.send(new UpdateScheduleCommand(mergedUpdate(current, change.desired, group)), { abortSignal: signal });
      } else {
        await client.send(new DeleteScheduleCommand({ Name: change.name, GroupName: group }), { abortSignal: signal });
      }
      results.push({ action: change.action, name: change.name, ok: true });
    } catch (err) {
      if (signal?.aborted) throw err;
      results.push({ action: change.action, name: change.name, ok: false, error: redactText(errorMessage(err)) });
    }
  }
  return results;
}

/**
 * The live schedules of a group as rows (the target template left out), for `scheduler list --cloud`.
 * Opens and closes its own client.
 */
export async function liveScheduleRows(
  opts: SchedulerClientOptions & { group: string; signal?: AbortSignal; excludeNames?: string[] },
): Promise<{ group: string; region: string; rows: LiveScheduleRow[] }> {
  const client = schedulerClient(opts);
  try {
    const region = await clientRegion(client);
    const skip = new Set(opts.excludeNames ?? []);
    const live = await listLiveSchedules(client, opts.group, opts.signal);
    return { group: opts.group, region, rows: live.filter((s) => !skip.has(s.Name ?? "")).map(describeLiveSchedule) };
  } finally {
    client.destroy();
  }
}
