// What a repository-type syncer (rpm, apt) receives and returns; the orchestration around it is functions/sync.ts.
import type pg from "pg";
import type { Config, RepositoryConfig } from "../config/schema.js";
import type { HttpOptions } from "../http/client.js";
import type { Logger } from "../log.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { RepositoryRow } from "../db/repositories.js";
import type { RunCounts } from "../db/sync-runs.js";

export interface SyncProgress {
  phase: "index" | "metadata" | "plan" | "download" | "commit" | "publish";
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface RepoSyncContext {
  config: Config;
  repo: RepositoryConfig;
  row: RepositoryRow;
  db: pg.Pool;
  /** The blob store (content-addressed files by sha256). */
  blobs: BlobStore;
  http: HttpOptions;
  log: Logger;
  signal: AbortSignal;
  runId: number;
  /** Re-read everything even when the index is unchanged. */
  force: boolean;
  /** The run's counts, updated as the sync goes (so a failed run reports its downloads); returned in the result. */
  counts: RunCounts;
  /** Accept upstream metadata older than what was synced last (`--allow-downgrade`, verify.allow_rollback). */
  allowDowngrade: boolean;
  /** The run's clock (injected: tests and the scheduler pass their own). */
  now: () => Date;
  onProgress?: (p: SyncProgress) => void;
}

export interface RepoSyncResult {
  status: "success" | "noop";
  counts: RunCounts;
}
