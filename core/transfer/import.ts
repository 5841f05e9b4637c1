// import BUNDLE: the signature first, then every check that can refuse before anything is written, the blobs into the pool (verified, resumable), the catalog, one transaction per snapshot, the group snapshots.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { forEachLimited } from "../concurrency.js";
import type { Config } from "../config/schema.js";
import { claimImport, completeImport, findImport, startImport } from "../db/imports.js";
import { recordedBlobs, upsertMetadataFiles, upsertPackages } from "../db/package-sets.js";
import { ensureRepository } from "../db/repositories.js";
import { withTransaction } from "../db/transaction.js";
import { ChantalError, ExitCode } from "../errors.js";
import { findGroupSnapshot, insertImportedGroupSnapshot } from "../groups/group-snapshots.js";
import { findSnapshot, insertSnapshotWithContent, snapshotContent, type SnapshotContent, type SnapshotRow } from "../snapshots/snapshots.js";
import { blobStoreOf } from "../storage/backend.js";
import type { BlobStore } from "../storage/blob-store.js";
import { BUFFERED_BLOB_BYTES, readBlobs } from "./bundle-read.js";
import { openBundle, type BundleTrust } from "./bundle-verify.js";
import { BundleInvalidError, referencedBlobs, type BlobEntry, type Manifest } from "./manifest.js";

/** The receiver's configuration lacks a repository or group the bundle carries: nothing was written. */
export class ImportConfigError extends ChantalError {
  override readonly exitCode = ExitCode.config;
}

/** A snapshot of the bundle exists here under the same name with other content. */
export class ImportConflictError extends ChantalError {}

export interface ImportOptions {
  signal?: AbortSignal;
  now?: () => Date;
  /** Called after each blob copied into the pool (progress; tests kill the process here). */
  onBlobCopied?: (entry: BlobEntry) => void;
}

export interface ImportResult {
  exportId: string;
  kind: Manifest["kind"];
  /** The bundle was imported completely before: nothing changed. */
  alreadyImported: boolean;
  blobsCopied: number;
  bytesCopied: number;
  /** Blobs of the bundle that were in the pool already (a resume, or shared with an earlier import). */
  blobsPresent: number;
  snapshotsCreated: string[];
  snapshotsPresent: string[];
  groupSnapshotsCreated: string[];
  /** Every snapshot of the bundle, here (for --publish). */
  snapshots: SnapshotRow[];
  manifest: Manifest;
}

/** A temp file older than this is stale even when its writer's pid is alive (a reused pid). */
const STALE_TEMP_MS = 24 * 3600_000;

const sameContent = (a: SnapshotContent, b: SnapshotContent): boolean => canon(a) === canon(b);
function canon(c: SnapshotContent): string {
  const sort = (r: Record<string, string>) =>
    Object.keys(r)
      .sort()
      .map((k) => `${k}\0${r[k]}`);
  return JSON.stringify([sort(c.packages), sort(c.metadata)]);
}

/** The repositories and groups the bundle names must be configured here, with the same type: one error naming all that are not. */
export function checkConfigured(config: Config, m: Manifest): void {
  const missing: string[] = [];
  const wrongType: string[] = [];
  for (const r of m.repositories) {
    const mine = config.repositories.find((c) => c.id === r.repo_id);
    if (!mine)
      missing.push(
        `  - id: ${r.repo_id}\n    type: ${r.type}\n    upstream_url: ${r.upstream_url}\n    enabled: false${r.type === "apt" ? "\n    apt: { distribution: SUITE }   # the suite (and components) as on the connected side" : ""}`,
      );
    else if (mine.type !== r.type) wrongType.push(`${r.repo_id} is ${mine.type} here, ${r.type} in the bundle`);
  }
  if (wrongType.length > 0) throw new ImportConfigError(`cannot import ${m.export_id}: ${wrongType.join("; ")}`);
  if (missing.length > 0)
    throw new ImportConfigError(
      `cannot import ${m.export_id}: ${missing.length} of its repositories are not configured here (nothing was imported); add them to the configuration, e.g. conf.d/imported.yaml (enabled: false: this side never syncs them):\nrepositories:\n${missing.join("\n")}`,
    );
  const groups = [...new Set(m.group_snapshots.map((g) => g.group))];
  const noGroup = groups.filter((g) => !config.groups.some((c) => c.id === g));
  if (noGroup.length > 0) {
    const snippet = m.group_snapshots
      .filter((g, i, all) => noGroup.includes(g.group) && all.findIndex((x) => x.group === g.group) === i)
      .map((g) => `  - id: ${g.group}\n    repositories: [${g.members.join(", ")}]`);
    throw new ImportConfigError(
      `cannot import ${m.export_id}: group${noGroup.length > 1 ? "s" : ""} ${noGroup.join(", ")} not configured here (nothing was imported); add:\ngroups:\n${snippet.join("\n")}`,
    );
  }
}

