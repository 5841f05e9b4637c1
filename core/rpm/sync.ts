// RPM mirror sync: repomd.xml -> every <data> file -> stream-parse primary -> download missing packages -> one transaction.
import { createHash } from "node:crypto";
import { ChantalError } from "../errors.js";
import { fetchBuffer, HttpStatusError } from "../http/client.js";
import { downloadMany, type DownloadJob } from "../http/download.js";
import { commitSync, type CommittedPackage, type MetadataEntry } from "../sync/commit.js";
import { downloadPackages } from "../sync/download-packages.js";
import { decompressIterable, compressionFromPath } from "../compress/decompress.js";
import { upstreamFileUrl } from "../http/url.js";
import { flatCopy } from "../strings.js";
import { putBuffer } from "../storage/put-buffer.js";
import { sha256ByChecksum, type PackageRecord } from "../db/package-sets.js";
import { zeroCounts, type RunCounts } from "../db/sync-runs.js";
import type { RepoSyncContext, RepoSyncResult } from "../sync/types.js";
import { parseRepomd, type RepomdData } from "./repomd.js";
import { parsePrimary, type PrimaryPackage } from "./primary.js";
import { safeLocation } from "./location.js";

export class RpmMetadataError extends ChantalError {}

const REPOMD = "repodata/repomd.xml";
const SIGNATURE_FILES = ["repodata/repomd.xml.asc", "repodata/repomd.xml.key"];
const MAX_REPOMD_BYTES = 16 * 1024 * 1024;
/** A primary.xml that decompresses past this is refused (a decompression bomb, not a repository; Fedora's is ~0.3 GB). */
const MAX_PRIMARY_BYTES = 4 * 1024 * 1024 * 1024;
/** More packages than any real repository (Fedora: ~75,000), fewer than would exhaust memory. */
const MAX_PACKAGES = 1_000_000;

