// What `cloud schedules` must do to make a live EventBridge Scheduler group match the plan: a pure
// decision (create, update, delete, leave alone) plus the request bodies, so the SDK calls stay thin.
import type { CreateScheduleInput, FlexibleTimeWindow, GetScheduleOutput, UpdateScheduleInput } from "@aws-sdk/client-scheduler";

/** A schedule as the plan wants it (core/cloud/plan.ts PlannedSchedule, reduced to what AWS stores). */
export interface DesiredSchedule {
  name: string;
  expression: string;
  timezone: string;
  flexibleTimeWindow: FlexibleTimeWindow;
  description: string;
  /** Target.Input: the ECS RunTask overrides (JSON text). */
  input: string;
}

export type ScheduleField = "expression" | "timezone" | "flexibleTimeWindow" | "description" | "state" | "input";

export interface FieldChange {
  field: ScheduleField;
  from: string;
  to: string;
}

export type ScheduleChange =
  | { action: "create"; name: string; desired: DesiredSchedule }
  | { action: "update"; name: string; desired: DesiredSchedule; fields: FieldChange[] }
  | { action: "delete"; name: string };

export interface Reconciliation {
  changes: ScheduleChange[];
  /** Names already as planned. */
  unchanged: string[];
  /** Schedules in the group that chantal does not manage (left alone). */
  unmanaged: string[];
}

export interface ReconcileOptions {
  /** Names chantal owns in the group: only those are ever deleted. */
  isManaged(name: string): boolean;
}

function windowText(w: FlexibleTimeWindow | undefined): string {
  if (!w || w.Mode === "OFF") return "OFF";
  return `FLEXIBLE ${w.MaximumWindowInMinutes ?? "?"} min`;
}

/** Inputs compare as JSON values, so key order or spacing written by another tool is no change. */
function canonicalJson(text: string | undefined): string {
  if (text === undefined) return "";
  try {
    return JSON.stringify(sortKeys(JSON.parse(text)));
  } catch {
    return text;
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  return v;
}

/** The fields of a live schedule that differ from the plan (AWS's default zone is UTC). */
export function scheduleDifferences(live: GetScheduleOutput, desired: DesiredSchedule): FieldChange[] {
  const pairs: [ScheduleField, string, string][] = [
    ["expression", live.ScheduleExpression ?? "", desired.expression],
    ["timezone", live.ScheduleExpressionTimezone ?? "UTC", desired.timezone],
    ["flexibleTimeWindow", windowText(live.FlexibleTimeWindow), windowText(desired.flexibleTimeWindow)],
    ["description", live.Description ?? "", desired.description],
    ["state", live.State ?? "ENABLED", "ENABLED"],
    ["input", canonicalJson(live.Target?.Input), canonicalJson(desired.input)],
  ];
  return pairs.filter(([, from, to]) => from !== to).map(([field, from, to]) => ({ field, from, to }));
}

/** Decide creates, updates and deletes. `live` holds the full schedules of the group, by name. */
export function reconcileSchedules(desired: DesiredSchedule[], live: Map<string, GetScheduleOutput>, opts: ReconcileOptions): Reconciliation {
  const changes: ScheduleChange[] = [];
  const unchanged: string[] = [];
  const wanted = new Set(desired.map((d) => d.name));
  for (const d of desired) {
    const current = live.get(d.name);
    if (!current) {
      changes.push({ action: "create", name: d.name, desired: d });
      continue;
    }
    const fields = scheduleDifferences(current, d);
    if (fields.length > 0) changes.push({ action: "update", name: d.name, desired: d, fields });
    else unchanged.push(d.name);
  }
  const unmanaged: string[] = [];
  for (const name of [...live.keys()].sort()) {
    if (wanted.has(name)) continue;
    if (opts.isManaged(name)) changes.push({ action: "delete", name });
    else unmanaged.push(name);
  }
  const order = { create: 0, update: 1, delete: 2 } as const;
  return { changes: changes.sort((a, b) => order[a.action] - order[b.action]), unchanged, unmanaged };
}

/** The fields the plan owns, on top of the target (from the live schedule or the template). */
function plannedFields(desired: DesiredSchedule, groupName: string, target: NonNullable<GetScheduleOutput["Target"]>) {
  return {
    Name: desired.name,
    GroupName: groupName,
    ScheduleExpression: desired.expression,
    ScheduleExpressionTimezone: desired.timezone,
    FlexibleTimeWindow: desired.flexibleTimeWindow,
    Description: desired.description,
    State: "ENABLED" as const,
    Target: { ...target, Input: desired.input },
  };
}

/** UpdateSchedule replaces the whole schedule: keep everything live that the plan does not set (get, merge, put). */
export function mergedUpdate(live: GetScheduleOutput, desired: DesiredSchedule, groupName: string): UpdateScheduleInput {
  if (!live.Target) throw new Error(`schedule ${desired.name} has no target`);
  return {
    ...plannedFields(desired, groupName, live.Target),
    StartDate: live.StartDate,
    EndDate: live.EndDate,
    KmsKeyArn: live.KmsKeyArn,
    ActionAfterCompletion: live.ActionAfterCompletion,
  };
}

/** A new schedule: the target (cluster, task definition, network, role, retries, dead-letter queue) comes from the template. */
export function createFromTemplate(template: GetScheduleOutput, desired: DesiredSchedule, groupName: string): CreateScheduleInput {
  if (!template.Target) throw new Error(`the target template ${template.Name ?? ""} has no target`);
  return {
    ...plannedFields(desired, groupName, template.Target),
    KmsKeyArn: template.KmsKeyArn,
  };
}
