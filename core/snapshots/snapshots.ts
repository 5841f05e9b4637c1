// Snapshots freeze a repository's current package set and metadata: rows through drizzle, the set copies in plain SQL.
import { and, asc, desc, eq, inArray, type SQL } from "../db/drizzle.js";
import type pg from "pg";
import { orm, type Queryable } from "../db/orm.js";
import { repositories, snapshotMetadata, snapshotPackages, snapshots } from "../db/schema.js";
import { ChantalError } from "../errors.js";
import { REPOSITORY_TYPES, repositoryTypeOf } from "../repository-types.js";
import { checkSnapshotName } from "./name.js";
import { withTransaction } from "../db/transaction.js";

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

/** The columns of a SnapshotRow (snapshots joined with repositories), for every query that returns snapshots. */
export const SNAPSHOT_ROW_COLUMNS = {
  id: snapshots.id,
  repoId: repositories.repoId,
  name: snapshots.name,
  packageCount: snapshots.packageCount,
  totalSize: snapshots.totalSize,
  createdAt: snapshots.createdAt,
  publishedAt: snapshots.publishedAt,
};

function selectSnapshots(q: Queryable, where: SQL | undefined): Promise<SnapshotRow[]> {
  return orm(q, (db) =>
    db
      .select(SNAPSHOT_ROW_COLUMNS)
      .from(snapshots)
      .innerJoin(repositories, eq(repositories.id, snapshots.repositoryId))
      .where(where)
      .orderBy(asc(repositories.repoId), desc(snapshots.createdAt), desc(snapshots.id)),
  );
}

export async function findSnapshot(q: Queryable, repoId: string, name: string): Promise<SnapshotRow | null> {
  const [row] = await selectSnapshots(q, and(eq(repositories.repoId, repoId), eq(snapshots.name, name)));
  return row ?? null;
}

export async function getSnapshot(q: pg.Pool | pg.ClientBase, repoId: string, name: string): Promise<SnapshotRow> {
  const s = await findSnapshot(q, repoId, name);
  if (!s) throw new SnapshotError(`repository ${repoId} has no snapshot named "${name}" (see "snapshot list --repo-id ${repoId}")`);
  return s;
}

export async function listSnapshots(q: Queryable, repoId?: string): Promise<SnapshotRow[]> {
  return selectSnapshots(q, repoId === undefined ? undefined : eq(repositories.repoId, repoId));
}

/** Copy the current set into a new snapshot, in one transaction that sees one consistent state. */
export async function createSnapshot(pool: pg.Pool, repositoryId: number, repoId: string, name: string, description?: string): Promise<SnapshotRow> {
  checkSnapshotName(name);
  await withTransaction(pool, (client) => insertSnapshot(client, repositoryId, repoId, name, description), { isolation: "repeatable read" });
  return getSnapshot(pool, repoId, name);
}

/** The copy of createSnapshot inside the caller's transaction (a group snapshot freezes all its members in one); returns the snapshot's id. */
export async function insertSnapshot(client: pg.ClientBase, repositoryId: number, repoId: string, name: string, description?: string): Promise<number> {
  checkSnapshotName(name);
  const current = await client.query(`SELECT count(*)::int AS n FROM chantal.repository_metadata WHERE repository_id = $1`, [repositoryId]);
  if (current.rows[0].n === 0) throw new SnapshotError(`repository ${repoId} has not been synced yet: nothing to snapshot`);
  const [inserted] = await orm(client, (db) =>
    db
      .insert(snapshots)
      .values({ repositoryId, name, description: description ?? null })
      .onConflictDoNothing()
      .returning({ id: snapshots.id }),
  );
  if (!inserted) throw new SnapshotError(`repository ${repoId} already has a snapshot named "${name}"`);
  const id = inserted.id;
  await client.query(
    `INSERT INTO chantal.snapshot_packages (snapshot_id, location, package_id) SELECT $1, location, package_id FROM chantal.repository_packages WHERE repository_id = $2`,
    [id, repositoryId],
  );
  await client.query(
    `INSERT INTO chantal.snapshot_metadata (snapshot_id, path, metadata_file_id) SELECT $1, path, metadata_file_id FROM chantal.repository_metadata WHERE repository_id = $2`,
    [id, repositoryId],
  );
  await recordTotals(client, id);
  return id;
}

export async function markPublished(q: Queryable, snapshotId: number, at: Date): Promise<void> {
  await orm(q, (db) => db.update(snapshots).set({ publishedAt: at }).where(eq(snapshots.id, snapshotId)));
}

export async function deleteSnapshotRow(q: Queryable, snapshotId: number): Promise<void> {
  await orm(q, (db) => db.delete(snapshots).where(eq(snapshots.id, snapshotId)));
}

