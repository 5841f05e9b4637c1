// Snapshots freeze a repository's current package set and metadata; SQL in plain sight.
import type pg from "pg";
import { ChantalError } from "../errors.js";
import { REPOSITORY_TYPES, repositoryTypeOf } from "../repository-types.js";
import { checkSnapshotName } from "./name.js";

export class SnapshotError extends ChantalError {}

export interface SnapshotRow {
  id: number;
  repoId: string;
  name: string;
  packageCount: number;
  totalSize: number;
  createdAt: Date;
  publishedAt: Date | null;
}

function toRow(row: Record<string, unknown>): SnapshotRow {
  return {
    id: Number(row.id),
    repoId: row.repo_id as string,
    name: row.name as string,
    packageCount: Number(row.package_count),
    totalSize: Number(row.total_size),
    createdAt: row.created_at as Date,
    publishedAt: (row.published_at as Date | null) ?? null,
  };
}

const SELECT = `SELECT s.id, r.repo_id, s.name, s.package_count, s.total_size, s.created_at, s.published_at
  FROM chantal.snapshots s JOIN chantal.repositories r ON r.id = s.repository_id`;

export async function findSnapshot(q: pg.Pool | pg.ClientBase, repoId: string, name: string): Promise<SnapshotRow | null> {
  const r = await q.query(`${SELECT} WHERE r.repo_id = $1 AND s.name = $2`, [repoId, name]);
  return r.rows[0] ? toRow(r.rows[0]) : null;
}

export async function getSnapshot(q: pg.Pool | pg.ClientBase, repoId: string, name: string): Promise<SnapshotRow> {
  const s = await findSnapshot(q, repoId, name);
  if (!s) throw new SnapshotError(`repository ${repoId} has no snapshot named "${name}" (see "snapshot list --repo-id ${repoId}")`);
  return s;
}

export async function listSnapshots(q: pg.Pool | pg.ClientBase, repoId?: string): Promise<SnapshotRow[]> {
  const r = await q.query(`${SELECT} WHERE ($1::text IS NULL OR r.repo_id = $1) ORDER BY r.repo_id, s.created_at DESC, s.id DESC`, [repoId ?? null]);
  return r.rows.map(toRow);
}

