// APT mirror sync: InRelease (or Release + Release.gpg) -> verified, parsed Release -> index files checked
// against it -> stream-parsed Packages/Sources -> missing .deb files downloaded -> one transaction. With a filter,
// filtered-sync.ts takes over once the Release is verified; signing.resign replaces only the suite's signatures.
import { presentBlobs, readPreviousSetAhead } from "../mirror/pool-presence.js";
import { createHash } from "node:crypto";
import { fetchBuffer, HttpStatusError } from "../http/client.js";
import { upstreamFileUrl } from "../http/url.js";
import { commitSync, type MetadataEntry } from "../mirror/commit.js";
import { putBuffer } from "../storage/put-buffer.js";
import { readBlob } from "../storage/blob-store.js";
import type { RepoSyncContext, RepoSyncResult } from "../mirror/types.js";
import { safeLocation } from "../mirror/location.js";
import type { AptSourceConfig } from "../config/schema.js";
import { checkNotInFuture, checkNotOlder, checkValidUntil, MAX_RELEASE_BYTES, parseRelease, type Release, type ReleaseFile } from "./release.js";
import { loadKeyring, splitClearsigned, verifyClearsigned, verifyDetached, SignatureError, type Keyring } from "../openpgp/signature.js";
import { byHashPaths, compressionOf, planIndexTargets, type IndexTarget } from "./indices.js";
import { MAX_INDEX_BYTES, parsePackagesIndex, parseSourcesIndex } from "./packages.js";
import { forEachLimited } from "../concurrency.js";
import { sha256Hex } from "../checksum.js";
import {
  AptSyncError,
  curatedIndexChecksum,
  downloadMissing,
  fetchIndexFile,
  INDEX_CONCURRENCY,
  insideRepository,
  packageRecord,
  PlannedSet,
  refuseTreeConflicts,
  verbatimPlanReport,
} from "./sync-parts.js";
import { syncFilteredApt } from "./filtered-sync.js";
import { resignedSuiteFiles } from "./release-write.js";

export { AptSyncError } from "./sync-parts.js";

/** The suite's signed index as fetched: InRelease, or Release with its detached signature. */
interface SuiteIndex {
  inRelease: Buffer | null;
  release: Buffer | null;
  releaseGpg: Buffer | null;
}

function distPath(source: AptSourceConfig, ctx: RepoSyncContext): string {
  if (source.distribution.endsWith("/")) {
    throw new AptSyncError(
      `repository ${ctx.repo.id}: apt.distribution "${source.distribution}" names a flat repository, which this version does not mirror (use a suite under dists/)`,
    );
  }
  return safeLocation(`dists/${source.distribution}`, undefined);
}

/** Files that may be absent upstream: 404/403 is "absent", any other failure is not. */
async function fetchOptional(path: string, ctx: RepoSyncContext): Promise<Buffer | null> {
  const url = upstreamFileUrl(ctx.repo.upstream_url, path);
  try {
    return (await fetchBuffer(url, { ...ctx.http, signal: ctx.signal }, { maxBytes: MAX_RELEASE_BYTES }, { subject: path })).body;
  } catch (err) {
    if (err instanceof HttpStatusError && (err.status === 404 || err.status === 403)) return null;
    throw err;
  }
}

async function fetchSuiteIndex(dist: string, ctx: RepoSyncContext): Promise<SuiteIndex> {
  const [inRelease, release, releaseGpg] = await Promise.all([
    fetchOptional(`${dist}/InRelease`, ctx),
    fetchOptional(`${dist}/Release`, ctx),
    fetchOptional(`${dist}/Release.gpg`, ctx),
  ]);
  if (!inRelease && !release) {
    throw new AptSyncError(
      `repository ${ctx.repo.id}: neither ${dist}/InRelease nor ${dist}/Release exists at ${ctx.repo.upstream_url} (check upstream_url and apt.distribution)`,
    );
  }
  return { inRelease, release, releaseGpg };
}

/** Release text for comparison: line ends and trailing whitespace do not count (clearsigning drops them). */
function canonicalText(text: string): string {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .trimEnd();
}