/** Blobs written to the pool at once (their open, write, close and link through libuv's threads overlap). */
const IMPORT_COPY_CONCURRENCY = 8;

/**
 * Copy one verified blob into the pool: a temp file (the only temp space), taken in only when the stream ended cleanly.
 * A filesystem pool's are not flushed one by one: flushAdopted() flushes them all before the database records them.
 */
async function copyBlob(blobs: BlobStore, entry: BlobEntry, data: Readable, whole: Buffer | undefined, signal?: AbortSignal): Promise<void> {
  if (blobs.putUnflushed) return blobs.putUnflushed(entry.sha256, whole ?? data, signal);
  const tmp = blobs.tempPath(entry.sha256);
  try {
    await pipeline(data, createWriteStream(tmp, { flags: "wx" }), signal ? { signal } : {});
    await blobs.adopt(tmp, entry.sha256, signal);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Pool blobs hashed at once when a resumed import checks what a killed one left. */
const VERIFY_CONCURRENCY = 4;

/**
 * A blob in the pool that no row records may be one a killed import put there before its flush (a power loss then can
 * leave it empty or short): hashed before it is trusted; one that is not its name is removed from the pool and from
 * `present`, and copied again. Recorded blobs were flushed before their rows were written.
 */
async function distrustUnrecorded(pool: pg.Pool, blobs: BlobStore, present: Set<string>, signal?: AbortSignal): Promise<void> {
  if (present.size === 0) return;
  const recorded = await recordedBlobs(pool, [...present]);
  const unrecorded = [...present].filter((s) => !recorded.has(s));
  await forEachLimited(
    unrecorded,
    VERIFY_CONCURRENCY,
    async (sha256) => {
      const hash = createHash("sha256");
      const whole = await (async () => {
        for await (const chunk of blobs.openRead(sha256, signal)) hash.update(chunk as Buffer);
        return true;
      })().catch(() => {
        signal?.throwIfAborted();
        return false;
      });
      if (whole && hash.digest("hex") === sha256) return;
      await blobs.remove(sha256);
      present.delete(sha256);
    },
    signal,
  );
}

/** Import the bundle `dir` into this installation (its database `pool`, its pool of blobs from `config`). */
export async function importBundle(pool: pg.Pool, config: Config, dir: string, trust: BundleTrust, opts: ImportOptions = {}): Promise<ImportResult> {
  const now = opts.now ?? (() => new Date());
  const { manifest: m, manifestSha256 } = await openBundle(dir, trust, now());
  const result: ImportResult = {
    exportId: m.export_id,
    kind: m.kind,
    alreadyImported: false,
    blobsCopied: 0,
    bytesCopied: 0,
    blobsPresent: 0,
    snapshotsCreated: [],
    snapshotsPresent: [],
    groupSnapshotsCreated: [],
    snapshots: [],
    manifest: m,
  };
  const previous = await findImport(pool, m.export_id);
  if (previous && previous.manifestSha256 !== manifestSha256)
    throw new BundleInvalidError(
      `${dir}: export ${m.export_id} was imported before with another manifest (sha256 ${previous.manifestSha256}, this one ${manifestSha256}): two different bundles under one export id`,
    );
  checkConfigured(config, m);

  // A delta: its base, and every blob it expects here.
  const inBundle = new Set(m.blobs.map((b) => b.sha256));
  const outside = [...referencedBlobs(m)].filter((s) => !inBundle.has(s)).sort();
  const blobs: BlobStore = blobStoreOf(config);
  if (m.kind === "delta") {
    const why = m.base_export_id ? `export ${m.base_export_id}${m.base_description ? ` (${m.base_description})` : ""}` : (m.base_description ?? "its base");
    if (m.base_export_id) {
      const base = await findImport(pool, m.base_export_id);
      if (base?.status !== "complete")
        throw new BundleInvalidError(
          `${dir}: export ${m.export_id} is a delta against ${why}, which was ${base ? "not completely imported (status running: run its import again)" : "never imported here"}: import ${m.base_export_id} first, or ask for a full export (nothing was imported)`,
        );
    }
    if (outside.length > 0) {
      const recorded = await recordedBlobs(pool, outside);
      const present = await blobs.haveMany(
        outside.filter((s) => recorded.has(s)),
        16,
      );
      const missing = outside.filter((s) => !present.has(s));
      if (missing.length > 0)
        throw new BundleInvalidError(
          `${dir}: export ${m.export_id} is a delta against ${why}: ${missing.length} of the ${outside.length} blobs it expects here are not in this database and pool (first ${missing[0]}): import the base first, or ask for a full export (nothing was imported)`,
        );
    }
  }

  // Snapshots that exist already: the same content is skipped, another content refused, before anything is written.
  const existing = new Map<string, number>();
  for (const s of m.snapshots) {
    const row = await findSnapshot(pool, s.repo_id, s.name);
    if (!row) continue;
    if (!sameContent(await snapshotContent(pool, row.id), s))
      throw new ImportConflictError(
        `snapshot ${s.repo_id}/${s.name} exists here with other content than in export ${m.export_id}: nothing was imported; delete it (snapshot delete) or import under another installation`,
      );
    existing.set(`${s.repo_id}/${s.name}`, row.id);
  }

  if (previous?.status === "complete" && existing.size === m.snapshots.length) {
    result.alreadyImported = true;
    for (const s of m.snapshots) result.snapshots.push((await findSnapshot(pool, s.repo_id, s.name))!);
    return result;
  }

  if (previous?.status === "running") await claimImport(pool, m.export_id);
  // The blobs: those in the pool already are not read again (a resume); each other is hashed while copied.
  await blobs.ensureTempDir();
  // A killed import's half-written temp file (its writer is dead) goes; a live writer's stays.
  await blobs.cleanStaleTemp(STALE_TEMP_MS);
  const present = await blobs.haveMany(inBundle, 16);
  await distrustUnrecorded(pool, blobs, present, opts.signal);
  result.blobsPresent = present.size;
  // Small blobs (already read and verified, a buffer) are written several at a time: each one's file system calls
  // would otherwise wait alone. A large one's stream is the bundle's own, read to its end before the next blob.
  const copying = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const copied = (e: BlobEntry) => {
    result.blobsCopied++;
    result.bytesCopied += e.size;
    opts.onBlobCopied?.(e);
  };
  try {
    await readBlobs(dir, m, {
      skip: (e) => present.has(e.sha256),
      onBlob: async (e, data, whole) => {
        if (failure) throw failure.error;
        if (e.size > BUFFERED_BLOB_BYTES) {
          await copyBlob(blobs, e, data, whole, opts.signal);
          copied(e);
          return;
        }
        const job: Promise<void> = copyBlob(blobs, e, data, whole, opts.signal)
          .then(() => copied(e))
          .catch((error: unknown) => {
            failure ??= { error };
          })
          .finally(() => copying.delete(job));
        copying.add(job);
        while (copying.size >= IMPORT_COPY_CONCURRENCY) await Promise.race(copying);
      },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } finally {
    await Promise.all(copying);
  }
  if (failure) throw failure.error;
  await blobs.flushAdopted?.();

  await startImport(pool, {
    exportId: m.export_id,
    sourceInstance: m.instance_id,
    kind: m.kind,
    baseExportId: m.base_export_id,
    manifestSha256,
    blobCount: m.blobs.length,
    blobBytes: m.blobs.reduce((n, b) => n + b.size, 0),
    exportedAt: new Date(m.created_at),
  });

  // The catalog: packages and metadata files by sha256 (rows that exist are kept).
  const sizes = new Map(m.blobs.map((b) => [b.sha256, b.size]));
  await upsertPackages(pool, m.packages, (p) => ({ ...p, type: p.type as "rpm" | "deb" | "dsc" | "file" }));
  const metaShas = new Set(m.snapshots.flatMap((s) => Object.values(s.metadata)));
  await upsertMetadataFiles(
    pool,
    [...metaShas].filter((s) => sizes.has(s)).map((sha256) => ({ sha256, size: sizes.get(sha256)! })),
  );

  // Repositories, then each snapshot in its own transaction: it appears only with all its content.
  const repoIds = new Map<string, number>();
  for (const r of m.repositories) repoIds.set(r.repo_id, (await ensureRepository(pool, config.repositories.find((c) => c.id === r.repo_id)!)).id);
  const snapshotIds = new Map<string, number>();
  for (const s of m.snapshots) {
    const key = `${s.repo_id}/${s.name}`;
    const had = existing.get(key);
    if (had !== undefined) {
      snapshotIds.set(key, had);
      result.snapshotsPresent.push(key);
    } else {
      const id = await withTransaction(pool, (c) =>
        insertSnapshotWithContent(c, repoIds.get(s.repo_id)!, s.repo_id, s.name, s, { description: s.description, createdAt: new Date(s.created_at) }),
      );
      snapshotIds.set(key, id);
      result.snapshotsCreated.push(key);
    }
    result.snapshots.push((await findSnapshot(pool, s.repo_id, s.name))!);
  }
  for (const g of m.group_snapshots) {
    if (await findGroupSnapshot(pool, g.group, g.name)) continue;
    const ids = g.members.map((r) => snapshotIds.get(`${r}/${g.name}`)!);
    await insertImportedGroupSnapshot(pool, g.group, g.name, ids, { description: g.description, createdAt: new Date(g.created_at) });
    result.groupSnapshotsCreated.push(`${g.group}/${g.name}`);
  }
  await completeImport(pool, m.export_id, now());
  return result;
}
