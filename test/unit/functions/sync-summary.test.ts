// The summary line of repo sync says what is true for every outcome.
import { describe, expect, it } from "vitest";
import { syncSummaryLine } from "../../../functions/sync-summary.js";
import type { SyncResult } from "../../../functions/sync.js";

const counts = { packagesTotal: 0, packagesDownloaded: 0, packagesAdded: 0, packagesRemoved: 0, bytesDownloaded: 0 };
const result = (r: Partial<SyncResult>): SyncResult => ({ repoId: "r1", status: "success", runId: 1, counts, durationMs: 1500, ...r });

describe("syncSummaryLine", () => {
  it.each<[string, SyncResult, string]>([
    [
      "a success",
      result({ counts: { ...counts, packagesTotal: 30, packagesDownloaded: 5, packagesAdded: 5, packagesRemoved: 2, bytesDownloaded: 1_048_576 } }),
      "r1: success — 30 packages, 5 downloaded (1.0 MB), +5 -2 in 1.5 s",
    ],
    [
      "a no-op keeps its packages",
      result({ status: "noop", counts: { ...counts, packagesTotal: 3000 } }),
      "r1: noop — 3000 packages, unchanged upstream, in 1.5 s",
    ],
    [
      "an interrupted run keeps what it pooled",
      result({ status: "interrupted", counts: { ...counts, packagesTotal: 3000, packagesDownloaded: 12, bytesDownloaded: 2_097_152 } }),
      "r1: interrupted in 1.5 s — 12 packages downloaded (2.0 MB) are kept in the pool and will not be downloaded again",
    ],
    ["a failure before any download", result({ status: "failed", error: "HTTP 404" }), "r1: failed in 1.5 s — nothing downloaded"],
    ["a locked repository (its error: line names the holder)", result({ status: "skipped-locked", error: "held" }), "r1: skipped-locked"],
  ])("%s", (_name, r, line) => {
    expect(syncSummaryLine(r)).toBe(line);
  });
});
