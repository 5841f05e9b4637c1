// chantal.exports and chantal.export_blobs (0008_transfer.sql): the bundles this installation exported and the blobs each references.
import { desc, eq } from "./drizzle.js";
import type pg from "pg";
import { orm, type Queryable } from "./orm.js";
import { exports, type TransferKind } from "./schema.js";
import { withTransaction } from "./transaction.js";

export interface ExportRow {
  exportId: string;
  kind: TransferKind;
  baseExportId: string | null;
  selection: Record<string, unknown>;
  path: string;
  manifestSha256: string;
  blobCount: number;
  blobBytes: number;
  volumeCount: number;
  createdAt: Date;
}

const BATCH = 10_000;

/** Record a finished export and every blob it references (included or expected at the receiver), in one transaction. */
export async function recordExport(pool: pg.Pool, row: ExportRow, referenced: readonly string[]): Promise<void> {
  await withTransaction(pool, async (c) => {
    await orm(c, (db) => db.insert(exports).values(row));
    for (let i = 0; i < referenced.length; i += BATCH) {
      await c.query(`INSERT INTO chantal.export_blobs (export_id, sha256) SELECT $1, s FROM unnest($2::char(64)[]) AS t(s) ON CONFLICT DO NOTHING`, [
        row.exportId,
        referenced.slice(i, i + BATCH),
      ]);
    }
  });
}

export async function findExport(q: Queryable, exportId: string): Promise<ExportRow | null> {
  const [row] = await orm(q, (db) => db.select().from(exports).where(eq(exports.exportId, exportId)));
  return row ? { ...row, manifestSha256: row.manifestSha256.trim() } : null;
}

/** Newest first. */
export async function listExports(q: Queryable): Promise<ExportRow[]> {
  const rows = await orm(q, (db) => db.select().from(exports).orderBy(desc(exports.createdAt), desc(exports.exportId)));
  return rows.map((r) => ({ ...r, manifestSha256: r.manifestSha256.trim() }));
}

/** Every blob the export references: after importing it, the receiver has them all. */
export async function exportBlobShas(q: Queryable, exportId: string): Promise<Set<string>> {
  const r = await (q as pg.Pool).query(`SELECT sha256 FROM chantal.export_blobs WHERE export_id = $1`, [exportId]);
  return new Set(r.rows.map((row) => (row.sha256 as string).trim()));
}
