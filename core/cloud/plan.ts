// The deployment plan: a pure function from the loaded configuration to the EventBridge Scheduler
// schedules (one per repository with an enabled schedule, one per group with an enabled schedule, one for
// backup.schedule and one for pool.gc.schedule) and the problems
// that keep an expression off AWS. sst.config.ts, `cloud schedules` and `config validate --target aws` share it.
import { createHash } from "node:crypto";
import type { DesiredSchedule } from "./reconcile.js";
import type { Config } from "../config/schema.js";
import type { LoadedConfig } from "../config/load.js";
import type { ConfigIssue } from "../errors.js";
import { NODE_FLAGS } from "../node-flags.js";
import { toAwsCron } from "./cron-aws.js";

/** EventBridge Scheduler: a schedule name is 1-64 characters of [0-9a-zA-Z-_.]. */
export const SCHEDULE_NAME_MAX = 64;
export const SYNC_SCHEDULE_PREFIX = "chantal-sync-";
export const BACKUP_SCHEDULE_NAME = "chantal-backup";
export const POOL_GC_SCHEDULE_NAME = "chantal-pool-gc";
export const GROUP_SCHEDULE_PREFIX = "chantal-group-";
/** A disabled schedule the SST app keeps in the group: `cloud schedules` copies its target when it creates one. */
export const TARGET_TEMPLATE_SCHEDULE_NAME = "chantal-target-template";
/** The container in the task definition that every schedule overrides. */
export const CONTAINER_NAME = "chantal";
/** A Fargate task's size, as the YAML gives it (core/config/schema.ts TaskSizeSchema). */
export interface TaskSize {
  cpu: number;
  memory_gb: number;
}

/** The task definition's size, when cloud.task does not say: what the SST app has deployed since issue 8. */
export const DEFAULT_TASK_SIZE: TaskSize = { cpu: 0.5, memory_gb: 1 };

/** The chantal-run executable's heap policy (core/node-flags.ts), in MB. */
const HEAP_POLICY_MB = Number(/--max-old-space-size=(\d+)/.exec(NODE_FLAGS.join(" "))?.[1] ?? 1536);

/**
 * Node's old-space limit in a task of this memory: 70% of it (the rest: code, native buffers, the parse and
 * rewrite workers' own heaps), at most the executable's policy. A 1 GB task gets 716 MB, not a limit above its memory.
 */
export function heapLimitMb(memoryGb: number): number {
  return Math.min(HEAP_POLICY_MB, Math.floor(memoryGb * 1024 * 0.7));
}

/** The container entry (issue 8 item 3): `node --max-old-space-size=N dist/functions/entry.js <handler> [args]`. */
export function entryCommand(size: TaskSize): string[] {
  return ["node", `--max-old-space-size=${heapLimitMb(size.memory_gb)}`, "dist/functions/entry.js"];
}

/** ECS RunTask's task-level override (CPU units and MiB, as strings) of a repository with its own size. */
export function taskOverride(size: TaskSize): { cpu: string; memory: string } {
  return { cpu: String(Math.round(size.cpu * 1024)), memory: String(Math.round(size.memory_gb * 1024)) };
}
/** The SST app's schedule group for a stage; `cloud schedules` defaults to the production one. */
export function scheduleGroupName(stage: string): string {
  return `chantal-${stage}`;
}
/** Where a schedule without a zone of its own runs: a Fargate task has no meaningful "host zone". */
export const DEFAULT_CLOUD_TIMEZONE = "UTC";

/** What the container entry receives as SST_EVENT (JSON), equivalent to its argv form. */
export type TaskEvent =
  | { handler: "sync"; repoId: string; trigger: "cloud"; snapshotTemplate?: string }
  | { handler: "backup"; trigger: "cloud" }
  | { handler: "pool-gc"; trigger: "cloud" }
  | { handler: "group-snapshot"; groupId: string; trigger: "cloud" };

export type FlexibleTimeWindow = { Mode: "OFF" } | { Mode: "FLEXIBLE"; MaximumWindowInMinutes: number };

export interface PlannedSchedule {
  /** Schedule name within the group. */
  name: string;
  handler: "sync" | "backup" | "pool-gc" | "group-snapshot";
  /** The repository, for sync schedules. */
  repoId?: string;
  /** The group, for group-snapshot schedules. */
  groupId?: string;
  /** The expression as written in the YAML. */
  cron: string;
  /** `cron(min hour dom month dow year)`. */
  expression: string;
  timezone: string;
  flexibleTimeWindow: FlexibleTimeWindow;
  description: string;
  /** argv for the image: entryCommand(size) + handler + arguments. */
  command: string[];
  event: TaskEvent;
  /** A repository's own task size (its cloud.task), passed as the RunTask override; absent: the task definition's. */
  taskSize?: TaskSize;
}

