// The one line a person reads after `repo sync --repo-id X`: what the run did, true for every outcome.
import type { SyncResult } from "./sync.js";

function mb(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

/** `r1: success — 30 packages, …`; a failed or interrupted run says what it pooled, which the next sync keeps. */
export function syncSummaryLine(r: SyncResult): string {
  const c = r.counts;
  const took = `in ${(r.durationMs / 1000).toFixed(1)} s`;
  if (r.status === "failed" || r.status === "interrupted") {
    const kept =
      c.packagesDownloaded > 0
        ? `${c.packagesDownloaded} packages downloaded (${mb(c.bytesDownloaded)}) are kept in the pool and will not be downloaded again`
        : "nothing downloaded";
    return `${r.repoId}: ${r.status} ${took} — ${kept}`;
  }
  // The error: line above already names the sync that holds the lock.
  if (r.status === "skipped-locked") return `${r.repoId}: skipped-locked`;
  if (r.status === "noop") return `${r.repoId}: noop — ${c.packagesTotal} packages, unchanged upstream, ${took}`;
  return `${r.repoId}: ${r.status} — ${c.packagesTotal} packages, ${c.packagesDownloaded} downloaded (${mb(c.bytesDownloaded)}), +${c.packagesAdded} -${c.packagesRemoved} ${took}`;
}
