// The sync of a curated RPM mirror (an active filter): plan, then regenerated metadata listing exactly the kept
// packages, signed by the mirror's key, then the downloads and the commit. Upstream's data files come from the pool.
import { createHash } from "node:crypto";
import { compareEvr } from "./evr.js";
import { compressionFromPath, decompressIterable } from "../compress/decompress.js";
import { compressStream, EXTENSION_OF, outputCompressionFor } from "../compress/compress.js";
import { ChantalError } from "../errors.js";
import { planFilter, unsatisfiedMessage } from "../filter/plan.js";
import { RPM_RULES } from "../filter/closure.js";
import type { FilterPlan } from "../filter/types.js";
import type { MetadataEntry } from "../mirror/commit.js";
import { commitSync } from "../mirror/commit.js";
import type { RepoSyncContext, RepoSyncResult, SyncPlanReport } from "../mirror/types.js";
import { putBuffer } from "../storage/put-buffer.js";
import { syncPlanReport } from "../mirror/plan-report.js";
import { putStream } from "../storage/put-stream.js";
import { filterPackageOf, unresolvedFileRequirements, type RpmDependencies } from "./dependencies.js";
import { filesProviding } from "./filelists.js";
import { dependencyRepositoryPackages } from "./dependency-repositories.js";
import type { Repomd, RepomdData } from "./repomd.js";
import { writeRepomd, type RepomdEntry } from "./repomd-write.js";
import { rewriteModules } from "./rewrite-modules.js";
import { rewriteInWorker } from "./rewrite-thread.js";
import { nevraKey, type KeptFiles } from "./rewrite-updateinfo.js";
import { repomdSignature } from "./repomd-signature.js";
import {
  committedOf,
  downloadMissing,
  fillFromSiblings,
  MAX_PRIMARY_BYTES,
  planDownloads,
  readPrimary,
  refuseTreeConflicts,
  type RpmPackage,
} from "./sync-steps.js";

export class UnsatisfiedDependenciesError extends ChantalError {}

/** Bumped when the regenerated metadata changes for the same input: the next run then re-plans. */
const GENERATOR_VERSION = "rpm-filter-1";

/** Data types copied verbatim: they do not list packages (comps, product certificates, AppStream data). */
const VERBATIM_TYPES = new Set(["group", "group_gz", "group_xz", "productid", "appstream", "appstream-icons", "appdata"]);

/** JSON with sorted keys at every depth: the same filter always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What the repository's recorded index checksum is: upstream's repomd.xml alone for a verbatim mirror; with a
 * filter or a re-signing key, also the filter and the key, so that changing either re-plans on the next run.
 */
export function rpmIndexChecksum(repomdBytes: Buffer, ctx: Pick<RepoSyncContext, "filter" | "signer">): string {
  const h = createHash("sha256").update(repomdBytes);
  if (!ctx.filter && !ctx.signer?.resign) return h.digest("hex");
  h.update(`\u0000${GENERATOR_VERSION}\u0000${ctx.filter ? canonicalJson(ctx.filter) : "verbatim"}\u0000${ctx.signer?.fingerprint ?? "unsigned"}`);
  return h.digest("hex");
}

export interface UpstreamIndex {
  repomdBytes: Buffer;
  repomd: Repomd;
  /** The pooled data file of each repomd.data entry, in the same order. */
  dataFiles: MetadataEntry[];
  indexChecksum: string;
}

/** modules.yaml is read whole (YAML documents): RHEL's is a few MB. */
const MAX_MODULES_BYTES = 256 * 1024 * 1024;

function decompressed(ctx: RepoSyncContext, file: MetadataEntry, d: RepomdData, maxOutputBytes = MAX_PRIMARY_BYTES): AsyncGenerator<Buffer> {
  return decompressIterable(ctx.blobs.openRead(file.sha256, ctx.signal), compressionFromPath(file.path), {
    maxOutputBytes,
    label: file.path,
    ...(d.openSize !== undefined ? { declared: { bytes: d.openSize, by: "its <open-size> in repomd.xml" } } : {}),
  });
}

