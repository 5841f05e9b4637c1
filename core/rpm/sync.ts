// RPM mirror sync: repomd.xml -> every <data> file -> stream-parse primary -> download missing packages -> one transaction.
// A repository with an active filter goes on in filtered-sync.ts once the data files are pooled.
import { fetchBuffer, HttpStatusError } from "../http/client.js";
import { commitSync } from "../mirror/commit.js";
import { upstreamFileUrl } from "../http/url.js";
import { redactUrl } from "../redact.js";
import { putBuffer } from "../storage/put-buffer.js";
import { syncPlanReport } from "../mirror/plan-report.js";
import { readPreviousSetAhead } from "../mirror/pool-presence.js";
import type { RepoSyncContext, RepoSyncResult } from "../mirror/types.js";
import { parseRepomd } from "./repomd.js";
import { rpmIndexChecksum, syncFilteredRpm } from "./filtered-sync.js";
import { REPOMD_SIGNATURE, repomdSignature } from "./repomd-signature.js";
import {
  committedOf,
  downloadMissing,
  fetchDataFiles,
  fetchOptional,
  fillFromSiblings,
  locationOf,
  MAX_REPOMD_BYTES,
  planDownloads,
  readPrimary,
  refuseTreeConflicts,
  REPOMD,
  RpmMetadataError,
  type RpmPackage,
  SIGNATURE_FILES,
} from "./sync-steps.js";

export { RpmMetadataError } from "./sync-steps.js";

/** repomd.xml; absent upstream (404/410) means upstream_url is wrong, and the error says so, as APT's does. */
async function fetchRepomd(ctx: RepoSyncContext): Promise<Buffer> {
  const url = upstreamFileUrl(ctx.repo.upstream_url, REPOMD);
  try {
    return (await fetchBuffer(url, { ...ctx.http, signal: ctx.signal }, { maxBytes: MAX_REPOMD_BYTES }, { subject: "repomd.xml" })).body;
  } catch (err) {
    if (err instanceof HttpStatusError && (err.status === 404 || err.status === 410)) {
      throw new RpmMetadataError(
        `repository ${ctx.repo.id}: no ${REPOMD} at ${redactUrl(ctx.repo.upstream_url)} (HTTP ${err.status}; check upstream_url: it must be the directory that holds repodata/)`,
        { cause: err },
      );
    }
    throw err;
  }
}

export async function syncRpm(ctx: RepoSyncContext): Promise<RepoSyncResult> {
  const counts = ctx.counts;
  ctx.onProgress?.({ phase: "index", filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 });
  const repomdBytes = await fetchRepomd(ctx);
  // With a filter or a re-signing key, the filter and the key are part of it (filtered-sync.ts).
  const indexChecksum = rpmIndexChecksum(repomdBytes, ctx);
  if (!ctx.force && ctx.row.indexChecksum === indexChecksum) {
    ctx.log.debug({ repo: ctx.repo.id }, "repomd.xml unchanged: nothing to do");
    return { status: "noop", counts };
  }
  const repomd = parseRepomd(repomdBytes);
  const primaryData = repomd.data.find((d) => d.type === "primary");
  if (!primaryData) throw new RpmMetadataError(`${REPOMD} of ${ctx.repo.id} lists no primary metadata`);

  ctx.onProgress?.({ phase: "metadata", filesDone: 0, filesTotal: repomd.data.length, bytesDone: 0, bytesTotal: 0 });
  const metadata = await fetchDataFiles(repomd.data, ctx);
  if (ctx.filter) return syncFilteredRpm(ctx, { repomdBytes, repomd, dataFiles: metadata, indexChecksum });
  metadata.push({ path: REPOMD, ...(await putBuffer(ctx.blobs, repomdBytes)) });
  for (const path of SIGNATURE_FILES) {
    // signing.resign: our signature replaces upstream's; repomd.xml itself stays verbatim.
    if (path === REPOMD_SIGNATURE && ctx.signer?.resign) continue;
    const body = await fetchOptional(upstreamFileUrl(ctx.repo.upstream_url, path), ctx);
    if (body) metadata.push({ path, ...(await putBuffer(ctx.blobs, body)) });
  }
  if (ctx.signer?.resign) metadata.push((await repomdSignature(ctx, repomdBytes, "resigned"))!);

  const primaryEntry = metadata.find((m) => m.path === locationOf(ctx, primaryData.location, primaryData.locationBase))!;
  readPreviousSetAhead(ctx);
  const planned = await readPrimary(primaryEntry, primaryData.openSize, ctx);
  refuseTreeConflicts(planned, metadata, ctx);
  counts.packagesTotal = planned.length;
  ctx.onProgress?.({ phase: "plan", filesDone: 0, filesTotal: planned.length, bytesDone: 0, bytesTotal: 0 });
  const missing = await planDownloads(planned, ctx);
  ctx.log.debug({ repo: ctx.repo.id, packages: planned.length, missing: missing.length }, "plan");
  if (ctx.dryRun) {
    const item = (p: RpmPackage) => ({ label: p.nevra, size: p.size });
    return { status: "dry-run", counts, plan: syncPlanReport({ upstream: planned.map(item), toDownload: missing.map(item) }) };
  }

  await downloadMissing(missing, ctx, counts);
  fillFromSiblings(planned);
  ctx.onProgress?.({ phase: "commit", filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 });
  await commitSync(ctx, planned, committedOf, metadata, indexChecksum, counts);
  ctx.log.debug({ repo: ctx.repo.id, added: counts.packagesAdded, removed: counts.packagesRemoved }, "committed");
  // Every package is in the pool now (downloaded and checked, or found by the plan): the gate need not parse primary again.
  return { status: "success", counts, verified: { source: primaryEntry.sha256, packages: planned } };
}
