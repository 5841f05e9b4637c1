// Downloads a sync's missing packages with progress and run counts; finished ones are flushed and recorded a batch at a
// time (resume after kill -9).
import type { PackageRecord } from "../db/package-sets.js";
import type { RunCounts } from "../db/sync-runs.js";
import { downloadMany, type DownloadJob, type DownloadResult } from "../http/download.js";
import { PackageRecorder } from "./package-recorder.js";
import { checkFreeSpace, isNoSpace, noSpaceError } from "./free-space.js";
import type { RepoSyncContext } from "./types.js";

export async function downloadPackages(
  jobs: readonly DownloadJob[],
  ctx: RepoSyncContext,
  counts: RunCounts,
  bytesTotal: number,
  /** The catalog row of a finished download, recorded at once so that a killed run does not fetch it again. */
  recordOf: (index: number, result: DownloadResult) => PackageRecord,
): Promise<void> {
  await checkFreeSpace(ctx.config, bytesTotal);
  const recorder = new PackageRecorder(ctx.db, ctx.blobs);
  try {
    await downloadAll(jobs, ctx, counts, bytesTotal, (index, result) => recorder.add(recordOf(index, result)));
    await recorder.close();
    // The downloads were staged (a batch flushed at once): every one is in the pool, durable, when this returns.
    await ctx.blobs.flushAdopted?.();
  } catch (err) {
    if (isNoSpace(err)) throw noSpaceError(ctx.config, err);
    throw err;
  } finally {
    // After a failure too: what was downloaded is flushed, moved in and recorded, so a rerun does not fetch it again.
    await recorder.close();
  }
}

async function downloadAll(
  jobs: readonly DownloadJob[],
  ctx: RepoSyncContext,
  counts: RunCounts,
  bytesTotal: number,
  onDownloaded: (index: number, result: DownloadResult) => void,
): Promise<void> {
  let bytesDone = 0;
  let filesDone = 0;
  const report = () => ctx.onProgress?.({ phase: "download", filesDone, filesTotal: jobs.length, bytesDone, bytesTotal });
  report();
  await downloadMany(jobs, {
    blobs: ctx.blobs,
    http: ctx.http,
    concurrency: ctx.repo.download_concurrency,
    signal: ctx.signal,
    discardResults: true,
    // The recorder flushes the store (flushAdopted) before each batch it records: one syncfs a batch, no fsync a file.
    staged: true,
    onBytes: (n) => {
      bytesDone += n;
      counts.bytesDownloaded += n;
    },
    onFileDone: (_job, result, index) => {
      counts.packagesDownloaded++;
      onDownloaded(index, result);
      filesDone++;
      report();
    },
  });
}
