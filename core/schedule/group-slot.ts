// Scheduled group snapshots: which members' syncs a group's fire time waits for, and what it does once they are done. Pure.
//
// A group's fire time (a "slot") waits for the scheduled sync of each member whose own cron fires at the same instant
// (members without a schedule, or whose cron does not fire then, are not waited for). The group is frozen when none of
// them failed; a member's sync that failed or was interrupted skips the group snapshot of that slot (a group snapshot
// is a consistent set: one member at yesterday's state would not be). A member whose sync did not run in the slot
// because it was busy (its previous run, or a manual sync, held it) is not a failure: createGroupSnapshot waits for
// its repository lock, so the snapshot still follows that sync.
import { nextFire } from "./next.js";
import type { ScheduledJob } from "./plan.js";

/** Sync outcomes that skip the group snapshot of their slot. */
export const FAILED_MEMBER_STATUSES: ReadonlySet<string> = new Set(["failed", "interrupted", "aborted"]);

/** True when the cron fires exactly at `slot` in its zone. */
export function firesAt(job: Pick<ScheduledJob, "cron" | "timeZone">, slot: Date): boolean {
  try {
    return nextFire(job.cron, new Date(slot.getTime() - 1), job.timeZone).getTime() === slot.getTime();
  } catch {
    return false; // a cron that never fires is never waited for
  }
}

/** The members' sync jobs that fire at `slot`, in the group's order: the ones a group snapshot of that slot waits for. */
export function membersDueInSlot(group: Pick<ScheduledJob, "members">, jobs: readonly ScheduledJob[], slot: Date): ScheduledJob[] {
  const out: ScheduledJob[] = [];
  for (const repoId of group.members ?? []) {
    const job = jobs.find((j) => j.kind === "sync" && j.target === repoId);
    if (job && firesAt(job, slot)) out.push(job);
  }
  return out;
}

/** Where a member's sync of the slot is. */
export type MemberFireState =
  /** queued or running on this daemon, or claimed and not finished by another one */
  | { state: "pending" }
  /** finished, with the run's status (success, noop, failed, interrupted, skipped-locked, skipped) */
  | { state: "done"; status: string }
  /** no fire of this slot anywhere (the daemon was down, catch-up ran another slot): not waited for */
  | { state: "none" };

export interface MemberFire {
  repoId: string;
  fire: MemberFireState;
}

export type SlotDecision =
  | { action: "wait"; waitingFor: string[] }
  | { action: "snapshot"; synced: string[] }
  | { action: "skip"; failed: { repoId: string; status: string }[] };

/** A failed member skips the slot at once; otherwise the group waits for every pending member, then is frozen. */
export function groupSlotDecision(members: readonly MemberFire[]): SlotDecision {
  const failed = members.flatMap((m) =>
    m.fire.state === "done" && FAILED_MEMBER_STATUSES.has(m.fire.status) ? [{ repoId: m.repoId, status: m.fire.status }] : [],
  );
  if (failed.length > 0) return { action: "skip", failed };
  const waitingFor = members.filter((m) => m.fire.state === "pending").map((m) => m.repoId);
  if (waitingFor.length > 0) return { action: "wait", waitingFor };
  return { action: "snapshot", synced: members.filter((m) => m.fire.state === "done").map((m) => m.repoId) };
}
