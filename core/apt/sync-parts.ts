// What the verbatim and the filtered APT sync share: index-file fetching, the planned package files, their download and tree check.
import { ChantalError } from "../errors.js";
import { HttpStatusError } from "../http/client.js";
import { downloadToPool, type DownloadJob } from "../http/download.js";
import { upstreamFileUrl } from "../http/url.js";
import type { CommittedPackage, MetadataEntry } from "../mirror/commit.js";
import { downloadPackages } from "../mirror/download-packages.js";
import { putBuffer } from "../storage/put-buffer.js";
import type { PackageRecord } from "../db/package-sets.js";
import type { RunCounts } from "../db/sync-runs.js";
import type { RepoSyncContext, SyncPlanReport } from "../mirror/types.js";
import { syncPlanReport, type PlanItem } from "../mirror/plan-report.js";
import { findPathConflict, pathConflictMessage, safeLocation } from "../mirror/location.js";
import { sha256Hex } from "../checksum.js";
import type { DebPackage, SourcePackage } from "./packages.js";
import type { Release, ReleaseFile } from "./release.js";
import { byHashPaths } from "./indices.js";

export class AptSyncError extends ChantalError {}

/** Index files fetched at once. */
export const INDEX_CONCURRENCY = 4;

const EMPTY_SHA256 = sha256Hex(Buffer.alloc(0));

/** One file the run will publish at `location` (a .deb, or a source package's file). */
export interface PlannedFile {
  location: string;
  sha256: string;
  size: number;
  record: Omit<PackageRecord, "sha256" | "size" | "checksum">;
}

/** A path inside the repository built from configuration and Release entries; refuses anything that leaves it. */
export function insideRepository(path: string): string {
  return safeLocation(path, undefined);
}

export function isAbsent(err: unknown): boolean {
  return err instanceof HttpStatusError && (err.status === 404 || err.status === 403);
}

/**
 * Pools one index file, verified against the Release's size and SHA256; returns false when it is absent
 * upstream. With Acquire-By-Hash the by-hash copy is fetched first (it cannot change under us), as apt does.
 */
export async function fetchIndexFile(file: ReleaseFile, dist: string, release: Release, ctx: RepoSyncContext): Promise<boolean> {
  if (await ctx.blobs.has(file.sha256)) return true;
  // An empty index (a component without sources) is known without asking.
  if (file.size === 0 && file.sha256 === EMPTY_SHA256) {
    await putBuffer(ctx.blobs, Buffer.alloc(0));
    return true;
  }
  const paths = release.acquireByHash ? [`${dist}/${byHashPaths(file)[0]}`, `${dist}/${file.path}`] : [`${dist}/${file.path}`];
  for (const path of paths) {
    try {
      await downloadToPool(
        {
          url: upstreamFileUrl(ctx.repo.upstream_url, insideRepository(path)),
          expected: { algo: "sha256", value: file.sha256 },
          size: file.size,
          label: `${dist}/${file.path}`,
        },
        { blobs: ctx.blobs, http: { ...ctx.http, signal: ctx.signal } },
      );
      return true;
    } catch (err) {
      if (!isAbsent(err)) throw err;
    }
  }
  return false;
}

export class PlannedSet {
  readonly byLocation = new Map<string, PlannedFile>();

  constructor(private readonly ctx: RepoSyncContext) {}

  /** Adds a file; the same location twice must be the same file (an index or two disagreeing is refused). */
  add(href: string, sha256: string, size: number, record: PlannedFile["record"], label: string): void {
    const location = safeLocation(href, undefined, { repoUrl: this.ctx.repo.upstream_url });
    const prev = this.byLocation.get(location);
    if (prev && (prev.sha256 !== sha256 || prev.size !== size)) {
      throw new AptSyncError(`${label}: ${location} is listed twice with different checksums (${prev.sha256} and ${sha256}) in repository ${this.ctx.repo.id}`);
    }
    if (!prev) this.byLocation.set(location, { location, sha256, size, record });
  }

