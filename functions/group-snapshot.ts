// The scheduled group snapshot handler, for the scheduler daemon (groups[].schedule) and the container entry
// (`entry group-snapshot --group ID`): decide from the members' syncs of the fire time, then createGroupSnapshot.
import type { Config } from "../core/config/schema.js";
import type { Database } from "../core/db/client.js";
import { fireOutcomes } from "../core/db/schedule-fires.js";
import { AbortedError, errorMessage, LockBusyError } from "../core/errors.js";
import type { GroupConfig } from "../core/config/schema.js";
import { createGroupSnapshot, findGroupSnapshot } from "../core/groups/group-snapshots.js";
import type { Logger } from "../core/log.js";
import { sleep } from "../core/runtime/sleep.js";
import { groupSlotDecision, type MemberFire } from "../core/schedule/group-slot.js";
import { syncJobKey } from "../core/schedule/plan.js";
import { snapshotNameFromTemplate } from "../core/snapshots/name.js";
import { findSnapshot } from "../core/snapshots/snapshots.js";

/** How long a scheduled group snapshot waits for members being synced (their repository locks, or another daemon's fires). */
export const SCHEDULED_GROUP_WAIT_SECONDS = 3600;
/** How often it looks again at a member's sync that another daemon runs. */
const POLL_MS = 5000;

export interface GroupSnapshotTask {
  groupId: string;
  /** The snapshot name template (groups[].schedule.name); {repo_id} is the group id. */
  nameTemplate: string;
  /** The zone of {date} and {time}. */
  timeZone: string;
  /** The scheduler's fire time and its members' syncs of it; absent in the container (AWS cannot chain schedules). */
  slot?: { at: Date; memberFires: MemberFire[] };
}

export interface GroupSnapshotOutcome {
  status: "success" | "skipped-member-failed" | "skipped-locked" | "failed" | "interrupted";
  error?: string;
  snapshot?: string;
  members?: string[];
}

export interface GroupSnapshotEnv {
  config: Config;
  database: Database;
  log: Logger;
  signal: AbortSignal;
  now: () => Date;
  /** Real time, for the wait on another daemon's member syncs (tests shorten it). */
  waitSeconds?: number;
}

/** Members not run on this daemon ("none") are looked up in chantal.schedule_fires: another daemon may have run them. */
async function resolveMembers(env: GroupSnapshotEnv, at: Date, members: readonly MemberFire[]): Promise<MemberFire[]> {
  const unknown = members.filter((m) => m.fire.state === "none").map((m) => syncJobKey(m.repoId));
  const rows = await fireOutcomes(env.database.pool, unknown, at);
  return members.map((m) => {
    const row = m.fire.state === "none" ? rows.get(syncJobKey(m.repoId)) : undefined;
    if (!row) return m;
    return { repoId: m.repoId, fire: row.finished ? { state: "done", status: row.status ?? "unknown" } : { state: "pending" } };
  });
}

/** Skip (a member's sync of this fire time failed), wait (another daemon still syncs one), or freeze the group. */
async function decideSlot(task: GroupSnapshotTask, env: GroupSnapshotEnv): Promise<GroupSnapshotOutcome | null> {
  const slot = task.slot;
  if (!slot) return null;
  const due = slot.at.toISOString();
  const deadline = Date.now() + (env.waitSeconds ?? SCHEDULED_GROUP_WAIT_SECONDS) * 1000;
  for (;;) {
    const d = groupSlotDecision(await resolveMembers(env, slot.at, slot.memberFires));
    if (d.action === "snapshot") return null;
    if (d.action === "skip") {
      const failed = d.failed.map((f) => `${f.repoId} (${f.status})`).join(", ");
      const error = `group ${task.groupId}: no snapshot for the fire time ${due}: the scheduled sync of ${failed} did not succeed, and a group snapshot must be a consistent set; the next fire time tries again (or run: snapshot create --group ${task.groupId})`;
      env.log.warn({ group: task.groupId, due, failed: d.failed }, error);
      return { status: "skipped-member-failed", error };
    }
    if (Date.now() >= deadline) {
      const error = `group ${task.groupId}: members still being synced by another scheduler after ${env.waitSeconds ?? SCHEDULED_GROUP_WAIT_SECONDS} s: ${d.waitingFor.join(", ")}; no snapshot for the fire time ${due}`;
      env.log.warn({ group: task.groupId, due, waitingFor: d.waitingFor }, error);
      return { status: "skipped-locked", error };
    }
    env.log.info({ group: task.groupId, due, waitingFor: d.waitingFor }, "group snapshot waits for members synced by another scheduler");
    await sleep(POLL_MS, env.signal);
  }
}

/** `wanted`, else `wanted-2`, `-3`...: a name neither the group nor any member has (a template that repeats within its period, as sync snapshots do). */
async function freeGroupSnapshotName(env: GroupSnapshotEnv, group: GroupConfig, wanted: string): Promise<string> {
  for (let i = 1; ; i++) {
    const name = i === 1 ? wanted : `${wanted}-${i}`;
    if (await findGroupSnapshot(env.database.pool, group.id, name)) continue;
    let taken = false;
    for (const repoId of group.repositories) if (await findSnapshot(env.database.pool, repoId, name)) taken = true;
    if (!taken) return name;
  }
}

export async function runScheduledGroupSnapshot(task: GroupSnapshotTask, env: GroupSnapshotEnv): Promise<GroupSnapshotOutcome> {
  try {
    const group = env.config.groups.find((g) => g.id === task.groupId);
    if (!group) return { status: "failed", error: `group ${task.groupId} is no longer configured` };
    const decided = await decideSlot(task, env);
    if (decided) return decided;
    const wanted = snapshotNameFromTemplate(task.nameTemplate, { repoId: group.id, now: env.now(), timeZone: task.timeZone });
    const name = await freeGroupSnapshotName(env, group, wanted);
    if (name !== wanted) env.log.warn({ group: group.id, wanted, name }, "snapshot name exists already: using a suffix");
    const gs = await createGroupSnapshot(env.database.pool, env.database.url, env.config, group, name, {
      description: task.slot ? `scheduled group snapshot (fire time ${task.slot.at.toISOString()})` : "scheduled group snapshot",
      waitMs: (env.waitSeconds ?? SCHEDULED_GROUP_WAIT_SECONDS) * 1000,
      signal: env.signal,
    });
    return { status: "success", snapshot: gs.name, members: gs.members.map((m) => m.repoId) };
  } catch (err) {
    if (err instanceof LockBusyError) return { status: "skipped-locked", error: err.message };
    if (err instanceof AbortedError || env.signal.aborted) return { status: "interrupted", error: errorMessage(err) };
    return { status: "failed", error: errorMessage(err) };
  }
}

/** The container's exit code: 0 done, 75 busy or skipped (a member's sync failed: try at the next fire), 1 failed, 130/143 by signal. */
export function groupSnapshotExitCode(o: GroupSnapshotOutcome, signalName: NodeJS.Signals | undefined): number {
  if (o.status === "success") return 0;
  if (o.status === "skipped-locked" || o.status === "skipped-member-failed") return 75;
  if (o.status === "interrupted") return signalName === "SIGTERM" ? 143 : 130;
  return 1;
}
