// What an export carries, read from the database: the selected snapshots (one, a group's, an environment's) with their packages, metadata files and repositories.
import type pg from "pg";
import { ChantalError } from "../errors.js";
import { environmentState } from "../environments/promotions.js";
import { findGroupSnapshot, getGroupSnapshot } from "../groups/group-snapshots.js";
import { getSnapshot, type SnapshotRow } from "../snapshots/snapshots.js";
import type { Manifest, PackageEntry, Selection, SnapshotEntry } from "./manifest.js";
import type { PlannedBlob } from "./plan.js";

export class ExportSelectionError extends ChantalError {}

/** The manifest's content sections, and every blob the snapshots reference with its size. */
export interface Collected {
  repositories: Manifest["repositories"];
  packages: PackageEntry[];
  snapshots: SnapshotEntry[];
  group_snapshots: Manifest["group_snapshots"];
  environments: Manifest["environments"];
  referenced: PlannedBlob[];
}

/** The snapshots a selection names (deduplicated), with the group snapshots and environment rows that frame them. */
async function resolveSelection(
  q: pg.Pool,
  selection: Selection,
): Promise<{ rows: SnapshotRow[]; groups: Manifest["group_snapshots"]; environments: Manifest["environments"] }> {
  if (selection.kind === "snapshot") return { rows: [await getSnapshot(q, selection.repo_id, selection.snapshot)], groups: [], environments: [] };
  if (selection.kind === "group") {
    const gs = await getGroupSnapshot(q, selection.group, selection.snapshot);
    if (gs.members.length === 0) throw new ExportSelectionError(`snapshot ${gs.name} of group ${gs.groupId} has no members left (deleted): nothing to export`);
    return {
      rows: gs.members,
      groups: [
        { group: gs.groupId, name: gs.name, description: gs.description, created_at: gs.createdAt.toISOString(), members: gs.members.map((m) => m.repoId) },
      ],
      environments: [],
    };
  }
  const state = (await environmentState(q, selection.environment)).filter((p) => selection.group === undefined || p.groupId === selection.group);
  if (state.length === 0)
    throw new ExportSelectionError(
      `environment ${selection.environment} serves nothing${selection.group ? ` of group ${selection.group}` : ""}: promote a group snapshot there first (see "promote history --env ${selection.environment}")`,
    );
  const rows = new Map<number, SnapshotRow>();
  const groups: Manifest["group_snapshots"] = [];
  const environments: Manifest["environments"] = [];
  for (const p of state.sort((a, b) => a.groupId.localeCompare(b.groupId))) {
    const gone = p.members.filter((m) => m.snapshotId === null).map((m) => `${m.repoId}/${m.snapshotName}`);
    if (gone.length > 0)
      throw new ExportSelectionError(
        `environment ${selection.environment} serves group ${p.groupId} at ${p.snapshotName}, but snapshot(s) ${gone.join(", ")} were deleted: promote a complete group snapshot`,
      );
    const gs = await findGroupSnapshot(q, p.groupId, p.snapshotName);
    for (const m of p.members) {
      const row = gs?.members.find((s) => s.id === m.snapshotId) ?? (await getSnapshot(q, m.repoId, m.snapshotName));
      rows.set(row.id, row);
    }
    groups.push({
      group: p.groupId,
      name: p.snapshotName,
      description: gs?.description ?? null,
      created_at: (gs?.createdAt ?? p.promotedAt).toISOString(),
      members: p.members.map((m) => m.repoId),
    });
    environments.push({ environment: selection.environment, group: p.groupId, snapshot: p.snapshotName });
  }
  return { rows: [...rows.values()], groups, environments };
}

/** Read everything the selection exports. Reads run in one repeatable-read transaction, so the sets are one consistent state. */
export async function collectExport(q: pg.Pool, selection: Selection): Promise<Collected> {
  const { rows, groups, environments } = await resolveSelection(q, selection);
  const client = await q.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const ids = rows.map((r) => r.id);
    const snaps = await client.query(
      `SELECT s.id, s.name, s.description, s.created_at, r.repo_id, r.type, r.upstream_url FROM chantal.snapshots s JOIN chantal.repositories r ON r.id = s.repository_id
       WHERE s.id = ANY($1::int[]) ORDER BY r.repo_id, s.name`,
      [ids],
    );
    const pkgs = await client.query(
      `SELECT sp.snapshot_id, sp.location, p.sha256, p.size, p.type, p.name, p.epoch, p.version, p.release, p.arch, p.checksum, p.metadata
       FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id WHERE sp.snapshot_id = ANY($1::int[]) ORDER BY sp.snapshot_id, sp.location`,
      [ids],
    );
    const meta = await client.query(
      `SELECT sm.snapshot_id, sm.path, m.sha256, m.size FROM chantal.snapshot_metadata sm JOIN chantal.metadata_files m ON m.id = sm.metadata_file_id
       WHERE sm.snapshot_id = ANY($1::int[]) ORDER BY sm.snapshot_id, sm.path`,
      [ids],
    );
    await client.query("COMMIT");
    const bySnapshot = new Map<number, SnapshotEntry>();
    const repositories = new Map<string, Manifest["repositories"][number]>();
    for (const s of snaps.rows) {
      repositories.set(s.repo_id, { repo_id: s.repo_id, type: s.type, upstream_url: s.upstream_url });
      bySnapshot.set(s.id, {
        repo_id: s.repo_id,
        name: s.name,
        description: s.description,
        created_at: (s.created_at as Date).toISOString(),
        packages: {},
        metadata: {},
      });
    }
    const packages = new Map<string, PackageEntry>();
    const referenced = new Map<string, number>();
    for (const p of pkgs.rows) {
      const sha = (p.sha256 as string).trim();
      bySnapshot.get(p.snapshot_id)!.packages[p.location] = sha;
      referenced.set(sha, Number(p.size));
      if (!packages.has(sha))
        packages.set(sha, {
          sha256: sha,
          size: Number(p.size),
          type: p.type,
          name: p.name,
          epoch: p.epoch,
          version: p.version,
          release: p.release,
          arch: p.arch,
          checksum: p.checksum,
          metadata: p.metadata ?? {},
        });
    }
    for (const m of meta.rows) {
      const sha = (m.sha256 as string).trim();
      bySnapshot.get(m.snapshot_id)!.metadata[m.path] = sha;
      referenced.set(sha, Number(m.size));
    }
    return {
      repositories: [...repositories.values()].sort((a, b) => a.repo_id.localeCompare(b.repo_id)),
      packages: [...packages.values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1)),
      snapshots: [...bySnapshot.values()],
      group_snapshots: groups,
      environments,
      referenced: [...referenced].map(([sha256, size]) => ({ sha256, size })),
    };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** The blobs a snapshot references (a delta `--since REPO/SNAPSHOT`). */
export async function snapshotBlobShas(q: pg.Pool, repoId: string, name: string): Promise<Set<string>> {
  const s = await getSnapshot(q, repoId, name);
  const r = await q.query(
    `SELECT p.sha256 FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id WHERE sp.snapshot_id = $1
     UNION SELECT m.sha256 FROM chantal.snapshot_metadata sm JOIN chantal.metadata_files m ON m.id = sm.metadata_file_id WHERE sm.snapshot_id = $1`,
    [s.id],
  );
  return new Set(r.rows.map((row) => (row.sha256 as string).trim()));
}
