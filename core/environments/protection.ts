// Snapshots an environment serves (or returns to on rollback) are not deleted or unpublished under its clients.
import type { Queryable } from "../db/orm.js";
import { ChantalError } from "../errors.js";
import { snapshotUses, type SnapshotUse } from "./promotions.js";

export class SnapshotInUseError extends ChantalError {}

/** "prod (group el9), test (group el9, the state a rollback returns to)". */
export function describeUses(uses: readonly SnapshotUse[]): string {
  return uses.map((u) => `${u.environment} (group ${u.groupId}${u.role === "previous" ? ", the state a rollback returns to" : ""})`).join(", ");
}

/** The uses of each snapshot (id, name) that has any. */
async function usesOf(q: Queryable, snaps: readonly { id: number; name: string }[]): Promise<{ name: string; uses: SnapshotUse[] }[]> {
  const out: { name: string; uses: SnapshotUse[] }[] = [];
  for (const s of snaps) {
    const uses = await snapshotUses(q, s.id);
    if (uses.length > 0) out.push({ name: s.name, uses });
  }
  return out;
}

/** Refuse `what` (a deletion, an unpublish) of snapshots of repoId that environments use; `fix` says how to proceed. */
export async function refuseSnapshotsInUse(
  q: Queryable,
  repoId: string,
  snaps: readonly { id: number; name: string }[],
  what: string,
  fix: string,
): Promise<void> {
  const used = await usesOf(q, snaps);
  if (used.length === 0) return;
  const list = used.map((u) => `${u.name} by ${describeUses(u.uses)}`).join("; ");
  throw new SnapshotInUseError(`cannot ${what}: snapshot(s) of ${repoId} are used by environment(s): ${list}; ${fix}`);
}
