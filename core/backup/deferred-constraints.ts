// Loading millions of rows is much faster without foreign keys and secondary indexes: drop them before the data
// and build them again after, inside the same transaction (so a failure still leaves nothing behind).
import type pg from "pg";

export interface DeferredStructures {
  indexes: { name: string; definition: string }[];
  foreignKeys: { table: string; name: string; definition: string }[];
}

export async function dropSecondaryStructures(client: pg.ClientBase, schema: string): Promise<DeferredStructures> {
  const fks = await client.query(
    `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS definition
     FROM pg_constraint WHERE contype = 'f' AND connamespace = $1::regnamespace ORDER BY conname`,
    [schema],
  );
  const idx = await client.query(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relnamespace = $1::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
     ORDER BY 1`,
    [schema],
  );
  const deferred: DeferredStructures = { foreignKeys: fks.rows, indexes: idx.rows };
  for (const fk of deferred.foreignKeys) await client.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${client.escapeIdentifier(fk.name)}`);
  for (const ix of deferred.indexes) await client.query(`DROP INDEX ${ix.name}`);
  return deferred;
}

export async function restoreSecondaryStructures(client: pg.ClientBase, deferred: DeferredStructures): Promise<void> {
  for (const ix of deferred.indexes) await client.query(ix.definition);
  for (const fk of deferred.foreignKeys) await client.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${client.escapeIdentifier(fk.name)} ${fk.definition}`);
}
