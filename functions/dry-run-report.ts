// What `repo sync --dry-run` prints for a person: per repository the counts and sizes, and with --verbose the names.
import type { SyncPlanReport } from "../core/mirror/types.js";
import type { SyncResult } from "./sync-repository.js";

/** 1.5 MB, 3.2 GB: sizes in binary units, as the sync summary writes them (MB = 1,048,576 bytes). */
export function humanSize(bytes: number): string {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${n.toFixed(1)} ${units[u]}`;
}

function nameList(title: string, names: readonly string[]): string[] {
  return [`  ${title} (${names.length}):`, ...(names.length === 0 ? ["    (none)"] : names.map((n) => `    ${n}`))];
}

/** The counts block of one plan; `verbose` adds the kept, dropped and to-download names. */
export function formatPlanReport(repoId: string, plan: SyncPlanReport, verbose: boolean): string {
  const rows: [string, string][] = [
    ["upstream packages", String(plan.packagesUpstream)],
    ["kept", `${plan.kept} (${humanSize(plan.bytesKept)})`],
    ["dropped", String(plan.dropped)],
    ["added by dependencies", String(plan.addedByDependencies)],
    ["to download", `${plan.toDownload} (${humanSize(plan.bytesToDownload)})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`${repoId}: dry run — nothing downloaded, recorded or published`, ...rows.map(([k, v]) => `  ${`${k}:`.padEnd(width + 2)}${v}`)];
  if (verbose) lines.push(...nameList("kept", plan.keptNames), ...nameList("dropped", plan.droppedNames), ...nameList("to download", plan.downloadNames));
  return `${lines.join("\n")}\n`;
}

/** One result of a dry run: its plan, or the line saying why there is none. */
export function formatDryRunResult(r: SyncResult, verbose: boolean): string {
  if (r.plan) return formatPlanReport(r.repoId, r.plan, verbose);
  return `${r.repoId}: ${r.status}${r.error ? ` — ${r.error}` : ""}\n`;
}
