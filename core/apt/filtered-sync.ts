// A curated APT mirror (filter: set): the verified upstream indices are read, the filter decides, only the kept packages
// are downloaded, and the suite's metadata is regenerated for them (Packages/Sources, Release, by-hash, our signatures).
import { presentBlobs } from "../mirror/pool-presence.js";
import type { AptSourceConfig } from "../config/schema.js";
import type { ActiveFilter } from "../filter/effective.js";
import { DPKG_RULES } from "../filter/closure.js";
import { FilterError, planFilter, unsatisfiedMessage } from "../filter/plan.js";
import type { FilterPackage, FilterPlan } from "../filter/types.js";
import { commitSync, type MetadataEntry } from "../mirror/commit.js";
import { syncPlanReport } from "../mirror/plan-report.js";
import type { RepoSyncContext, RepoSyncResult, SyncPlanReport } from "../mirror/types.js";
import { putBuffer } from "../storage/put-buffer.js";
import { parseProvides, requirementsOf } from "./depends.js";
import { dependencyRepositoryPackages } from "./dependency-repositories.js";
import { compressionOf, type IndexTarget } from "./indices.js";
import { type DebPackage, MAX_INDEX_BYTES, readPackagesStanzas, readSourcesStanzas, type StanzaReadOptions } from "./packages.js";
import { indexText, indexVariants } from "./packages-write.js";
import type { Release } from "./release.js";
import { curatedReleaseText, signedSuiteFiles, type WrittenIndex, writtenByHashPaths } from "./release-write.js";
import { forEachLimited } from "../concurrency.js";
import { upstreamFileUrl } from "../http/url.js";
import {
  AptSyncError,
  downloadMissing,
  fetchIndexFile,
  INDEX_CONCURRENCY,
  insideRepository,
  type PlannedFile,
  PlannedSet,
  packageRecord,
  planItem,
  refuseTreeConflicts,
} from "./sync-parts.js";
import { compareDebianParts } from "./version.js";

export interface FilteredSuite {
  dist: string;
  source: AptSourceConfig;
  filter: ActiveFilter;
  release: Release;
  /** The Packages and Sources indices to read (planIndexTargets); other targets are not published. */
  targets: IndexTarget[];
  indexChecksum: string;
}

/** One distinct binary package of the upstream indices (the same .deb in binary-amd64 and binary-all counts once). */
interface Binary {
  pkg: DebPackage;
  /** Its source package, "name\0version" (the Source field, else its own name and version). */
  sourceKey: string;
}

/** What the first reading of the indices found: the distinct binaries and, per index, which one each paragraph is. */
interface UpstreamPackages {
  binaries: Binary[];
  filterPackages: FilterPackage[];
  /** Per Packages target (by base path): the binary of each paragraph, in order. */
  paragraphs: Map<string, number[]>;
}

const RELATION_FIELDS = ["depends", "pre-depends", "provides"];

function readOptions(t: IndexTarget, dist: string, ctx: RepoSyncContext): StanzaReadOptions {
  const file = t.parse!;
  const plain = file.path === t.base ? undefined : t.variants.find((v) => v.path === t.base);
  return {
    compression: compressionOf(file.path),
    maxOutputBytes: MAX_INDEX_BYTES,
    label: `${dist}/${file.path}`,
    signal: ctx.signal,
    ...(plain ? { declared: { bytes: plain.size, by: `the size the Release lists for ${dist}/${plain.path}` } } : {}),
  };
}

/** `Source: name` or `Source: name (version)`; a package without one is its own source. */
function sourceKeyOf(pkg: DebPackage, field: string | undefined): string {
  const m = field ? /^(\S+)(?:\s+\(\s*(\S+)\s*\))?$/.exec(field.trim()) : null;
  if (!m) return `${pkg.name}\0${pkg.fullVersion}`;
  return `${m[1]}\0${m[2] ?? pkg.fullVersion}`;
}