function sha256Hex(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Optional files (signatures): absent upstream is fine, any other failure is not. */
async function fetchOptional(url: string, ctx: RepoSyncContext): Promise<Buffer | null> {
  try {
    return (await fetchBuffer(url, { ...ctx.http, signal: ctx.signal }, { maxBytes: 1024 * 1024 }, { subject: url.split("/").pop() })).body;
  } catch (err) {
    if (err instanceof HttpStatusError && (err.status === 404 || err.status === 403)) return null;
    throw err;
  }
}

/** The repository-relative path of an upstream location, refusing anything outside the repository. */
function locationOf(ctx: RepoSyncContext, href: string, base?: string): string {
  return safeLocation(href, base, { repoUrl: ctx.repo.upstream_url });
}

async function fetchDataFiles(data: RepomdData[], ctx: RepoSyncContext): Promise<MetadataEntry[]> {
  const paths = data.map((d) => locationOf(ctx, d.location, d.locationBase));
  const jobs: DownloadJob[] = data.map((d, i) => ({
    url: upstreamFileUrl(ctx.repo.upstream_url, paths[i]!),
    expected: d.checksum,
    ...(d.size !== undefined ? { size: d.size } : {}),
    label: `${d.type} metadata (${paths[i]})`,
  }));
  const result = await downloadMany(jobs, { pool: ctx.pool, http: ctx.http, concurrency: 4, signal: ctx.signal });
  return jobs.map((_, i) => ({ path: paths[i]!, sha256: result.results[i]!.sha256, size: result.results[i]!.size }));
}

async function readPrimary(entry: MetadataEntry, ctx: RepoSyncContext): Promise<PrimaryPackage[]> {
  const text = decompressIterable(ctx.pool.openRead(entry.sha256, ctx.signal), compressionFromPath(entry.path), { maxOutputBytes: MAX_PRIMARY_BYTES, label: entry.path });
  const pkgs: PrimaryPackage[] = [];
  for await (const p of parsePrimary(text, { signal: ctx.signal, maxPackages: MAX_PACKAGES, label: entry.path })) pkgs.push(p);
  return pkgs;
}

interface PlannedPackage {
  pkg: PrimaryPackage;
  location: string;
  checksum: string;
  /** Known when upstream declares sha256, or when we have pooled it before. */
  sha256?: string;
}

/** Which packages the pool lacks: by sha256 when declared, else by the checksum we recorded when we pooled it. */
async function planDownloads(pkgs: PrimaryPackage[], ctx: RepoSyncContext): Promise<{ planned: PlannedPackage[]; missing: PlannedPackage[] }> {
  const byLocation = new Map<string, PlannedPackage>();
  for (const pkg of pkgs) {
    const location = locationOf(ctx, pkg.location, pkg.locationBase);
    // Flattened: a template literal is a rope of several heap objects, kept for every package.
    const checksum = flatCopy(`${pkg.checksum.algo}:${pkg.checksum.value.toLowerCase()}`);
    byLocation.set(location, { pkg, location, checksum, ...(pkg.checksum.algo === "sha256" ? { sha256: pkg.checksum.value.toLowerCase() } : {}) });
  }
  const planned = [...byLocation.values()];
  const unknown = planned.filter((p) => !p.sha256).map((p) => p.checksum);
  if (unknown.length > 0) {
    const known = await sha256ByChecksum(ctx.db, unknown);
    for (const p of planned) p.sha256 ??= known.get(p.checksum);
  }
  const present = await ctx.pool.haveMany(planned.flatMap((p) => (p.sha256 ? [p.sha256] : [])));
  const seen = new Set<string>();
  const missing = planned.filter((p) => {
    if (p.sha256 && present.has(p.sha256)) return false;
    if (seen.has(p.checksum)) return false;
    seen.add(p.checksum);
    return true;
  });
  return { planned, missing };
}

function packageRecord(p: PlannedPackage, sha256: string, size: number): PackageRecord {
  return { sha256, size, type: "rpm", name: p.pkg.name, epoch: p.pkg.epoch, version: p.pkg.version, release: p.pkg.release, arch: p.pkg.arch, checksum: p.checksum };
}

/** A download job whose URL and label are made when needed: 100,000 of them up front would cost tens of MB. */
class PackageDownload implements DownloadJob {
  constructor(
    private readonly upstreamUrl: string,
    private readonly planned: PlannedPackage,
  ) {}

  get url(): string {
    return upstreamFileUrl(this.upstreamUrl, this.planned.location);
  }

  get expected() {
    return this.planned.pkg.checksum;
  }

  get size(): number | undefined {
    return this.planned.pkg.size;
  }

  get label(): string {
    const p = this.planned.pkg;
    return `${p.name}-${p.epoch ? `${p.epoch}:` : ""}${p.version}-${p.release}.${p.arch}`;
  }
}

async function downloadMissing(missing: PlannedPackage[], ctx: RepoSyncContext, counts: RunCounts): Promise<void> {
  const bytesTotal = missing.reduce((n, p) => n + (p.pkg.size ?? 0), 0);
  const jobs: DownloadJob[] = missing.map((p) => new PackageDownload(ctx.repo.upstream_url, p));
  await downloadPackages(jobs, ctx, counts, bytesTotal, (index, result) => {
    const p = missing[index]!;
    p.sha256 = result.sha256;
    return packageRecord(p, result.sha256, result.size);
  });
}

/** Packages that share a checksum with a downloaded one get its sha256. */
function fillFromSiblings(planned: PlannedPackage[]): void {
  const byChecksum = new Map<string, string>();
  for (const p of planned) if (p.sha256) byChecksum.set(p.checksum, p.sha256);
  for (const p of planned) p.sha256 ??= byChecksum.get(p.checksum);
}

function committed(planned: PlannedPackage[]): CommittedPackage[] {
  return planned.map((p) => ({ location: p.location, record: packageRecord(p, p.sha256!, p.pkg.size ?? 0) }));
}

export async function syncRpm(ctx: RepoSyncContext): Promise<RepoSyncResult> {
  const counts = zeroCounts();
  ctx.onProgress?.({ phase: "index", filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 });
  const repomdBytes = (await fetchBuffer(upstreamFileUrl(ctx.repo.upstream_url, REPOMD), { ...ctx.http, signal: ctx.signal }, { maxBytes: MAX_REPOMD_BYTES }, { subject: "repomd.xml" })).body;
  const indexChecksum = sha256Hex(repomdBytes);
  if (!ctx.force && ctx.row.indexChecksum === indexChecksum) {
    ctx.log.info({ repo: ctx.repo.id }, "repomd.xml unchanged: nothing to do");
    return { status: "noop", counts };
  }
  const repomd = parseRepomd(repomdBytes);
  const primaryData = repomd.data.find((d) => d.type === "primary");
  if (!primaryData) throw new RpmMetadataError(`${REPOMD} of ${ctx.repo.id} lists no primary metadata`);

  ctx.onProgress?.({ phase: "metadata", filesDone: 0, filesTotal: repomd.data.length, bytesDone: 0, bytesTotal: 0 });
  const metadata = await fetchDataFiles(repomd.data, ctx);
  metadata.push({ path: REPOMD, ...(await putBuffer(ctx.pool, repomdBytes)) });
  for (const path of SIGNATURE_FILES) {
    const body = await fetchOptional(upstreamFileUrl(ctx.repo.upstream_url, path), ctx);
    if (body) metadata.push({ path, ...(await putBuffer(ctx.pool, body)) });
  }

  const primaryEntry = metadata.find((m) => m.path === locationOf(ctx, primaryData.location, primaryData.locationBase))!;
  const pkgs = await readPrimary(primaryEntry, ctx);
  counts.packagesTotal = pkgs.length;
  ctx.onProgress?.({ phase: "plan", filesDone: 0, filesTotal: pkgs.length, bytesDone: 0, bytesTotal: 0 });
  const { planned, missing } = await planDownloads(pkgs, ctx);
  ctx.log.info({ repo: ctx.repo.id, packages: planned.length, missing: missing.length }, "plan");

  await downloadMissing(missing, ctx, counts);
  fillFromSiblings(planned);
  ctx.onProgress?.({ phase: "commit", filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 });
  await commitSync(ctx, committed(planned), metadata, indexChecksum, counts);
  return { status: "success", counts };
}
