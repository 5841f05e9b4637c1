// chantal.instance: the one id that names this installation in the bundles it exports (0008_transfer.sql).
import type pg from "pg";

/** This installation's id (a uuid), made by the migration that created the table. */
export async function instanceId(q: pg.ClientBase | pg.Pool): Promise<string> {
  const r = await q.query<{ id: string }>(`SELECT id FROM chantal.instance`);
  if (!r.rows[0]) throw new Error("chantal.instance has no row: the 0008_transfer migration did not run");
  return r.rows[0].id;
}