/** Streams one index again (from the pool, where it was verified) with each paragraph's text. */
async function* paragraphsOf<T>(
  t: IndexTarget,
  dist: string,
  ctx: RepoSyncContext,
  read: (s: AsyncIterable<Uint8Array>, o: StanzaReadOptions) => AsyncGenerator<T>,
  extra: Partial<StanzaReadOptions>,
): AsyncGenerator<T> {
  const stream = ctx.blobs.openRead(t.parse!.sha256, ctx.signal);
  try {
    yield* read(stream, { ...readOptions(t, dist, ctx), ...extra });
  } finally {
    stream.destroy();
  }
}

async function readBinaries(targets: IndexTarget[], dist: string, withDependencies: boolean, ctx: RepoSyncContext): Promise<UpstreamPackages> {
  const ids = new Map<string, number>();
  const out: UpstreamPackages = { binaries: [], filterPackages: [], paragraphs: new Map() };
  for (const t of targets) {
    if (t.kind !== "packages") continue;
    const order: number[] = [];
    const extraFields = withDependencies ? [...RELATION_FIELDS, "source"] : ["source"];
    for await (const { pkg, stanza } of paragraphsOf(t, dist, ctx, readPackagesStanzas, { extraFields })) {
      const key = `${pkg.name}\0${pkg.fullVersion}\0${pkg.arch}\0${pkg.sha256}`;
      let id = ids.get(key);
      if (id === undefined) {
        id = out.binaries.length;
        ids.set(key, id);
        out.binaries.push({ pkg, sourceKey: sourceKeyOf(pkg, stanza.fields.get("source")) });
        const fp: FilterPackage = { name: pkg.name, arch: pkg.arch, version: { epoch: pkg.epoch, version: pkg.version, release: pkg.release }, source: false };
        if (withDependencies) {
          const label = `${dist}/${t.parse!.path}: package ${pkg.name} ${pkg.fullVersion} (${pkg.arch})`;
          const provides = stanza.fields.get("provides");
          fp.provides = provides ? parseProvides(provides, label) : [];
          const depends = stanza.fields.get("depends");
          const preDepends = stanza.fields.get("pre-depends");
          fp.requires = requirementsOf({ ...(depends ? { depends } : {}), ...(preDepends ? { preDepends } : {}) }, label);
        }
        out.filterPackages.push(fp);
      }
      order.push(id);
    }
    out.paragraphs.set(t.base, order);
  }
  return out;
}

/** A Debian package in an error message: name version (arch), as apt prints it. */
function debLabel(p: FilterPackage): string {
  const v = p.version;
  return `${p.name} ${v.epoch ? `${v.epoch}:` : ""}${v.version}${v.release ? `-${v.release}` : ""} (${p.arch})`;
}

/**
 * The dry run's report: the upstream binary packages and which are kept (source packages follow their binaries and are not
 * counted there), and every file the pool lacks, source files included.
 */
function planReport(up: UpstreamPackages, plan: FilterPlan, missing: PlannedFile[]): SyncPlanReport {
  return syncPlanReport({
    upstream: up.binaries.map((b) => ({ label: `${b.pkg.name}_${b.pkg.fullVersion}_${b.pkg.arch}`, size: b.pkg.size })),
    kept: plan.kept.map((k) => k !== undefined),
    addedByDependencies: plan.addedByDependencies,
    toDownload: missing.map(planItem),
  });
}

/**
 * The source packages of kept binaries (filter.sources, default true; false: the Sources indices are published empty so
 * deb-src lines still update): the ordinals of kept paragraphs per Sources target.
 */