/** Every package of primary, with its dependency data when the filter needs it (file requirements from filelists too). */
async function readUpstreamPackages(
  ctx: RepoSyncContext,
  upstream: UpstreamIndex,
): Promise<{ planned: RpmPackage[]; deps?: Map<RpmPackage, RpmDependencies>; wantedFiles?: Set<string> }> {
  const at = (type: string) => upstream.repomd.data.findIndex((d) => d.type === type);
  const primary = at("primary");
  const primaryData = upstream.repomd.data[primary]!;
  if (!ctx.filter?.with_dependencies) return { planned: await readPrimary(upstream.dataFiles[primary]!, primaryData.openSize, ctx) };
  const deps = new Map<RpmPackage, RpmDependencies>();
  const planned = await readPrimary(upstream.dataFiles[primary]!, primaryData.openSize, ctx, (p, d) => deps.set(p, d));
  const wanted = unresolvedFileRequirements([...deps.values()]);
  const filelists = at("filelists");
  if (wanted.size > 0 && filelists !== -1) {
    const byPkgid = await filesProviding(
      decompressed(ctx, upstream.dataFiles[filelists]!, upstream.repomd.data[filelists]!),
      wanted,
      upstream.dataFiles[filelists]!.path,
    );
    for (const p of planned) {
      const extra = byPkgid.get(p.checksumValue);
      const d = deps.get(p);
      if (extra && d) d.files.push(...extra.filter((f) => !d.files.includes(f)));
    }
  }
  return { planned, deps, wantedFiles: wanted };
}

function planReport(planned: RpmPackage[], plan: FilterPlan, missing: RpmPackage[]): SyncPlanReport {
  const item = (p: RpmPackage) => ({ label: p.nevra, size: p.size });
  return syncPlanReport({
    upstream: planned.map(item),
    kept: plan.kept.map((k) => k !== undefined),
    addedByDependencies: plan.addedByDependencies,
    toDownload: missing.map(item),
  });
}

/** `repodata/<sha256>-<stem><compression>`: a new content, a new name, as createrepo_c writes them. */
async function putGenerated(
  ctx: RepoSyncContext,
  d: RepomdData,
  file: MetadataEntry,
  stem: string,
  text: AsyncIterable<string>,
): Promise<{ entry: MetadataEntry; repomd: RepomdEntry }> {
  const choice = outputCompressionFor(compressionFromPath(file.path));
  if (choice.fallback) ctx.log.warn({ repo: ctx.repo.id, type: d.type }, `regenerated ${d.type}: ${choice.fallback}`);
  const put = await putStream(ctx.blobs, text, compressStream(choice.kind), ctx.signal);
  const location = `repodata/${put.sha256}-${stem}${EXTENSION_OF[choice.kind]}`;
  return {
    entry: { path: location, sha256: put.sha256, size: put.size },
    repomd: {
      type: d.type,
      location,
      sha256: put.sha256,
      size: put.size,
      openChecksum: { algo: "sha256", value: put.openSha256 },
      openSize: put.openSize,
      timestamp: d.timestamp ?? 0,
    },
  };
}

function compressedOf(ctx: RepoSyncContext, file: MetadataEntry): AsyncIterable<Uint8Array> {
  return ctx.blobs.openRead(file.sha256, ctx.signal);
}

function workerInput(file: MetadataEntry, d: RepomdData) {
  return {
    compression: compressionFromPath(file.path),
    label: file.path,
    maxOutputBytes: MAX_PRIMARY_BYTES,
    ...(d.openSize !== undefined ? { openSize: d.openSize } : {}),
  };
}

async function* once(s: string): AsyncGenerator<string> {
  yield s;
}

async function readText(ctx: RepoSyncContext, file: MetadataEntry, d: RepomdData): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of decompressed(ctx, file, d, MAX_MODULES_BYTES)) parts.push(b);
  return Buffer.concat(parts).toString("utf8");
}