export interface PlanProblem {
  /** The repository id, or null for backup.schedule, pool.gc.schedule and a group's schedule. */
  repository: string | null;
  /** The group id, for groups[].schedule. */
  group?: string;
  /** Key path in the configuration, e.g. `repositories[2].schedule.cron`. */
  path: string;
  cron: string;
  reason: string;
  fix: string;
}

export interface DeploymentPlan {
  schedules: PlannedSchedule[];
  problems: PlanProblem[];
}

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/**
 * `chantal-sync-<id>`; a name that would pass 64 characters is cut to 55 and ends in `-` + 8 hex
 * digits of the id's sha256 (exactly 64 long), so it stays unique and never equals an uncut name
 * (those are at most 63 long: repository ids are at most 63 characters, and 13 + 50 = 63 is the cut-off).
 */
export function syncScheduleName(repoId: string): string {
  return boundedName(SYNC_SCHEDULE_PREFIX, repoId);
}

/** `chantal-group-<id>`, cut like syncScheduleName (group ids are at most 63 characters too; 14 + 49 = 63). */
export function groupScheduleName(groupId: string): string {
  return boundedName(GROUP_SCHEDULE_PREFIX, groupId);
}

function boundedName(prefix: string, id: string): string {
  const full = prefix + id;
  if (full.length < SCHEDULE_NAME_MAX) return full;
  return `${full.slice(0, SCHEDULE_NAME_MAX - 9)}-${shortHash(id)}`;
}

/** Jitter delays a run by up to N seconds; AWS's nearest equivalent is a flexible window of whole minutes. */
export function flexibleWindow(jitterSeconds: number): FlexibleTimeWindow {
  if (jitterSeconds <= 0) return { Mode: "OFF" };
  return { Mode: "FLEXIBLE", MaximumWindowInMinutes: Math.ceil(jitterSeconds / 60) };
}

function syncCommand(event: Extract<TaskEvent, { handler: "sync" }>, size: TaskSize): string[] {
  const args = ["sync", "--repo-id", event.repoId];
  if (event.snapshotTemplate) args.push("--snapshot", event.snapshotTemplate);
  return [...entryCommand(size), ...args];
}

/**
 * The plan. A repository is scheduled when it is enabled and has an enabled schedule; its zone is
 * schedule.timezone, else scheduler.timezone, else UTC. Jitter becomes a flexible time window.
 */