async function keptSources(
  targets: IndexTarget[],
  dist: string,
  wanted: Set<string>,
  set: PlannedSet,
  ctx: RepoSyncContext,
): Promise<{ kept: Map<string, Set<number>>; count: number }> {
  const kept = new Map<string, Set<number>>();
  let count = 0;
  for (const t of targets) {
    if (t.kind !== "sources") continue;
    const ordinals = new Set<number>();
    kept.set(t.base, ordinals);
    if (wanted.size === 0) continue;
    let k = 0;
    for await (const { pkg } of paragraphsOf(t, dist, ctx, readSourcesStanzas, {})) {
      if (wanted.has(`${pkg.name}\0${pkg.fullVersion}`)) {
        ordinals.add(k);
        count++;
        set.addSource(pkg, `${dist}/${t.parse!.path}`);
      }
      k++;
    }
  }
  return { kept, count };
}

/** The regenerated indices: each Packages/Sources target rewritten to its kept paragraphs, in upstream order. */
async function writeIndices(
  s: FilteredSuite,
  up: UpstreamPackages,
  plan: FilterPlan,
  sources: Map<string, Set<number>>,
  ctx: RepoSyncContext,
): Promise<WrittenIndex[]> {
  const out: WrittenIndex[] = [];
  let xzMissing = false;
  for (const t of s.targets) {
    const kept: string[] = [];
    if (t.kind === "packages") {
      const order = up.paragraphs.get(t.base)!;
      let k = 0;
      for await (const { pkg, stanza } of paragraphsOf(t, s.dist, ctx, readPackagesStanzas, { keepText: true })) {
        const id = order[k++];
        // The pooled index is the one read before: a difference is a bug or a changed blob, never a guess.
        if (id === undefined || up.binaries[id]!.pkg.name !== pkg.name)
          throw new AptSyncError(`${s.dist}/${t.parse!.path} of repository ${ctx.repo.id} changed between two readings of the pooled copy`);
        if (plan.kept[id]) kept.push(stanza.text!);
      }
    } else if (t.kind === "sources") {
      const ordinals = sources.get(t.base)!;
      if (ordinals.size > 0) {
        let k = 0;
        for await (const { stanza } of paragraphsOf(t, s.dist, ctx, readSourcesStanzas, { keepText: true })) if (ordinals.has(k++)) kept.push(stanza.text!);
      }
    } else continue;
    const variants = await indexVariants(t.base, indexText(kept), { signal: ctx.signal });
    if (!variants.xz) xzMissing = true;
    out.push(...variants.files);
  }
  if (xzMissing) ctx.log.warn({ repo: ctx.repo.id }, "no xz on this host: the regenerated indices are published plain and .gz only (install xz-utils for .xz)");
  return out;
}

/** Release, and InRelease + Release.gpg by the mirror's key; unsigned (with a warning) when no signing: is configured. */
async function suiteFiles(releaseText: string, ctx: RepoSyncContext): Promise<{ name: string; data: Buffer }[]> {
  if (ctx.signer) return signedSuiteFiles(releaseText, ctx.signer);
  // The one place where signing could become mandatory for a curated suite: throw here instead of warning.
  ctx.log.warn(
    { repo: ctx.repo.id },
    "a filtered repository regenerates its Release and no signing: key is configured: it is published unsigned (apt needs [trusted=yes]); configure signing.key_file",
  );
  return [{ name: "Release", data: Buffer.from(releaseText, "utf8") }];
}

/** Pools the one variant of each Packages/Sources index that is read (the others are not published), verified against the Release. */
async function fetchParsedIndices(s: FilteredSuite, ctx: RepoSyncContext): Promise<void> {
  const files = s.targets.map((t) => t.parse!);
  let done = 0;
  ctx.onProgress?.({ phase: "metadata", filesDone: 0, filesTotal: files.length, bytesDone: 0, bytesTotal: 0 });
  await forEachLimited(files, INDEX_CONCURRENCY, async (file) => {
    if (!(await fetchIndexFile(file, s.dist, s.release, ctx))) {
      throw new AptSyncError(
        `${s.dist}/${file.path} of repository ${ctx.repo.id} is listed in the Release but missing at ${upstreamFileUrl(ctx.repo.upstream_url, `${s.dist}/${file.path}`)}`,
      );
    }
    ctx.onProgress?.({ phase: "metadata", filesDone: ++done, filesTotal: files.length, bytesDone: 0, bytesTotal: 0 });
  });
}