/** The regenerated data files and repomd.xml (and its signature), as the published tree's metadata. */
async function regenerate(ctx: RepoSyncContext, upstream: UpstreamIndex, kept: RpmPackage[]): Promise<MetadataEntry[]> {
  const pkgids = [...new Set(kept.map((p) => p.checksumValue))];
  // Only updateinfo and modules need them: 100,000 NEVRAs and file names are ~15 MB we do not build for nothing.
  let files: KeptFiles | undefined;
  const keptFiles = (): KeptFiles =>
    (files ??= {
      nevras: new Set(kept.map((p) => nevraKey(p))),
      filenames: new Set(kept.map((p) => p.location.split("/").pop()!)),
    });
  const metadata: MetadataEntry[] = [];
  const index: RepomdEntry[] = [];
  for (const [i, d] of upstream.repomd.data.entries()) {
    const file = upstream.dataFiles[i]!;
    const label = file.path;
    let out: { entry: MetadataEntry; repomd: RepomdEntry } | undefined;
    if (d.type === "primary" || d.type === "filelists" || d.type === "other") {
      out = await putGenerated(
        ctx,
        d,
        file,
        `${d.type}.xml`,
        rewriteInWorker(compressedOf(ctx, file), { ...workerInput(file, d), kind: d.type, kept: pkgids }, ctx.signal),
      );
    } else if (d.type === "updateinfo") {
      const input = { ...workerInput(file, d), kind: "updateinfo" as const, kept: [...keptFiles().nevras], filenames: [...keptFiles().filenames] };
      out = await putGenerated(ctx, d, file, "updateinfo.xml", rewriteInWorker(compressedOf(ctx, file), input, ctx.signal));
    } else if (d.type === "modules") {
      const result = rewriteModules(await readText(ctx, file, d), keptFiles().nevras, label);
      if (result.partial.length > 0) {
        ctx.log.warn(
          { repo: ctx.repo.id, streams: result.partial },
          "module streams kept with some of their packages filtered out: installing their profiles may fail",
        );
      }
      if (result.text !== "") out = await putGenerated(ctx, d, file, "modules.yaml", once(result.text));
    } else if (VERBATIM_TYPES.has(d.type)) {
      out = {
        entry: file,
        repomd: {
          type: d.type,
          location: file.path,
          sha256: file.sha256,
          size: file.size,
          ...(d.openChecksum ? { openChecksum: d.openChecksum } : {}),
          ...(d.openSize !== undefined ? { openSize: d.openSize } : {}),
          timestamp: d.timestamp ?? 0,
        },
      };
    } else {
      // prestodelta, sqlite databases, zchunk variants...: they describe upstream's whole package set; dnf does without them.
      ctx.log.info({ repo: ctx.repo.id, type: d.type }, "metadata type not published by a curated mirror");
    }
    if (out) {
      metadata.push(out.entry);
      index.push(out.repomd);
    }
  }
  const repomdBytes = writeRepomd(upstream.repomd.revision, index);
  metadata.push({ path: "repodata/repomd.xml", ...(await putBuffer(ctx.blobs, repomdBytes)) });
  const signature = await repomdSignature(ctx, repomdBytes, "regenerated");
  if (signature) metadata.push(signature);
  return metadata;
}

/**
 * The filter's decision: the kept packages and those of them the pool lacks, or the dry run's report. Everything
 * else (upstream's other packages, the filter's model of every package, the dependency data) is garbage once this
 * returns: a separate function, so that no variable of the sync's own frame holds it through the downloads.
 */
async function planFiltered(ctx: RepoSyncContext, upstream: UpstreamIndex): Promise<{ kept: RpmPackage[]; missing: RpmPackage[] } | RepoSyncResult> {
  const filter = ctx.filter!;
  const { planned, deps, wantedFiles } = await readUpstreamPackages(ctx, upstream);
  const packages = planned.map((p) => filterPackageOf(p, deps?.get(p)));
  const satisfiers =
    filter.with_dependencies && filter.dependency_repositories.length > 0 ? await dependencyRepositoryPackages(ctx, wantedFiles ?? new Set()) : undefined;
  const plan = planFilter(packages, filter, {
    compareVersions: compareEvr,
    repoId: ctx.repo.id,
    dependencyRules: RPM_RULES,
    ...(satisfiers ? { satisfiers } : {}),
  });
  if (plan.unsatisfied.length > 0) throw new UnsatisfiedDependenciesError(unsatisfiedMessage(plan, packages, ctx.repo.id));
  const kept = planned.filter((_p, i) => plan.kept[i]);
  ctx.counts.packagesTotal = kept.length;
  ctx.onProgress?.({ phase: "plan", filesDone: 0, filesTotal: kept.length, bytesDone: 0, bytesTotal: 0 });
  const missing = await planDownloads(kept, ctx);
  ctx.log.debug({ repo: ctx.repo.id, upstream: planned.length, kept: kept.length, missing: missing.length }, "filtered plan");
  if (ctx.dryRun) return { status: "dry-run", counts: ctx.counts, plan: planReport(planned, plan, missing) };
  return { kept, missing };
}

export async function syncFilteredRpm(ctx: RepoSyncContext, upstream: UpstreamIndex): Promise<RepoSyncResult> {
  const counts = ctx.counts;
  const decision = await planFiltered(ctx, upstream);
  if ("status" in decision) return decision;
  const { kept, missing } = decision;

  const metadata = await regenerate(ctx, upstream, kept);
  refuseTreeConflicts(kept, metadata, ctx);
  await downloadMissing(missing, ctx, counts);
  fillFromSiblings(kept);
  ctx.onProgress?.({ phase: "commit", filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 });
  await commitSync(ctx, kept, committedOf, metadata, upstream.indexChecksum, counts);
  return { status: "success", counts };
}