/** Copy the current set into a new snapshot, in one transaction that sees one consistent state. */
export async function createSnapshot(pool: pg.Pool, repositoryId: number, repoId: string, name: string, description?: string): Promise<SnapshotRow> {
  checkSnapshotName(name);
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    const current = await client.query(`SELECT count(*)::int AS n FROM chantal.repository_metadata WHERE repository_id = $1`, [repositoryId]);
    if (current.rows[0].n === 0) throw new SnapshotError(`repository ${repoId} has not been synced yet: nothing to snapshot`);
    const inserted = await client.query(
      `INSERT INTO chantal.snapshots (repository_id, name, description) VALUES ($1, $2, $3) ON CONFLICT (repository_id, name) DO NOTHING RETURNING id`,
      [repositoryId, name, description ?? null],
    );
    if (inserted.rowCount === 0) throw new SnapshotError(`repository ${repoId} already has a snapshot named "${name}"`);
    const id = Number(inserted.rows[0].id);
    await client.query(`INSERT INTO chantal.snapshot_packages (snapshot_id, location, package_id) SELECT $1, location, package_id FROM chantal.repository_packages WHERE repository_id = $2`, [id, repositoryId]);
    await client.query(`INSERT INTO chantal.snapshot_metadata (snapshot_id, path, metadata_file_id) SELECT $1, path, metadata_file_id FROM chantal.repository_metadata WHERE repository_id = $2`, [id, repositoryId]);
    await client.query(
      `UPDATE chantal.snapshots s SET package_count = t.n, total_size = t.size
       FROM (SELECT count(*)::int AS n, COALESCE(sum(p.size), 0)::bigint AS size FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id WHERE sp.snapshot_id = $1) t
       WHERE s.id = $1`,
      [id],
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return getSnapshot(pool, repoId, name);
}

export async function markPublished(q: pg.Pool | pg.ClientBase, snapshotId: number, at: Date): Promise<void> {
  await q.query(`UPDATE chantal.snapshots SET published_at = $2 WHERE id = $1`, [snapshotId, at]);
}

export async function deleteSnapshotRow(q: pg.Pool | pg.ClientBase, snapshotId: number): Promise<void> {
  await q.query(`DELETE FROM chantal.snapshots WHERE id = $1`, [snapshotId]);
}

/** Delete every snapshot of a repository with its package and metadata sets (repo remove); returns how many snapshots. */
export async function deleteSnapshotsOf(q: pg.Pool | pg.ClientBase, repositoryId: number): Promise<number> {
  await q.query(`DELETE FROM chantal.snapshot_packages WHERE snapshot_id IN (SELECT id FROM chantal.snapshots WHERE repository_id = $1)`, [repositoryId]);
  await q.query(`DELETE FROM chantal.snapshot_metadata WHERE snapshot_id IN (SELECT id FROM chantal.snapshots WHERE repository_id = $1)`, [repositoryId]);
  const r = await q.query(`DELETE FROM chantal.snapshots WHERE repository_id = $1`, [repositoryId]);
  return r.rowCount ?? 0;
}

export interface PackageVersion {
  name: string;
  arch: string;
  epoch: number;
  version: string;
  release: string;
}

export interface SnapshotDiff {
  added: PackageVersion[];
  removed: PackageVersion[];
  updated: { name: string; arch: string; from: PackageVersion; to: PackageVersion; direction: "upgrade" | "downgrade" }[];
}

async function packageVersions(q: pg.Pool | pg.ClientBase, snapshotId: number): Promise<PackageVersion[]> {
  const r = await q.query(
    `SELECT DISTINCT p.name, p.arch, p.epoch, p.version, p.release FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id WHERE sp.snapshot_id = $1`,
    [snapshotId],
  );
  return r.rows as PackageVersion[];
}

/** Orders two versions of a package: the repository type's order (RPM's EVR, dpkg's for apt). */
export type VersionComparator = (a: PackageVersion, b: PackageVersion) => number;

/** The comparator of a repository type; a type this version does not know is ordered as RPM. */
export function versionComparator(repositoryType: string): VersionComparator {
  return (repositoryTypeOf(repositoryType) ?? REPOSITORY_TYPES.rpm).compareVersions;
}

/** The newest version per name and arch: a repository may carry several. */
function newestByNameArch(pkgs: PackageVersion[], compare: VersionComparator): Map<string, PackageVersion> {
  const out = new Map<string, PackageVersion>();
  for (const p of pkgs) {
    const key = `${p.name}.${p.arch}`;
    const prev = out.get(key);
    if (!prev || compare(p, prev) > 0) out.set(key, p);
  }
  return out;
}

export function diffPackageSets(a: PackageVersion[], b: PackageVersion[], compare: VersionComparator = REPOSITORY_TYPES.rpm.compareVersions): SnapshotDiff {
  const before = newestByNameArch(a, compare);
  const after = newestByNameArch(b, compare);
  const diff: SnapshotDiff = { added: [], removed: [], updated: [] };
  for (const [key, p] of after) {
    const old = before.get(key);
    if (!old) diff.added.push(p);
    else {
      const cmp = compare(p, old);
      if (cmp !== 0) diff.updated.push({ name: p.name, arch: p.arch, from: old, to: p, direction: cmp > 0 ? "upgrade" : "downgrade" });
    }
  }
  for (const [key, p] of before) if (!after.has(key)) diff.removed.push(p);
  const byName = (x: { name: string; arch: string }, y: { name: string; arch: string }) => x.name.localeCompare(y.name) || x.arch.localeCompare(y.arch);
  diff.added.sort(byName);
  diff.removed.sort(byName);
  diff.updated.sort(byName);
  return diff;
}

export async function diffSnapshots(q: pg.Pool | pg.ClientBase, a: SnapshotRow, b: SnapshotRow): Promise<SnapshotDiff> {
  const type = await q.query(`SELECT r.type FROM chantal.snapshots s JOIN chantal.repositories r ON r.id = s.repository_id WHERE s.id = $1`, [a.id]);
  return diffPackageSets(await packageVersions(q, a.id), await packageVersions(q, b.id), versionComparator(type.rows[0]?.type ?? "rpm"));
}

export function formatEvr(p: { epoch: number; version: string; release: string }): string {
  return `${p.epoch ? `${p.epoch}:` : ""}${p.version}${p.release ? `-${p.release}` : ""}`;
}