export function deploymentPlan(config: Config): DeploymentPlan {
  const schedules: PlannedSchedule[] = [];
  const problems: PlanProblem[] = [];
  const defaultSize = config.cloud?.task ?? DEFAULT_TASK_SIZE;
  const spreadMinutes = config.cloud?.spread_minutes ?? 0;
  config.repositories.forEach((repo, index) => {
    const s = repo.schedule;
    if (!repo.enabled || !s?.enabled) return;
    const aws = toAwsCron(s.cron);
    if (!aws.ok) {
      problems.push({ repository: repo.id, path: `repositories[${index}].schedule.cron`, cron: s.cron, reason: aws.reason, fix: aws.fix });
      return;
    }
    const event: TaskEvent = {
      handler: "sync",
      repoId: repo.id,
      trigger: "cloud",
      ...(s.create_snapshot ? { snapshotTemplate: s.snapshot_name_template } : {}),
    };
    const size = repo.cloud?.task ?? defaultSize;
    schedules.push({
      name: syncScheduleName(repo.id),
      handler: "sync",
      repoId: repo.id,
      cron: s.cron,
      expression: aws.expression,
      timezone: s.timezone ?? config.scheduler.timezone ?? DEFAULT_CLOUD_TIMEZONE,
      // cloud.spread_minutes widens the local jitter (at most 5 minutes) for a fleet that fires at one time.
      flexibleTimeWindow: flexibleWindow(Math.max(s.jitter_seconds, spreadMinutes * 60)),
      description: `chantal: sync ${repo.id} at "${s.cron}"`,
      command: syncCommand(event, size),
      event,
      ...(repo.cloud?.task ? { taskSize: repo.cloud.task } : {}),
    });
  });
  // A group snapshot: EventBridge cannot chain schedules, so the group's cron should fire after its members' syncs
  // (a member whose cron fires at the same time may not have started yet); the task waits for running member syncs
  // (their repository locks, up to an hour) before it freezes the group (docs/DESIGN.md, "Scheduled group snapshots").
  config.groups.forEach((group, index) => {
    const s = group.schedule;
    if (!s?.enabled) return;
    const aws = toAwsCron(s.cron);
    if (!aws.ok) {
      problems.push({ repository: null, group: group.id, path: `groups[${index}].schedule.cron`, cron: s.cron, reason: aws.reason, fix: aws.fix });
      return;
    }
    schedules.push({
      name: groupScheduleName(group.id),
      handler: "group-snapshot",
      groupId: group.id,
      cron: s.cron,
      expression: aws.expression,
      timezone: s.timezone ?? config.scheduler.timezone ?? DEFAULT_CLOUD_TIMEZONE,
      flexibleTimeWindow: { Mode: "OFF" },
      description: `chantal: group snapshot ${group.id} at "${s.cron}" (set it after the members' syncs: EventBridge cannot chain)`,
      command: [...entryCommand(defaultSize), "group-snapshot", "--group", group.id],
      event: { handler: "group-snapshot", groupId: group.id, trigger: "cloud" },
    });
  });
  // The jobs that run once per deployment, not per repository: the database backup and the pool's garbage collection.
  const singletons = [
    { schedule: config.backup.schedule, name: BACKUP_SCHEDULE_NAME, handler: "backup", path: "backup.schedule.cron", what: "database backup" },
    { schedule: config.pool?.gc?.schedule, name: POOL_GC_SCHEDULE_NAME, handler: "pool-gc", path: "pool.gc.schedule.cron", what: "pool gc" },
  ] as const;
  for (const j of singletons) {
    const s = j.schedule;
    if (!s?.enabled) continue;
    const aws = toAwsCron(s.cron);
    if (!aws.ok) {
      problems.push({ repository: null, path: j.path, cron: s.cron, reason: aws.reason, fix: aws.fix });
      continue;
    }
    schedules.push({
      name: j.name,
      handler: j.handler,
      cron: s.cron,
      expression: aws.expression,
      timezone: s.timezone ?? config.scheduler.timezone ?? DEFAULT_CLOUD_TIMEZONE,
      flexibleTimeWindow: { Mode: "OFF" },
      description: `chantal: ${j.what} at "${s.cron}"`,
      command: [...entryCommand(defaultSize), j.handler],
      event: { handler: j.handler, trigger: "cloud" },
    });
  }
  return { schedules, problems };
}

/**
 * The schedule target's Input: ECS RunTask overrides for the one container. The entry gets both the
 * argv (command) and the same request as SST_EVENT, so it may read either.
 */
export function containerOverrides(s: Pick<PlannedSchedule, "command" | "event" | "taskSize">): string {
  return JSON.stringify({
    containerOverrides: [{ name: CONTAINER_NAME, command: s.command, environment: [{ name: "SST_EVENT", value: JSON.stringify(s.event) }] }],
    ...(s.taskSize ? taskOverride(s.taskSize) : {}),
  });
}

/** Schedules chantal owns in its group: `cloud schedules` deletes only these when the YAML drops them. */
export function isManagedScheduleName(name: string): boolean {
  return name.startsWith(SYNC_SCHEDULE_PREFIX) || name.startsWith(GROUP_SCHEDULE_PREFIX) || name === BACKUP_SCHEDULE_NAME || name === POOL_GC_SCHEDULE_NAME;
}

/** What EventBridge Scheduler stores for each planned schedule. */
export function desiredSchedules(plan: DeploymentPlan): DesiredSchedule[] {
  return plan.schedules.map((s) => ({
    name: s.name,
    expression: s.expression,
    timezone: s.timezone,
    flexibleTimeWindow: s.flexibleTimeWindow,
    description: s.description,
    input: containerOverrides(s),
  }));
}

/** Problems as config issues, pointing at the file and key path where the expression is written. */
export function planProblemIssues(problems: PlanProblem[], loaded: Pick<LoadedConfig, "files" | "sources">): ConfigIssue[] {
  return problems.map((p) => {
    const src = p.repository === null ? undefined : loaded.sources.get(p.repository);
    // A repository is named by its id, at the line of its entry (the path names it, so the message need not).
    if (src)
      return {
        file: src.line ? `${src.file}:${src.line}` : src.file,
        path: `repository ${p.repository}: schedule.cron`,
        message: `cannot run on AWS EventBridge Scheduler: ${p.reason}; fix: ${p.fix}`,
      };
    const who =
      p.repository !== null
        ? `repository ${p.repository}`
        : p.group !== undefined
          ? `group ${p.group}`
          : p.path.startsWith("pool.")
            ? "the pool gc schedule"
            : "the backup schedule";
    return { file: loaded.files.join(", "), path: p.path, message: `${who} cannot run on AWS EventBridge Scheduler: ${p.reason}; fix: ${p.fix}` };
  });
}
