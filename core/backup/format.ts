// Text for the backup commands (core never prints: it returns the lines, bin/ writes them).
import type { LoadedConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { ConfigError } from "../errors.js";
import type { VerifyCheck } from "./verify.js";

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function formatCounts(c: { repositories: number; packages: number; snapshots: number } | null): string {
  if (!c) return "empty (no chantal schema)";
  return `${c.repositories} repositories, ${c.packages} packages, ${c.snapshots} snapshots`;
}

export function formatCheck(c: VerifyCheck): string {
  return `${c.ok ? "✓" : "✗"} ${c.label}${c.detail ? ` — ${c.detail}` : ""}`;
}

/**
 * The configuration if there is one: backup-verify/-info/-list and restore work on a bare host (disaster recovery)
 * where the configuration directory does not exist yet. An invalid configuration is still an error.
 */
export async function optionalConfig(load: () => Promise<LoadedConfig>): Promise<Config | undefined> {
  try {
    return (await load()).config;
  } catch (err) {
    if (err instanceof ConfigError && err.issues.length === 1 && err.issues[0]!.message.startsWith("configuration file not found")) return undefined;
    throw err;
  }
}

export const RESTORE_NEXT_STEPS = [
  "chantal-run config validate            # the configuration matches this host (paths, secrets in the environment)",
  "chantal-run pool verify --fix          # blobs the restored database needs but the pool lacks are fetched by the next sync",
  "chantal-run repo sync --all            # bring the repositories up to date",
  "chantal-run publish repo --all         # rewrite the published trees from the restored database",
];