export async function syncFilteredApt(suite: FilteredSuite, ctx: RepoSyncContext): Promise<RepoSyncResult> {
  const counts = ctx.counts;
  // Translations and per-directory Release files describe upstream's whole set: only Packages and Sources are rewritten and published.
  const s: FilteredSuite = { ...suite, targets: suite.targets.filter((t) => t.kind !== "extra" && t.parse) };
  const { dist, filter } = s;
  await fetchParsedIndices(s, ctx);
  if (filter.architectures)
    ctx.log.warn({ repo: ctx.repo.id }, "filter.architectures applies to rpm repositories only: apt.architectures selects the indices of an apt one");
  // apt.architectures already chose the indices; arch "all" packages come along with them.
  const { architectures: _rpmOnly, ...aptFilter } = filter;
  const up = await readBinaries(s.targets, dist, filter.with_dependencies, ctx);
  const satisfiers = filter.with_dependencies && filter.dependency_repositories.length > 0 ? await dependencyRepositoryPackages(ctx) : undefined;
  const plan = planFilter(up.filterPackages, aptFilter, {
    compareVersions: compareDebianParts,
    repoId: ctx.repo.id,
    dependencyRules: DPKG_RULES,
    ...(satisfiers ? { satisfiers } : {}),
  });
  if (plan.unsatisfied.length > 0) throw new FilterError(unsatisfiedMessage(plan, up.filterPackages, ctx.repo.id, debLabel));

  const set = new PlannedSet(ctx);
  const wantedSources = new Set<string>();
  up.binaries.forEach((b, i) => {
    if (!plan.kept[i]) return;
    set.addDeb(b.pkg, `${dist} Packages`);
    if (filter.sources) wantedSources.add(b.sourceKey);
  });
  const sources = await keptSources(s.targets, dist, wantedSources, set, ctx);
  const planned = [...set.byLocation.values()];
  counts.packagesTotal = planned.length;
  ctx.onProgress?.({ phase: "plan", filesDone: 0, filesTotal: planned.length, bytesDone: 0, bytesTotal: 0 });
  const present = await presentBlobs(
    ctx,
    planned.map((p) => p.sha256),
  );
  const seen = new Set<string>();
  const missing = planned.filter((p) => !present.has(p.sha256) && !seen.has(p.sha256) && seen.add(p.sha256));
  ctx.log.debug({ repo: ctx.repo.id, upstream: up.binaries.length, kept: plan.keptCount, sources: sources.count, missing: missing.length }, "filter plan");
  if (ctx.dryRun) return { status: "dry-run", counts, plan: planReport(up, plan, missing) };

  const indices = await writeIndices(s, up, plan, sources.kept, ctx);
  const releaseText = curatedReleaseText(s.release, { components: s.source.components, architectures: s.source.architectures }, indices);
  const metadata: MetadataEntry[] = [];
  for (const f of await suiteFiles(releaseText, ctx)) metadata.push({ path: `${dist}/${f.name}`, ...(await putBuffer(ctx.blobs, f.data)) });
  for (const f of indices) {
    const stored = await putBuffer(ctx.blobs, f.data);
    for (const p of [f.path, ...writtenByHashPaths(f)]) metadata.push({ path: insideRepository(`${dist}/${p}`), ...stored });
  }
  refuseTreeConflicts(planned, metadata, ctx);

  await downloadMissing(missing, ctx, counts);
  ctx.onProgress?.({ phase: "commit", filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 });
  await commitSync(ctx, planned, packageRecord, metadata, s.indexChecksum, counts);
  return { status: "success", counts };
}