interface VerifiedSuite {
  /** The text to parse: InRelease's signed payload, or Release. */
  text: string;
  label: string;
  /** The suite files to publish, verbatim. */
  files: { name: string; data: Buffer }[];
}

/**
 * Chooses and checks what the suite's Release says. With a keyring, the signature must verify and the
 * verified text is what gets parsed; Release + Release.gpg beside an InRelease are kept only when they say
 * the same and (with a keyring) verify, so the published tree holds no file a client would reject.
 */
async function verifiedSuite(index: SuiteIndex, dist: string, keyring: Keyring | undefined, ctx: RepoSyncContext): Promise<VerifiedSuite> {
  const repoLabel = (name: string) => `${dist}/${name} of repository ${ctx.repo.id}`;
  const files: { name: string; data: Buffer }[] = [];
  if (index.inRelease) {
    const label = repoLabel("InRelease");
    const text = keyring ? await verifyClearsigned(index.inRelease, keyring, label) : splitClearsigned(index.inRelease.toString("utf8"), label).payload;
    files.push({ name: "InRelease", data: index.inRelease });
    if (index.release && (await detachedPairUsable(index, text, keyring, repoLabel("Release"), ctx))) {
      files.push({ name: "Release", data: index.release });
      if (index.releaseGpg) files.push({ name: "Release.gpg", data: index.releaseGpg });
    }
    return { text, label, files };
  }
  const label = repoLabel("Release");
  const release = index.release!;
  if (keyring) {
    if (!index.releaseGpg)
      throw new SignatureError(`${label}: upstream has neither InRelease nor Release.gpg, so the keyring ${keyring.path} cannot verify it`);
    await verifyDetached(release, index.releaseGpg, keyring, label);
  }
  files.push({ name: "Release", data: release });
  if (index.releaseGpg) files.push({ name: "Release.gpg", data: index.releaseGpg });
  return { text: release.toString("utf8"), label, files };
}

async function detachedPairUsable(
  index: SuiteIndex,
  inReleaseText: string,
  keyring: Keyring | undefined,
  label: string,
  ctx: RepoSyncContext,
): Promise<boolean> {
  if (canonicalText(index.release!.toString("utf8")) !== canonicalText(inReleaseText)) {
    ctx.log.warn({ repo: ctx.repo.id }, `${label} differs from InRelease (upstream mid-update?): publishing InRelease only`);
    return false;
  }
  if (!keyring) return true;
  if (!index.releaseGpg) return true;
  try {
    await verifyDetached(index.release!, index.releaseGpg, keyring, label);
    return true;
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    ctx.log.warn({ repo: ctx.repo.id, error: err.message }, "Release.gpg does not verify: publishing InRelease only");
    return false;
  }
}

/**
 * The Date of the Release synced last for this distribution, from the InRelease (else Release) kept verbatim in the
 * pool; undefined when there is none (a first sync, another distribution) or it cannot be read any more.
 */
async function previousReleaseDate(dist: string, ctx: RepoSyncContext): Promise<Date | undefined> {
  const r = await ctx.db.query<{ path: string; sha256: string }>(
    `SELECT rm.path, m.sha256 FROM chantal.repository_metadata rm JOIN chantal.metadata_files m ON m.id = rm.metadata_file_id
     WHERE rm.repository_id = $1 AND rm.path = ANY($2::text[])`,
    [ctx.row.id, [`${dist}/InRelease`, `${dist}/Release`]],
  );
  const stored = r.rows.find((row) => row.path.endsWith("/InRelease")) ?? r.rows[0];
  if (!stored) return undefined;
  try {
    const label = `the ${stored.path} synced last`;
    const text = (await readBlob(ctx.blobs, stored.sha256, { maxBytes: MAX_RELEASE_BYTES, label, signal: ctx.signal })).toString("utf8");
    return parseRelease(stored.path.endsWith("/InRelease") ? splitClearsigned(text, label).payload : text, label).date;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.log.warn({ repo: ctx.repo.id, path: stored.path, error: (err as Error).message }, "cannot read the Release synced last: its Date is not compared");
    return undefined;
  }
}

