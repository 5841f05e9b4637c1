// chantal.imports (0008_transfer.sql): the bundles this installation imported, 'running' until every snapshot is in.
import { hostname } from "node:os";
import { and, desc, eq } from "./drizzle.js";
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
  /** The process that runs it, or ran it last (null: recorded before 0010). */
  host: string | null;
  pid: number | null;
}

/** What `import list` shows: a 'running' row whose process does not hold the import lock now was killed (or failed). */
export type ImportState = ImportRow["status"] | "interrupted";

/** Pure: the state of a row, given who holds the import lock (host and pid, as lock_holders records them). */
export function importState(row: Pick<ImportRow, "status" | "host" | "pid">, holders: readonly { host: string | null; pid: number | null }[]): ImportState {
  if (row.status !== "running") return row.status;
  return holders.some((h) => h.host !== null && h.host === row.host && h.pid === row.pid) ? "running" : "interrupted";
}

function clean<T extends { manifestSha256: string }>(r: T): T {
  return { ...r, manifestSha256: r.manifestSha256.trim() };
}

export async function findImport(q: Queryable, exportId: string): Promise<ImportRow | null> {
  const [row] = await orm(q, (db) => db.select().from(imports).where(eq(imports.exportId, exportId)));
  return row ? clean(row) : null;
}

/** Record the 'running' row of an import (a resume keeps it, and takes it over: this process runs it now). */
export async function startImport(q: Queryable, row: Omit<ImportRow, "status" | "startedAt" | "completedAt" | "host" | "pid">): Promise<void> {
  await orm(q, (db) =>
    db
      .insert(imports)
      .values({ ...row, status: "running", host: hostname(), pid: process.pid })
      .onConflictDoUpdate({ target: imports.exportId, set: { host: hostname(), pid: process.pid } }),
  );
}

/** A resumed import takes its 'running' row over from the process that was killed, before it copies anything. */
export async function claimImport(q: Queryable, exportId: string): Promise<void> {
  await orm(q, (db) =>
    db
      .update(imports)
      .set({ host: hostname(), pid: process.pid })
      .where(and(eq(imports.exportId, exportId), eq(imports.status, "running"))),
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
