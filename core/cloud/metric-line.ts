// One CloudWatch Embedded Metric Format record per task run: the task prints it on stdout and CloudWatch Logs turns it into metrics per repository, with no API call and no permission.
export const METRIC_NAMESPACE = "Chantal";

export interface TaskMetrics {
  repoId: string;
  /** success and noop count as a success. */
  status: string;
  durationMs: number;
  packagesDownloaded: number;
  bytesDownloaded: number;
}

const SUCCEEDED = new Set(["success", "noop"]);

/**
 * The EMF object: `LastSuccess` (1) only on a success, so an alarm on missing data per repository means "no
 * success for N hours"; `SyncFailed` 1 or 0; the duration and what was downloaded.
 */
export function syncMetricRecord(m: TaskMetrics, now: Date): Record<string, unknown> {
  const ok = SUCCEEDED.has(m.status);
  const metrics = [
    ...(ok ? [{ Name: "LastSuccess", Unit: "Count" }] : []),
    { Name: "SyncFailed", Unit: "Count" },
    { Name: "SyncDuration", Unit: "Seconds" },
    { Name: "PackagesDownloaded", Unit: "Count" },
    { Name: "BytesDownloaded", Unit: "Bytes" },
  ];
  return {
    _aws: { Timestamp: now.getTime(), CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [["Repository"]], Metrics: metrics }] },
    Repository: m.repoId,
    Status: m.status,
    ...(ok ? { LastSuccess: 1 } : {}),
    SyncFailed: ok || m.status === "skipped-locked" ? 0 : 1,
    SyncDuration: Math.round(m.durationMs / 100) / 10,
    PackagesDownloaded: m.packagesDownloaded,
    BytesDownloaded: m.bytesDownloaded,
  };
}
