// The steps of an RPM sync that the verbatim (sync.ts) and the filtered (filtered-sync.ts) paths share.
import { presentBlobs } from "../mirror/pool-presence.js";
import { ChantalError } from "../errors.js";
import { fetchBuffer, HttpStatusError } from "../http/client.js";
import type { ChecksumAlgo } from "../checksum.js";
import { downloadMany, type DownloadJob, type ExpectedChecksum } from "../http/download.js";
import type { CommittedPackage, MetadataEntry } from "../mirror/commit.js";
import { downloadPackages } from "../mirror/download-packages.js";
import { compressionFromPath } from "../compress/decompress.js";
import { upstreamFileUrl } from "../http/url.js";
import { sha256ByChecksum } from "../db/package-sets.js";
import type { RunCounts } from "../db/sync-runs.js";
import type { RepoSyncContext } from "../mirror/types.js";
import type { RepomdData } from "./repomd.js";
import { parsePrimaryInWorker, type ParseInput } from "./primary-thread.js";
import { primaryMemoFile } from "./primary-memo.js";
import type { ParsedPackage } from "./primary-protocol.js";
import type { RpmDependencies } from "./dependencies.js";
import { findPathConflict, pathConflictMessage, safeLocation } from "../mirror/location.js";

export class RpmMetadataError extends ChantalError {}

export const REPOMD = "repodata/repomd.xml";
export const SIGNATURE_FILES = ["repodata/repomd.xml.asc", "repodata/repomd.xml.key"];
export const MAX_REPOMD_BYTES = 16 * 1024 * 1024;
/** A primary.xml that decompresses past this is refused (a decompression bomb, not a repository; Fedora's is ~0.3 GB). */
export const MAX_PRIMARY_BYTES = 4 * 1024 * 1024 * 1024;
/** More packages than any real repository (Fedora: ~75,000), fewer than would exhaust memory. */
export const MAX_PACKAGES = 1_000_000;

/** Optional files (signatures): absent upstream is fine, any other failure is not. */
export async function fetchOptional(url: string, ctx: RepoSyncContext): Promise<Buffer | null> {
  try {
    return (await fetchBuffer(url, { ...ctx.http, signal: ctx.signal }, { maxBytes: 1024 * 1024 }, { subject: url.split("/").pop() })).body;
  } catch (err) {
    if (err instanceof HttpStatusError && (err.status === 404 || err.status === 403)) return null;
    throw err;
  }
}

/** The repository-relative path of an upstream location, refusing anything outside the repository. */
export function locationOf(ctx: Pick<RepoSyncContext, "repo">, href: string, base?: string): string {
  return safeLocation(href, base, { repoUrl: ctx.repo.upstream_url });
}

/**
 * The sha256 of what the pool already holds for each checksum (`algo:hex`): sha256 is the pool's key; another
 * algorithm is found in the database (recorded packages) or the pool's alias journal (adopted by a killed run).
 * A hint only: the caller checks presence in the pool.
 */
export async function sha256Candidates(checksums: readonly { algo: ChecksumAlgo; value: string }[], ctx: RepoSyncContext): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const others: string[] = [];
  for (const c of checksums) {
    const key = `${c.algo}:${c.value}`;
    if (c.algo === "sha256") out.set(key, c.value);
    else others.push(key);
  }
  if (others.length === 0) return out;
  for (const [k, v] of await sha256ByChecksum(ctx.db, others)) out.set(k, v);
  const unknown = others.filter((k) => !out.has(k));
  for (const [k, v] of (await ctx.blobs.adoptedByAlias?.(unknown)) ?? []) out.set(k, v);
  return out;
}

/** The data files (primary, filelists, ...): pooled ones are not fetched again (a rerun after a failure or a kill). */
export async function fetchDataFiles(data: RepomdData[], ctx: RepoSyncContext): Promise<MetadataEntry[]> {
  const paths = data.map((d) => locationOf(ctx, d.location, d.locationBase));
  const candidates = await sha256Candidates(
    data.map((d) => d.checksum),
    ctx,
  );
  const entries: (MetadataEntry | undefined)[] = await Promise.all(
    data.map(async (d, i) => {
      const sha256 = candidates.get(`${d.checksum.algo}:${d.checksum.value}`);
      const size = sha256 ? await ctx.blobs.sizeOf(sha256) : undefined;
      if (sha256 === undefined || size === undefined || (d.size !== undefined && size !== d.size)) return undefined;
      return { path: paths[i]!, sha256, size };
    }),
  );
  const missing = data.flatMap((_d, i) => (entries[i] ? [] : [i]));
  const jobs: DownloadJob[] = missing.map((i) => ({
    url: upstreamFileUrl(ctx.repo.upstream_url, paths[i]!),
    expected: data[i]!.checksum,
    ...(data[i]!.size !== undefined ? { size: data[i]!.size } : {}),
    label: `${data[i]!.type} metadata (${paths[i]})`,
  }));
  const result = await downloadMany(jobs, { blobs: ctx.blobs, http: ctx.http, concurrency: 4, signal: ctx.signal });
  missing.forEach((i, j) => (entries[i] = { path: paths[i]!, sha256: result.results[j]!.sha256, size: result.results[j]!.size }));
  ctx.log.debug({ repo: ctx.repo.id, pooled: data.length - missing.length, fetched: missing.length }, "metadata files");
  return entries as MetadataEntry[];
}