  /** A binary package of a Packages index. */
  addDeb(p: DebPackage, label: string): void {
    this.add(
      p.filename,
      p.sha256,
      p.size,
      { type: "deb", name: p.name, epoch: p.epoch, version: p.version, release: p.release, arch: p.arch, metadata: { version: p.fullVersion } },
      label,
    );
  }

  /** Every file of a source package of a Sources index (the .dsc, the tarballs). */
  addSource(s: SourcePackage, label: string): void {
    for (const f of s.files) {
      const type = f.filename.endsWith(".dsc") ? "dsc" : "file";
      this.add(
        f.filename,
        f.sha256,
        f.size,
        { type, name: s.name, epoch: s.epoch, version: s.version, release: s.release, arch: "source", metadata: { version: s.fullVersion } },
        label,
      );
    }
  }
}

export function packageRecord(p: PlannedFile): CommittedPackage {
  return { ...p.record, sha256: p.sha256, size: p.size, checksum: `sha256:${p.sha256}`, location: p.location };
}

function describeFile(p: PlannedFile): string {
  const v = p.record.metadata?.version;
  return `${p.record.name}${v ? ` ${String(v)}` : ""} (${p.record.arch}) ${p.location.split("/").pop()}`;
}

export async function downloadMissing(missing: PlannedFile[], ctx: RepoSyncContext, counts: RunCounts): Promise<void> {
  const jobs: DownloadJob[] = missing.map((p) => ({
    url: upstreamFileUrl(ctx.repo.upstream_url, p.location),
    expected: { algo: "sha256", value: p.sha256 },
    size: p.size,
    label: describeFile(p),
  }));
  const bytesTotal = missing.reduce((n, p) => n + p.size, 0);
  await downloadPackages(jobs, ctx, counts, bytesTotal, (index) => packageRecord(missing[index]!));
}

function describeTreeEntry(e: PlannedFile | MetadataEntry): string {
  return "record" in e ? `${describeFile(e)} (${e.location})` : `index file ${e.path}`;
}

/** Refuses, before anything is downloaded, a tree that publish could not build (a .deb at an index path, `a` and `a/b.deb`). */
export function refuseTreeConflicts(planned: PlannedFile[], metadata: MetadataEntry[], ctx: RepoSyncContext): void {
  const conflict = findPathConflict<PlannedFile | MetadataEntry>(
    [...metadata, ...planned],
    (e) => ("record" in e ? e.location : e.path),
    (a, b) => !("record" in a) && !("record" in b) && a.sha256 === b.sha256,
  );
  if (!conflict) return;
  throw new AptSyncError(pathConflictMessage(conflict, describeTreeEntry, ctx.repo.id, "indices"));
}

/** JSON with object keys sorted at every depth: the same filter always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The index checksum of a suite we rewrite (filtered) or re-sign: upstream's, the filter and the signing key. A changed
 * filter or key is a full re-plan; the same upstream, filter and key is a no-op.
 */
export function curatedIndexChecksum(upstream: string, filter: unknown, fingerprint: string | undefined): string {
  return sha256Hex(`curated-apt-1\0${upstream}\0${canonicalJson(filter ?? null)}\0${fingerprint ?? ""}`);
}

/** A package file as a plan names it: name_version_arch; a source package's files add their name (name_version_source/file). */
export function planName(p: PlannedFile): string {
  const name = `${p.record.name}_${String(p.record.metadata?.version ?? p.record.version)}_${p.record.arch}`;
  return p.record.arch === "source" ? `${name}/${p.location.slice(p.location.lastIndexOf("/") + 1)}` : name;
}

/** A planned file as a dry run reports it. */
export function planItem(p: PlannedFile): PlanItem {
  return { label: planName(p), size: p.size };
}

/** The dry-run report of a verbatim suite: every file upstream lists is kept. */
export function verbatimPlanReport(planned: readonly PlannedFile[], missing: readonly PlannedFile[]): SyncPlanReport {
  return syncPlanReport({ upstream: planned.map(planItem), toDownload: missing.map(planItem) });
}
