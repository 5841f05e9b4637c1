// chantal.notify_states (0009_notify.sql): the last state seen per subject, so that a notification fires on a change only,
// and once when several daemons watch (the row is changed by exactly one of them).
import type { Queryable } from "./orm.js";

/**
 * Record `state` for `subject`; `changed` is true for exactly one caller per change (a compare-and-set on the row),
 * `previous` is the state before (null: the subject was new).
 */
export async function claimStateChange(q: Queryable, subject: string, state: string, at: Date): Promise<{ changed: boolean; previous: string | null }> {
  const r = await q.query(
    `WITH prev AS (SELECT state FROM chantal.notify_states WHERE subject = $1)
     INSERT INTO chantal.notify_states (subject, state, changed_at) VALUES ($1, $2, $3)
     ON CONFLICT (subject) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at WHERE notify_states.state <> excluded.state
     RETURNING (SELECT state FROM prev) AS previous`,
    [subject, state, at],
  );
  const row = r.rows[0] as { previous: string | null } | undefined;
  return row ? { changed: true, previous: row.previous } : { changed: false, previous: state };
}
