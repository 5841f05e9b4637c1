// Publishing from the database: the current set to <published>/<repo>/latest, a snapshot to .../snapshots/<name>.
import { join } from "node:path";
import type pg from "pg";
import type { Config } from "../config/schema.js";
import { treeOf } from "../db/package-sets.js";
import { publishTree, unpublish, type PublishResult } from "../storage/publish.js";
import { Pool } from "../storage/pool.js";
import { markPublished, type SnapshotRow } from "../snapshots/snapshots.js";
import { ChantalError } from "../errors.js";

export function poolOf(config: Config): Pool {
  return new Pool(config.storage.pool_path!, config.storage.temp_path!);
}

export function publishedRoot(config: Config, repoId: string): string {
  return join(config.storage.published_path!, repoId);
}

export async function publishLatest(db: pg.Pool, config: Config, repository: { id: number; repoId: string }, signal?: AbortSignal): Promise<PublishResult> {
  const state = await db.query(`SELECT index_checksum FROM chantal.repositories WHERE id = $1`, [repository.id]);
  const checksum = state.rows[0]?.index_checksum as string | null;
  if (!checksum) throw new ChantalError(`repository ${repository.repoId} has not been synced yet: nothing to publish`);
  const entries = await treeOf(db, "repository", repository.id);
  const pool = poolOf(config);
  const result = await publishTree({ repoRoot: publishedRoot(config, repository.repoId), name: "latest", entries, blobPath: (s) => pool.pathOf(s), ...(signal ? { signal } : {}) });
  await db.query(`UPDATE chantal.repositories SET published_checksum = $2 WHERE id = $1`, [repository.id, checksum]);
  return result;
}

export async function publishSnapshot(db: pg.Pool, config: Config, snapshot: SnapshotRow, now: Date, signal?: AbortSignal): Promise<PublishResult> {
  const entries = await treeOf(db, "snapshot", snapshot.id);
  const pool = poolOf(config);
  const result = await publishTree({ repoRoot: publishedRoot(config, snapshot.repoId), name: `snapshots/${snapshot.name}`, entries, blobPath: (s) => pool.pathOf(s), ...(signal ? { signal } : {}) });
  await markPublished(db, snapshot.id, now);
  return result;
}

export function unpublishSnapshot(config: Config, snapshot: SnapshotRow): Promise<boolean> {
  return unpublish(publishedRoot(config, snapshot.repoId), `snapshots/${snapshot.name}`);
}
