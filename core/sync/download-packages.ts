// Downloads a sync's missing packages with progress and run counts; each finished one is recorded at once (resume after kill -9).
import type { RunCounts } from "../db/sync-runs.js";
import { downloadMany, type DownloadJob, type DownloadResult } from "../http/download.js";
import type { RepoSyncContext } from "./types.js";

export async function downloadPackages(
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
    pool: ctx.pool,
    http: ctx.http,
    concurrency: ctx.repo.download_concurrency,
    signal: ctx.signal,
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