/**
 * One package of the repository's new set, as compact as it can be: 100,000 of them stay in memory from the
 * parse to the commit. It is also the package's catalog row (CommittedPackage) once its sha256 is known.
 */
export class RpmPackage {
  readonly type = "rpm";
  readonly location: string;
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
  readonly arch: string;
  size: number;
  readonly checksumAlgo: ChecksumAlgo;
  /** Lower-case hex; its length tells the algorithm, so it alone identifies the file among packages. */
  readonly checksumValue: string;
  /** Known when upstream declares sha256, when we have pooled it before, or once downloaded. */
  sha256: string | undefined;

  /** `arch` is p.arch, interned: one string for every package of an architecture. */
  constructor(p: ParsedPackage, arch: string) {
    this.location = p.location;
    this.name = p.name;
    this.epoch = p.epoch;
    this.version = p.version;
    this.release = p.release;
    this.arch = arch;
    this.size = p.size ?? 0;
    this.checksumAlgo = p.checksumAlgo;
    this.checksumValue = p.checksumValue;
    this.sha256 = p.checksumAlgo === "sha256" ? p.checksumValue : undefined;
  }

  /** Upstream's declared checksum as `algo:value`, as recorded in the catalog. */
  get checksum(): string {
    return `${this.checksumAlgo}:${this.checksumValue}`;
  }

  get nevra(): string {
    return `${this.name}-${this.epoch ? `${this.epoch}:` : ""}${this.version}-${this.release}.${this.arch}`;
  }
}

/** Few distinct values (arch) repeated in every package: one string each instead of 100,000 copies. */
export class StringPool {
  private readonly known = new Map<string, string>();
  constructor(private readonly max: number) {}

  intern(s: string): string {
    const hit = this.known.get(s);
    if (hit !== undefined) return hit;
    if (this.known.size < this.max) this.known.set(s, s);
    return s;
  }
}

/** The same location twice is the same file listed twice (fine), or two files of which one would be lost (refused). */
export function sameFile(a: RpmPackage, b: ParsedPackage): boolean {
  return a.checksumAlgo === b.checksumAlgo && a.checksumValue === b.checksumValue && (a.size === 0 || b.size === null || a.size === b.size);
}

/**
 * How a repository's primary is parsed: readPrimary and the parse started ahead (primary-ahead.ts) build it here, so
 * that the sync takes a parse started ahead only when it is exactly the parse it would start.
 */
export function primaryParseOptions(
  path: string,
  openSize: number | undefined,
  ctx: Pick<RepoSyncContext, "repo"> & Partial<Pick<RepoSyncContext, "config" | "force">>,
  withDependencies: boolean,
): ParseInput {
  return {
    compression: compressionFromPath(path),
    label: path,
    maxOutputBytes: MAX_PRIMARY_BYTES,
    maxPackages: MAX_PACKAGES,
    ...(openSize !== undefined ? { openSize } : {}),
    repoUrl: ctx.repo.upstream_url,
    ...(withDependencies ? { withDependencies: true } : {}),
    // The unchanged packages of a changed primary.xml are taken from the last parse (primary-memo.ts; the thread leaves it
    // out of a parse with dependencies); --full (ctx.force) reads all.
    ...(ctx.config ? { memoFile: primaryMemoFile(ctx.config, ctx.repo.id), ignoreMemo: ctx.force === true } : {}),
  };
}

