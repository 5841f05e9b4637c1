// What a repository-type syncer (rpm, apt) receives and returns; the orchestration around it is functions/sync.ts.
import type pg from "pg";
import type { Config, RepositoryConfig } from "../config/schema.js";
import type { HttpOptions } from "../http/client.js";
import type { Logger } from "../log.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { RepositoryRow } from "../db/repositories.js";
import type { RunCounts } from "../db/sync-runs.js";
import type { ActiveFilter } from "../filter/effective.js";

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
  /** The repository's active filter (filter/effective.ts); absent: mirrored verbatim, byte-identical to upstream. */
  filter?: ActiveFilter;
  /** The mirror's own key: signs regenerated metadata always, verbatim trees when `resign` is set. */
  signer?: MetadataSigner;
  /** Plan only: fetch the index and metadata, decide, report; download no package and commit nothing. */
  dryRun?: boolean;
  /**
   * The repository's package set (location -> sha256) as the plan read it under the lock, when it trusted it
   * (core/mirror/pool-presence.ts): the commit then writes only the difference from it.
   */
  previousSet?: Map<string, string>;
  /** That set's read, started ahead of the parse (pool-presence.ts readPreviousSetAhead). */
  previousSetRead?: Promise<Map<string, string>>;
}

/** What reading a repository's recorded metadata needs (a sync's context, or the publish gate's). */
export type MetadataReadContext = Pick<RepoSyncContext, "config" | "repo" | "db" | "blobs" | "log" | "signal" | "filter">;

/** The mirror's OpenPGP key as a sync uses it (core/openpgp/sign.ts makes one from signing.key_file). */
export interface MetadataSigner {
  /** Sign trees published verbatim too (signing.resign). */
  readonly resign: boolean;
  /** Where clients find the public key: <repo-id>/<publicKeyName>.asc and .gpg beside the trees. */
  readonly publicKeyName: string;
  /** The key's fingerprint (upper-case hex), recorded in the index checksum so a new key re-signs. */
  readonly fingerprint: string;
  /** A detached, armored signature (repomd.xml.asc, Release.gpg). */
  signDetached(data: Buffer): Promise<string>;
  /** A clearsigned document (InRelease). */
  clearsign(text: string): Promise<string>;
  /** The public key, armored and binary (the .asc / .gpg files). */
  publicKeyArmored(): string;
  publicKeyBinary(): Uint8Array;
}

/** What a dry run would do (`repo sync --dry-run`): counts and sizes, and the names with --verbose. */
export interface SyncPlanReport {
  packagesUpstream: number;
  kept: number;
  dropped: number;
  /** Of the kept: added by the dependency closure. */
  addedByDependencies: number;
  toDownload: number;
  bytesToDownload: number;
  bytesKept: number;
  /** NEVRA / name_version_arch; sorted. */
  keptNames: string[];
  droppedNames: string[];
  downloadNames: string[];
}

/**
 * What a sync has just verified, handed to its publish's gate so that it is not read again: the packages of the
 * metadata file `source` (its sha256: primary.xml for RPM), each in the pool (downloaded and checked by this run, or
 * found there by its plan).
 */
export interface VerifiedListing {
  source: string;
  packages: readonly { location: string; sha256: string | undefined; size: number; nevra: string }[];
}

export interface RepoSyncResult {
  status: "success" | "noop" | "dry-run";
  counts: RunCounts;
  /** With dryRun: the plan. */
  plan?: SyncPlanReport;
  /** A success: the package list it verified, for the publish gate (not read again). */
  verified?: VerifiedListing;
}
