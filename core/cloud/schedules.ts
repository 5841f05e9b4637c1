// EventBridge Scheduler calls for `cloud schedules` and `scheduler list --cloud`: thin wrappers over the
// SDK; what to change is decided in reconcile.ts.
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ResourceNotFoundException,
  SchedulerClient,
  ListSchedulesCommand,
  UpdateScheduleCommand,
  type GetScheduleOutput,
} from "@aws-sdk/client-scheduler";
import { errorMessage } from "../errors.js";
import { sleep } from "../runtime/sleep.js";
import { redactText } from "../redact.js";
import { CloudError } from "./errors.js";
import { createFromTemplate, mergedUpdate, type ScheduleChange } from "./reconcile.js";

export { CloudError };

const GET_CONCURRENCY = 8;
/** Our own attempts per call when the API throttles (the SDK's retry quota runs dry over hundreds of calls). */
const THROTTLE_ATTEMPTS = 8;
const THROTTLE_BASE_MS = 200;
const THROTTLE_CAP_MS = 8000;

/** A refusal to retry later: throttling (429, ThrottlingException) or the service busy (503). */
export function isThrottling(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean } };
  const status = e?.$metadata?.httpStatusCode;
  return (
    e?.$retryable?.throttling === true || e?.name === "ThrottlingException" || e?.name === "ServiceUnavailableException" || status === 429 || status === 503
  );
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** One API call, retried with capped exponential backoff and full jitter while the API throttles. */
export async function sendRetrying<T>(call: () => Promise<T>, signal?: AbortSignal, sleepMs: Sleep = sleep): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isThrottling(err) || attempt >= THROTTLE_ATTEMPTS || signal?.aborted) throw err;
      await sleepMs(Math.random() * Math.min(THROTTLE_CAP_MS, THROTTLE_BASE_MS * 2 ** attempt), signal);
    }
  }
}

export interface SchedulerClientOptions {
  /** Else AWS_REGION / AWS_DEFAULT_REGION / the shared config file. */
  region?: string;
  /** Else AWS_ENDPOINT_URL_SCHEDULER / AWS_ENDPOINT_URL (the SDK reads them), else AWS's endpoint. */
  endpoint?: string;
}

export function schedulerClient(opts: SchedulerClientOptions = {}): SchedulerClient {
  // Throttling is retried per call by sendRetrying; the SDK's own attempts cover a dropped connection.
  return new SchedulerClient({ region: opts.region, endpoint: opts.endpoint, maxAttempts: 3 });
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

/** A schedule ListSchedules named but GetSchedule could not read (still throttled, or another error). */
export interface UnreadableSchedule {
  name: string;
  error: string;
}

export interface LiveSchedules {
  schedules: GetScheduleOutput[];
  /** Left out: nothing may be decided about them (neither created again nor deleted). */
  unreadable: UnreadableSchedule[];
}

/**
 * Every schedule of a group, in full (ListSchedules has no expressions, so one GetSchedule each), by name; a schedule
 * that stays unreadable after its retries is reported, not fatal. Throws a CloudError naming the group when it does not exist.
 */
export async function listLiveSchedules(client: SchedulerClient, group: string, signal?: AbortSignal): Promise<LiveSchedules> {
  try {
    await sendRetrying(() => client.send(new GetScheduleGroupCommand({ Name: group }), { abortSignal: signal }), signal);
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
    let token: string | undefined;
    do {
      const page = await sendRetrying(
        () => client.send(new ListSchedulesCommand({ GroupName: group, MaxResults: 100, NextToken: token }), { abortSignal: signal }),
        signal,
      );
      for (const s of page.Schedules ?? []) if (s.Name) names.push(s.Name);
      token = page.NextToken;
      signal?.throwIfAborted();
    } while (token);
    // A few GetSchedule calls at a time: well under the API's default rate, quick for hundreds of repositories.
    const sorted = names.sort();
    const schedules: GetScheduleOutput[] = [];
    const unreadable: UnreadableSchedule[] = [];
    for (let i = 0; i < sorted.length; i += GET_CONCURRENCY) {
      const batch = sorted.slice(i, i + GET_CONCURRENCY);
      await Promise.all(
        batch.map(async (name) => {
          try {
            schedules.push(await sendRetrying(() => client.send(new GetScheduleCommand({ Name: name, GroupName: group }), { abortSignal: signal }), signal));
          } catch (err) {
            if (signal?.aborted) throw err;
            unreadable.push({ name, error: redactText(errorMessage(err)) });
          }
        }),
      );
    }
    const byName = (a: { Name?: string; name?: string }, b: { Name?: string; name?: string }) => ((a.Name ?? a.name ?? "") < (b.Name ?? b.name ?? "") ? -1 : 1);
    return { schedules: schedules.sort(byName), unreadable: unreadable.sort(byName) };
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
      const send = <T>(call: () => Promise<T>) => sendRetrying(call, signal);
      if (change.action === "create") {
        if (!template) throw new CloudError("no target template");
        await send(() => client.send(new CreateScheduleCommand(createFromTemplate(template, change.desired, group)), { abortSignal: signal }));
      } else if (change.action === "update") {
        // Get again right before the put, so a target changed meanwhile (a deploy) is kept, not reverted.
        const current = await send(() => client.send(new GetScheduleCommand({ Name: change.name, GroupName: group }), { abortSignal: signal }));
        await send(() => client.send(new UpdateScheduleCommand(mergedUpdate(current, change.desired, group)), { abortSignal: signal }));
      } else {
        await send(() => client.send(new DeleteScheduleCommand({ Name: change.name, GroupName: group }), { abortSignal: signal }));
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
): Promise<{ group: string; region: string; rows: LiveScheduleRow[]; unreadable: UnreadableSchedule[] }> {
  const client = schedulerClient(opts);
  try {
    const region = await clientRegion(client);
    const skip = new Set(opts.excludeNames ?? []);
    const live = await listLiveSchedules(client, opts.group, opts.signal);
    return {
      group: opts.group,
      region,
      rows: live.schedules.filter((s) => !skip.has(s.Name ?? "")).map(describeLiveSchedule),
      unreadable: live.unreadable,
    };
  } finally {
    client.destroy();
  }
}