/** The packages of primary.xml by location (a location listed twice must be the same file), parsed in a worker thread. */
/** `onDependencies` (a filter with with_dependencies) receives each kept package's dependency data. */
export async function readPrimary(
  entry: MetadataEntry,
  openSize: number | undefined,
  ctx: Pick<RepoSyncContext, "blobs" | "signal" | "repo"> & Partial<Pick<RepoSyncContext, "config" | "force" | "log">>,
  onDependencies?: (pkg: RpmPackage, deps: RpmDependencies) => void,
): Promise<RpmPackage[]> {
  const byLocation = new Map<string, RpmPackage>();
  const arches = new StringPool(1000);
  const file = ctx.blobs.localPath?.(entry.sha256);
  const packages = parsePrimaryInWorker(file !== undefined ? { file } : ctx.blobs.openRead(entry.sha256, ctx.signal), {
    ...primaryParseOptions(entry.path, openSize, ctx, onDependencies !== undefined),
    signal: ctx.signal,
    onReused: (n) => ctx.log?.debug({ repo: ctx.repo.id, reused: n }, `${entry.path}: ${n} packages taken from the last parse of the unchanged elements`),
    onTakenAhead: () => ctx.log?.debug({ repo: ctx.repo.id }, `${entry.path}: the parse started while the database started is taken over`),
  });
  for await (const p of packages) {
    const pkg = new RpmPackage(p, arches.intern(p.arch));
    const prev = byLocation.get(p.location);
    if (prev && !sameFile(prev, p)) {
      throw new RpmMetadataError(
        `${entry.path} of repository ${ctx.repo.id}: ${p.location} is listed twice with different checksums (${prev.nevra} ${prev.checksum}, ${pkg.nevra} ${pkg.checksum}): refusing the inconsistent metadata`,
      );
    }
    byLocation.set(p.location, pkg);
    if (onDependencies && p.deps) onDependencies(pkg, p.deps);
  }
  return [...byLocation.values()];
}

/** Which packages the pool lacks: by sha256 when declared, else by the checksum we recorded when we pooled it. */
export async function planDownloads(planned: RpmPackage[], ctx: RepoSyncContext): Promise<RpmPackage[]> {
  const unknown = planned.filter((p) => !p.sha256);
  if (unknown.length > 0) {
    const known = await sha256Candidates(
      unknown.map((p) => ({ algo: p.checksumAlgo, value: p.checksumValue })),
      ctx,
    );
    for (const p of unknown) p.sha256 = known.get(p.checksum);
  }
  const present = await presentBlobs(
    ctx,
    planned.flatMap((p) => (p.sha256 ? [p.sha256] : [])),
  );
  const seen = new Set<string>();
  return planned.filter((p) => {
    if (p.sha256 && present.has(p.sha256)) return false;
    if (seen.has(p.checksumValue)) return false;
    seen.add(p.checksumValue);
    return true;
  });
}

/** A download job whose URL and label are made when needed: 100,000 of them up front would cost tens of MB. */
export class PackageDownload implements DownloadJob {
  constructor(
    private readonly upstreamUrl: string,
    private readonly pkg: RpmPackage,
  ) {}

  get url(): string {
    return upstreamFileUrl(this.upstreamUrl, this.pkg.location);
  }

  get expected(): ExpectedChecksum {
    return { algo: this.pkg.checksumAlgo, value: this.pkg.checksumValue };
  }

  get size(): number | undefined {
    return this.pkg.size || undefined;
  }

  get label(): string {
    return this.pkg.nevra;
  }
}

export async function downloadMissing(missing: RpmPackage[], ctx: RepoSyncContext, counts: RunCounts): Promise<void> {
  const bytesTotal = missing.reduce((n, p) => n + p.size, 0);
  const jobs: DownloadJob[] = missing.map((p) => new PackageDownload(ctx.repo.upstream_url, p));
  await downloadPackages(jobs, ctx, counts, bytesTotal, (index, result) => {
    const p = missing[index]!;
    p.sha256 = result.sha256;
    p.size = result.size;
    return committedOf(p);
  });
}

/** Packages that share a checksum with a downloaded one get its sha256. */
export function fillFromSiblings(planned: RpmPackage[]): void {
  const byChecksum = new Map<string, string>();
  for (const p of planned) if (p.sha256) byChecksum.set(p.checksumValue, p.sha256);
  for (const p of planned) p.sha256 ??= byChecksum.get(p.checksumValue);
}

export function committedOf(p: RpmPackage): CommittedPackage {
  if (p.sha256 === undefined) throw new Error(`${p.nevra} (${p.location}) was neither pooled nor downloaded`);
  return p as RpmPackage & { sha256: string };
}

export function describeTreeEntry(e: RpmPackage | MetadataEntry): string {
  return e instanceof RpmPackage ? `package ${e.nevra} (${e.location})` : `metadata file ${e.path}`;
}

/** Refuses, before anything is downloaded, a tree that publish could not build (a package at a metadata path, `a` and `a/b.rpm`). */
export function refuseTreeConflicts(planned: RpmPackage[], metadata: MetadataEntry[], ctx: RepoSyncContext): void {
  const conflict = findPathConflict<RpmPackage | MetadataEntry>(
    [...metadata, ...planned],
    (e) => (e instanceof RpmPackage ? e.location : e.path),
    (a, b) => !(a instanceof RpmPackage) && !(b instanceof RpmPackage) && a.sha256 === b.sha256,
  );
  if (!conflict) return;
  throw new RpmMetadataError(pathConflictMessage(conflict, describeTreeEntry, ctx.repo.id, "metadata"));
}
