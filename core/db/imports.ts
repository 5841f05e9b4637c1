// chantal.imports (0008_transfer.sql): the bundles this installation imported, 'running' until every snapshot is in.
import { desc, eq } from "drizzle-orm";
import { orm, type Queryable } from "./orm.js";
import { imports, type TransferKind } from "./schema.js";

export interface ImportRow {
  exportId: string;
  sourceInstance: string;
  kind: TransferKind;
  baseExportId: string | null;
  manifestSha256: string;
  status: "running" | "complete";
  blobCount: number;
  blobBytes: number;
  exportedAt: Date;
  startedAt: Date;
  completedAt: Date | null;
}

function clean<T extends { manifestSha256: string }>(r: T): T {
  return { ...r, manifestSha256: r.manifestSha256.trim() };
}

export async function findImport(q: Queryable, exportId: string): Promise<ImportRow | null> {
  const [row] = await orm(q, (db) => db.select().from(imports).where(eq(imports.exportId, exportId)));
  return row ? clean(row) : null;
}

/** Record (or keep, on a resume) the 'running' row of an import. */
export async function startImport(q: Queryable, row: Omit<ImportRow, "status" | "startedAt" | "completedAt">): Promise<void> {
  await orm(q, (db) =>
    db
      .insert(imports)
      .values({ ...row, status: "running" })
      .onConflictDoNothing(),
  );
}

export async function completeImport(q: Queryable, exportId: string, at: Date): Promise<void> {
  await orm(q, (db) => db.update(imports).set({ status: "complete", completedAt: at }).where(eq(imports.exportId, exportId)));
}

/** Newest first. */
export async function listImports(q: Queryable): Promise<ImportRow[]> {
  const rows = await orm(q, (db) => db.select().from(imports).orderBy(desc(imports.startedAt), desc(imports.exportId)));
  return rows.map(clean);
}
