// pool verify: every blob the database references (packages, metadata files) is in the pool with the right size (and,
// deep, the right sha256). The pool is not in a database backup, so this is the check after a restore or a disk loss.
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { ChantalError } from "../errors.js";
import type { BlobStore } from "./blob-store.js";
import { forEachLimited } from "../concurrency.js";
import { findRepositoryRow, forgetIndexChecksums } from "../db/repositories.js";

const BATCH = 5_000;
const STAT_CONCURRENCY = 64;
const HASH_CONCURRENCY = 2;

export type BlobProblemKind = "missing" | "size" | "sha256";

export interface BlobProblem {
  kind: BlobProblemKind;
  blob: "package" | "metadata";
  sha256: string;
  expectedSize: number;
  actualSize?: number;
  /** The blob's file, or its s3:// URL. */
  path: string;
}

export interface PoolVerifyResult {
  checked: { packages: number; metadata: number };
  problems: BlobProblem[];
  /** Repositories whose current package set or metadata needs a blob that is missing or bad. */
  repositories: string[];
  /** Snapshots that need one (a sync cannot bring back what upstream no longer has). */
  snapshots: { repository: string; name: string }[];
  fixed?: { removed: number; resetRepositories: string[] };
}

export interface PoolVerifyOptions {
  /** Only blobs referenced by this repository's current set, metadata and snapshots. */
  repoId?: string;
  /** Hash every blob too (reads the whole pool). */
  deep?: boolean;
  /** Remove bad blobs and make the next sync of the affected repositories re-read upstream and download what is missing. */
  fix?: boolean;
  signal?: AbortSignal;
  onProgress?: (checked: number) => void;
}

interface BlobRow {
  id: number;
  sha256: string;
  size: number;
}

function referencedFilter(kind: "package" | "metadata", repository: number | null): { sql: string; params: unknown[] } {
  if (repository === null) return { sql: "", params: [] };
  const sql =
    kind === "package"
      ? `AND (EXISTS (SELECT 1 FROM chantal.repository_packages rp WHERE rp.package_id = b.id AND rp.repository_id = $3)
           OR EXISTS (SELECT 1 FROM chantal.snapshot_packages sp JOIN chantal.snapshots s ON s.id = sp.snapshot_id WHERE sp.package_id = b.id AND s.repository_id = $3))`
      : `AND (EXISTS (SELECT 1 FROM chantal.repository_metadata rm WHERE rm.metadata_file_id = b.id AND rm.repository_id = $3)
           OR EXISTS (SELECT 1 FROM chantal.snapshot_metadata sm JOIN chantal.snapshots s ON s.id = sm.snapshot_id WHERE sm.metadata_file_id = b.id AND s.repository_id = $3))`;
  return { sql, params: [repository] };
}

/** Keyset-paginated rows, so 200,000 packages never sit in memory at once. */
async function* blobRows(db: pg.Pool, kind: "package" | "metadata", repository: number | null): AsyncGenerator<BlobRow[]> {
  const table = kind === "package" ? "chantal.packages" : "chantal.metadata_files";
  const filter = referencedFilter(kind, repository);
  let after = 0;
  for (;;) {
    const r = await db.query(`SELECT b.id, b.sha256, b.size FROM ${table} b WHERE b.id > $1 ${filter.sql} ORDER BY b.id LIMIT $2`, [
      after,
      BATCH,
      ...filter.params,
    ]);
    if (r.rows.length === 0) return;
    yield r.rows.map((row) => ({ id: Number(row.id), sha256: (row.sha256 as string).trim(), size: Number(row.size) }));
    after = Number(r.rows.at(-1).id);
  }
}

async function sha256Blob(blobs: BlobStore, sha256: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(blobs.openRead(sha256, signal), hash);
  return hash.digest("hex");
}

/** Size 0 means the size was not known when the row was written: only presence (and, deep, sha256) is checked. */
async function checkBlob(blobs: BlobStore, kind: "package" | "metadata", row: BlobRow, deep: boolean, signal?: AbortSignal): Promise<BlobProblem | null> {
  const base = { blob: kind, sha256: row.sha256, expectedSize: row.size, path: blobs.locationOf(row.sha256) };
  const size = await blobs.sizeOf(row.sha256);
  if (size === undefined) return { kind: "missing", ...base };
  if (row.size > 0 && size !== row.size) return { kind: "size", ...base, actualSize: size };
  if (deep && (await sha256Blob(blobs, row.sha256, signal)) !== row.sha256) return { kind: "sha256", ...base, actualSize: size };
  return null;
}

