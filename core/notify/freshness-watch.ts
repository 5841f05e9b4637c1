// The daemon's freshness watch: each repository's state computed now, compared with the one last recorded
// (chantal.notify_states), and a freshness.<state> event only on a change: no message at every check or restart.
import type { Config } from "../config/schema.js";
import { claimStateChange } from "../db/notify-states.js";
import type { Queryable } from "../db/orm.js";
import { repositoriesFreshness } from "../freshness/report.js";
import type { FreshnessState } from "../freshness/state.js";
import type { BlobStore } from "../storage/blob-store.js";
import { announcesFreshness, freshnessEvent, type NotifyEvent } from "./events.js";

export const freshnessSubject = (repoId: string): string => `freshness:${repoId}`;

/** Check every configured repository once; returns the events to send (already recorded as announced). */
export async function freshnessChanges(
  q: Queryable,
  blobs: BlobStore,
  config: Pick<Config, "freshness" | "repositories">,
  now: Date,
  warn?: (message: string) => void,
): Promise<NotifyEvent[]> {
  const states = (await repositoriesFreshness(q, blobs, config, now, warn ? { warn } : {})).filter((f) => f.inConfig);
  const events: NotifyEvent[] = [];
  for (const f of states) {
    const r = await claimStateChange(q, freshnessSubject(f.repoId), f.state, now);
    const previous = r.previous as FreshnessState | null;
    if (r.changed && announcesFreshness(previous, f.state)) events.push(freshnessEvent(f.repoId, f.state, previous, f.reason, { now }));
  }
  return events;
}