/** What the no-op check compares: the suite files and the part of the configuration that selects indices. */
function indexChecksumOf(suite: VerifiedSuite, source: AptSourceConfig): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ d: source.distribution, c: source.components, a: source.architectures, s: source.include_sources }));
  for (const f of suite.files) h.update(`\0${f.name}\0${sha256Hex(f.data)}`);
  return h.digest("hex");
}

// ------------------------------------------------------------------------------------------------ index files

async function sha512OfPooled(sha256: string, ctx: RepoSyncContext): Promise<string> {
  const h = createHash("sha512");
  for await (const chunk of ctx.blobs.openRead(sha256, ctx.signal)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** The published paths of one pooled index file: its canonical path and the by-hash paths apt may ask for. */
async function indexEntries(file: ReleaseFile, dist: string, release: Release, ctx: RepoSyncContext): Promise<MetadataEntry[]> {
  const out: MetadataEntry[] = [{ path: insideRepository(`${dist}/${file.path}`), sha256: file.sha256, size: file.size }];
  if (!release.acquireByHash) return out;
  for (const p of byHashPaths(file)) out.push({ path: insideRepository(`${dist}/${p}`), sha256: file.sha256, size: file.size });
  if (file.sha512 && (await sha512OfPooled(file.sha256, ctx)) !== file.sha512) {
    throw new AptSyncError(`${dist}/${file.path} of repository ${ctx.repo.id}: its SHA256 matches the Release but its SHA512 does not (inconsistent upstream)`);
  }
  return out;
}

/** Pools every listed variant of every target; the variant to parse must exist, the others may be absent upstream. */
async function fetchIndexFiles(targets: IndexTarget[], dist: string, release: Release, ctx: RepoSyncContext): Promise<MetadataEntry[]> {
  const jobs = targets.flatMap((t) => t.variants.map((file) => ({ file, required: t.parse === file })));
  const entries: MetadataEntry[][] = [];
  let done = 0;
  ctx.onProgress?.({ phase: "metadata", filesDone: 0, filesTotal: jobs.length, bytesDone: 0, bytesTotal: 0 });
  await forEachLimited(jobs, INDEX_CONCURRENCY, async ({ file, required }) => {
    const present = await fetchIndexFile(file, dist, release, ctx);
    if (!present && required) {
      throw new AptSyncError(
        `${dist}/${file.path} of repository ${ctx.repo.id} is listed in the Release but missing at ${upstreamFileUrl(ctx.repo.upstream_url, `${dist}/${file.path}`)}`,
      );
    }
    if (present) entries.push(await indexEntries(file, dist, release, ctx));
    ctx.onProgress?.({ phase: "metadata", filesDone: ++done, filesTotal: jobs.length, bytesDone: 0, bytesTotal: 0 });
  });
  return entries.flat();
}

// ------------------------------------------------------------------------------------------------ packages

function indexLabel(dist: string, file: ReleaseFile): string {
  return `${dist}/${file.path}`;
}

async function readIndices(targets: IndexTarget[], dist: string, ctx: RepoSyncContext): Promise<PlannedSet> {
  const set = new PlannedSet(ctx);
  for (const t of targets) {
    if (!t.parse) continue;
    const label = indexLabel(dist, t.parse);
    // The Release lists the uncompressed index too (Debian does, even when it does not serve it): its size bounds the output.
    const plain = t.parse.path === t.base ? undefined : t.variants.find((v) => v.path === t.base);
    const opts = {
      compression: compressionOf(t.parse.path),
      maxOutputBytes: MAX_INDEX_BYTES,
      label,
      signal: ctx.signal,
      ...(plain ? { declared: { bytes: plain.size, by: `the size the Release lists for ${dist}/${plain.path}` } } : {}),
    };
    const source = ctx.blobs.openRead(t.parse.sha256, ctx.signal);
    try {
      if (t.kind === "packages") {
        for await (const p of parsePackagesIndex(source, opts)) set.addDeb(p, label);
      } else {
        for await (const s of parseSourcesIndex(source, opts)) set.addSource(s, label);
      }
    } finally {
      source.destroy();
    }
  }
  return set;
}

function warnOnSuiteMismatch(release: Release, source: AptSourceConfig, label: string, ctx: RepoSyncContext): void {
  const wanted = source.distribution;
  if (release.suite !== undefined && release.codename !== undefined && release.suite !== wanted && release.codename !== wanted) {
    ctx.log.warn(
      { repo: ctx.repo.id, suite: release.suite, codename: release.codename },
      `${label} is for suite ${release.suite} (${release.codename}), not ${wanted}`,
    );
  }
}

export async function syncApt(ctx: RepoSyncContext): Promise<RepoSyncResult> {
  const source = ctx.repo.apt;
  if (!source) throw new AptSyncError(`repository ${ctx.repo.id}: an apt repository needs an apt: block`);
  const counts = ctx.counts;
  const dist = distPath(source, ctx);
  ctx.onProgress?.({ phase: "index", filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 });
  const keyring = ctx.repo.verify?.keyring ? await loadKeyring(ctx.repo.verify.keyring) : undefined;
  const suite = await verifiedSuite(await fetchSuiteIndex(dist, ctx), dist, keyring, ctx);
  const release = parseRelease(suite.text, suite.label);
  const now = ctx.now();
  checkValidUntil(release, now, suite.label);
  checkNotInFuture(release, now, suite.label);
  // A rewritten (filtered) or re-signed suite depends on the filter and our key too; a verbatim one only on upstream.
  const resign = !ctx.filter && ctx.signer?.resign === true;
  const indexChecksum =
    ctx.filter || resign ? curatedIndexChecksum(indexChecksumOf(suite, source), ctx.filter ?? null, ctx.signer?.fingerprint) : indexChecksumOf(suite, source);
  // A dry run always plans: it reports what a sync would keep, even when nothing changed.
  if (!ctx.force && !ctx.dryRun && ctx.row.indexChecksum === indexChecksum) {
    ctx.log.debug({ repo: ctx.repo.id }, `${suite.label.split(" ")[0]} unchanged: nothing to do`);
    return { status: "noop", counts };
  }
  warnOnSuiteMismatch(release, source, suite.label, ctx);
  checkNotOlder(release, await previousReleaseDate(dist, ctx), {
    label: suite.label,
    repoId: ctx.repo.id,
    allowed: ctx.allowDowngrade || ctx.repo.verify?.allow_rollback === true,
  });

  const targets = planIndexTargets(
    release,
    { components: source.components, architectures: source.architectures, includeSources: source.include_sources },
    suite.label,
  );
  if (ctx.filter) return syncFilteredApt({ dist, source, filter: ctx.filter, release, targets, indexChecksum }, ctx);
  const suiteFiles = resign && ctx.signer ? await resignedSuiteFiles(suite.files, suite.text, ctx.signer) : suite.files;
  const metadata: MetadataEntry[] = [];
  for (const f of suiteFiles) metadata.push({ path: `${dist}/${f.name}`, ...(await putBuffer(ctx.blobs, f.data)) });
  metadata.push(...(await fetchIndexFiles(targets, dist, release, ctx)));

  readPreviousSetAhead(ctx);
  const set = await readIndices(targets, dist, ctx);
  const planned = [...set.byLocation.values()];
  refuseTreeConflicts(planned, metadata, ctx);
  counts.packagesTotal = planned.length;
  ctx.onProgress?.({ phase: "plan", filesDone: 0, filesTotal: planned.length, bytesDone: 0, bytesTotal: 0 });
  const present = await presentBlobs(
    ctx,
    planned.map((p) => p.sha256),
  );
  const seen = new Set<string>();
  const missing = planned.filter((p) => !present.has(p.sha256) && !seen.has(p.sha256) && seen.add(p.sha256));
  ctx.log.debug({ repo: ctx.repo.id, packages: planned.length, missing: missing.length }, "plan");
  if (ctx.dryRun) return { status: "dry-run", counts, plan: verbatimPlanReport(planned, missing) };

  await downloadMissing(missing, ctx, counts);
  ctx.onProgress?.({ phase: "commit", filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 });
  await commitSync(ctx, planned, packageRecord, metadata, indexChecksum, counts);
  return { status: "success", counts };
}