async function checkAll(
  blobs: BlobStore,
  kind: "package" | "metadata",
  rows: BlobRow[],
  deep: boolean,
  signal?: AbortSignal,
): Promise<{ problems: BlobProblem[]; ids: number[] }> {
  const problems: BlobProblem[] = [];
  const ids: number[] = [];
  await forEachLimited(
    rows,
    deep ? HASH_CONCURRENCY : STAT_CONCURRENCY,
    async (row) => {
      const p = await checkBlob(blobs, kind, row, deep, signal);
      if (p) {
        problems.push(p);
        ids.push(row.id);
      }
    },
    signal,
  );
  return { problems, ids };
}

async function affected(
  db: pg.Pool,
  packageIds: number[],
  metadataIds: number[],
): Promise<{ repositories: { id: number; repoId: string }[]; snapshots: { repository: string; name: string }[] }> {
  const repos = await db.query(
    `SELECT DISTINCT r.id, r.repo_id FROM chantal.repositories r
     WHERE EXISTS (SELECT 1 FROM chantal.repository_packages rp WHERE rp.repository_id = r.id AND rp.package_id = ANY($1::bigint[]))
        OR EXISTS (SELECT 1 FROM chantal.repository_metadata rm WHERE rm.repository_id = r.id AND rm.metadata_file_id = ANY($2::bigint[]))
     ORDER BY r.repo_id`,
    [packageIds, metadataIds],
  );
  const snaps = await db.query(
    `SELECT DISTINCT r.repo_id, s.name FROM chantal.snapshots s JOIN chantal.repositories r ON r.id = s.repository_id
     WHERE EXISTS (SELECT 1 FROM chantal.snapshot_packages sp WHERE sp.snapshot_id = s.id AND sp.package_id = ANY($1::bigint[]))
        OR EXISTS (SELECT 1 FROM chantal.snapshot_metadata sm WHERE sm.snapshot_id = s.id AND sm.metadata_file_id = ANY($2::bigint[]))
     ORDER BY 1, 2`,
    [packageIds, metadataIds],
  );
  return {
    repositories: repos.rows.map((r) => ({ id: r.id as number, repoId: r.repo_id as string })),
    snapshots: snaps.rows.map((r) => ({ repository: r.repo_id as string, name: r.name as string })),
  };
}

/**
 * A no-op sync stops at an unchanged repomd.xml before planning, so it would never notice a missing blob: the fix
 * forgets the repositories' index checksum, and their next sync re-reads upstream and downloads what the pool lacks.
 */
async function fix(
  db: pg.Pool,
  blobs: BlobStore,
  problems: BlobProblem[],
  repositories: { id: number; repoId: string }[],
): Promise<NonNullable<PoolVerifyResult["fixed"]>> {
  let removed = 0;
  for (const p of problems) {
    if (p.kind === "missing") continue;
    await blobs.remove(p.sha256);
    removed++;
  }
  await forgetIndexChecksums(
    db,
    repositories.map((r) => r.id),
  );
  return { removed, resetRepositories: repositories.map((r) => r.repoId) };
}

export async function verifyPool(db: pg.Pool, blobs: BlobStore, opts: PoolVerifyOptions = {}): Promise<PoolVerifyResult> {
  let repository: number | null = null;
  if (opts.repoId) {
    const row = await findRepositoryRow(db, opts.repoId);
    if (!row) throw new ChantalError(`repository ${opts.repoId} is not in the database (never synced?)`);
    repository = row.id;
  }
  const problems: BlobProblem[] = [];
  const badIds = { package: [] as number[], metadata: [] as number[] };
  const checked = { packages: 0, metadata: 0 };
  for (const kind of ["package", "metadata"] as const) {
    for await (const rows of blobRows(db, kind, repository)) {
      const r = await checkAll(blobs, kind, rows, opts.deep ?? false, opts.signal);
      problems.push(...r.problems);
      badIds[kind].push(...r.ids);
      if (kind === "package") checked.packages += rows.length;
      else checked.metadata += rows.length;
      opts.onProgress?.(checked.packages + checked.metadata);
    }
  }
  const hit = problems.length > 0 ? await affected(db, badIds.package, badIds.metadata) : { repositories: [], snapshots: [] };
  const result: PoolVerifyResult = {
    checked,
    problems: problems.sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1)),
    repositories: hit.repositories.map((r) => r.repoId),
    snapshots: hit.snapshots,
  };
  if (opts.fix && problems.length > 0) result.fixed = await fix(db, blobs, problems, hit.repositories);
  return result;
}
