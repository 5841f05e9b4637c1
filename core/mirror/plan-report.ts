// A dry run's SyncPlanReport from what a format planned: the upstream packages, which are kept, which the pool lacks.
import type { SyncPlanReport } from "./types.js";

/** One package as the report shows it: its NEVRA or name_version_arch, and its size in bytes. */
export interface PlanItem {
  label: string;
  size: number;
}

export interface PlanInput {
  upstream: readonly PlanItem[];
  /** Per upstream package whether it is kept; absent: every package (an unfiltered repository). */
  kept?: readonly boolean[];
  addedByDependencies?: number;
  /** The kept packages the pool lacks. */
  toDownload: readonly PlanItem[];
}

const sortedLabels = (items: readonly PlanItem[]) => items.map((i) => i.label).sort();
const totalSize = (items: readonly PlanItem[]) => items.reduce((n, i) => n + i.size, 0);

export function syncPlanReport(input: PlanInput): SyncPlanReport {
  const kept = input.kept ? input.upstream.filter((_, i) => input.kept![i]) : input.upstream;
  const dropped = input.kept ? input.upstream.filter((_, i) => !input.kept![i]) : [];
  return {
    packagesUpstream: input.upstream.length,
    kept: kept.length,
    dropped: dropped.length,
    addedByDependencies: input.addedByDependencies ?? 0,
    toDownload: input.toDownload.length,
    bytesToDownload: totalSize(input.toDownload),
    bytesKept: totalSize(kept),
    keptNames: sortedLabels(kept),
    droppedNames: sortedLabels(dropped),
    downloadNames: sortedLabels(input.toDownload),
  };
}
