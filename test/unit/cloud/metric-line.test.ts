// The EMF record a task prints: metrics per repository, LastSuccess only when the sync succeeded.
import { describe, expect, it } from "vitest";
import { syncMetricRecord } from "../../../core/cloud/metric-line.js";

const at = new Date("2026-12-03T02:00:00Z");
const run = (status: string) => syncMetricRecord({ repoId: "rocky9", status, durationMs: 12_345, packagesDownloaded: 7, bytesDownloaded: 1024 }, at);

describe("syncMetricRecord", () => {
  it.each([
    ["success", 1, 0],
    ["noop", 1, 0],
    ["failed", undefined, 1],
    ["interrupted", undefined, 1],
    ["skipped-locked", undefined, 0],
  ])("%s: LastSuccess %s, SyncFailed %i", (status, last, failed) => {
    const r = run(status) as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
    };
    expect(r.LastSuccess).toBe(last);
    expect(r.SyncFailed).toBe(failed);
    const directive = r._aws.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe("Chantal");
    expect(directive?.Dimensions).toEqual([["Repository"]]);
    // Every metric the directive names is a number at the root, as EMF requires.
    for (const m of directive?.Metrics ?? []) expect(typeof r[m.Name]).toBe("number");
    expect(r.Repository).toBe("rocky9");
    expect(r.SyncDuration).toBe(12.3);
  });
});