/** Delete every snapshot of a repository with its package and metadata sets (repo remove); returns how many snapshots. */
export async function deleteSnapshotsOf(q: Queryable, repositoryId: number): Promise<number> {
  await orm(q, (db) => {
    const ofRepository = db.select({ id: snapshots.id }).from(snapshots).where(eq(snapshots.repositoryId, repositoryId));
    return db.delete(snapshotPackages).where(inArray(snapshotPackages.snapshotId, ofRepository));
  });
  await orm(q, (db) => {
    const ofRepository = db.select({ id: snapshots.id }).from(snapshots).where(eq(snapshots.repositoryId, repositoryId));
    return db.delete(snapshotMetadata).where(inArray(snapshotMetadata.snapshotId, ofRepository));
  });
  const r = await orm(q, (db) => db.delete(snapshots).where(eq(snapshots.repositoryId, repositoryId)));
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

/** The distinct package versions of a repository's current set (a sync's before and after, for sync.changed). */
export async function repositoryPackageVersions(q: Queryable, repositoryId: number): Promise<PackageVersion[]> {
  const r = await q.query(
    `SELECT DISTINCT p.name, p.arch, p.epoch, p.version, p.release FROM chantal.repository_packages rp JOIN chantal.packages p ON p.id = rp.package_id WHERE rp.repository_id = $1`,
    [repositoryId],
  );
  return r.rows as PackageVersion[];
}

/** The current set's metadata files whose path matches a LIKE pattern (`repodata/%updateinfo.xml%`), with their sha256. */
export async function repositoryMetadataMatching(q: Queryable, repositoryId: number, pathLike: string): Promise<{ path: string; sha256: string }[]> {
  const r = await q.query(
    `SELECT rm.path, m.sha256 FROM chantal.repository_metadata rm JOIN chantal.metadata_files m ON m.id = rm.metadata_file_id
      WHERE rm.repository_id = $1 AND rm.path LIKE $2 ORDER BY rm.path`,
    [repositoryId, pathLike],
  );
  return r.rows.map((row) => ({ path: row.path as string, sha256: (row.sha256 as string).trim() }));
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
  const [owner] = await orm(q, (db) =>
    db.select({ type: repositories.type }).from(snapshots).innerJoin(repositories, eq(repositories.id, snapshots.repositoryId)).where(eq(snapshots.id, a.id)),
  );
  return diffPackageSets(await packageVersions(q, a.id), await packageVersions(q, b.id), versionComparator(owner?.type ?? "rpm"));
}

export function formatEvr(p: { epoch: number; version: string; release: string }): string {
  return `${p.epoch ? `${p.epoch}:` : ""}${p.version}${p.release ? `-${p.release}` : ""}`;
}

/** A snapshot's content as an export carries it: its packages by location and its metadata files by path, by sha256. */
export interface SnapshotContent {
  packages: Record<string, string>;
  metadata: Record<string, string>;
}

/** What a snapshot holds, in the shape of SnapshotContent (import compares a bundle's snapshot with an existing one). */
export async function snapshotContent(q: pg.Pool | pg.ClientBase, snapshotId: number): Promise<SnapshotContent> {
  const p = await q.query(
    `SELECT sp.location AS k, p.sha256 FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id WHERE sp.snapshot_id = $1`,
    [snapshotId],
  );
  const m = await q.query(
    `SELECT sm.path AS k, f.sha256 FROM chantal.snapshot_metadata sm JOIN chantal.metadata_files f ON f.id = sm.metadata_file_id WHERE sm.snapshot_id = $1`,
    [snapshotId],
  );
  const packages: Record<string, string> = {};
  for (const r of p.rows) packages[r.k as string] = (r.sha256 as string).trim();
  const metadata: Record<string, string> = {};
  for (const r of m.rows) metadata[r.k as string] = (r.sha256 as string).trim();
  return { packages, metadata };
}

/**
 * A snapshot from an import, inside the caller's transaction: the given content (every sha256 already recorded in
 * chantal.packages / chantal.metadata_files), the exporter's description and time; returns its id.
 */
export async function insertSnapshotWithContent(
  client: pg.ClientBase,
  repositoryId: number,
  repoId: string,
  name: string,
  content: SnapshotContent,
  opts: { description: string | null; createdAt: Date },
): Promise<number> {
  checkSnapshotName(name);
  const [inserted] = await orm(client, (db) =>
    db
      .insert(snapshots)
      .values({ repositoryId, name, description: opts.description, createdAt: opts.createdAt })
      .onConflictDoNothing()
      .returning({ id: snapshots.id }),
  );
  if (!inserted) throw new SnapshotError(`repository ${repoId} already has a snapshot named "${name}"`);
  const id = inserted.id;
  const pk = Object.keys(content.packages);
  const p = await client.query(
    `INSERT INTO chantal.snapshot_packages (snapshot_id, location, package_id)
     SELECT $1, t.k, p.id FROM unnest($2::text[], $3::char(64)[]) AS t(k, s) JOIN chantal.packages p ON p.sha256 = t.s`,
    [id, pk, pk.map((k) => content.packages[k])],
  );
  const mk = Object.keys(content.metadata);
  const m = await client.query(
    `INSERT INTO chantal.snapshot_metadata (snapshot_id, path, metadata_file_id)
     SELECT $1, t.k, f.id FROM unnest($2::text[], $3::char(64)[]) AS t(k, s) JOIN chantal.metadata_files f ON f.sha256 = t.s`,
    [id, mk, mk.map((k) => content.metadata[k])],
  );
  if (p.rowCount !== pk.length || m.rowCount !== mk.length)
    throw new SnapshotError(`snapshot ${repoId}/${name}: ${pk.length + mk.length - (p.rowCount ?? 0) - (m.rowCount ?? 0)} of its files are not recorded`);
  await recordTotals(client, id);
  return id;
}

/** A snapshot's package_count and total_size, from its rows (what snapshot list shows without a join). */
async function recordTotals(client: pg.ClientBase, snapshotId: number): Promise<void> {
  await client.query(
    `UPDATE chantal.snapshots s SET package_count = t.n, total_size = t.size
     FROM (SELECT count(*)::int AS n, COALESCE(sum(p.size), 0)::bigint AS size FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id WHERE sp.snapshot_id = $1) t
     WHERE s.id = $1`,
    [snapshotId],
  );
}
