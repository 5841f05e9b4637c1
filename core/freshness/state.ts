// Freshness: a repository's last runs, upstream timestamps and the freshness: policy turned into ok / stale / expiring / failing.
import type { Config, RepositoryConfig } from "../config/schema.js";

export type FreshnessState = "ok" | "stale" | "expiring" | "failing";
export const FRESHNESS_STATES: readonly FreshnessState[] = ["ok", "stale", "expiring", "failing"];

export interface FreshnessPolicy {
  maxAgeSeconds: number;
  validUntilWarningSeconds: number;
}

export interface FreshnessInput {
  /** The status of the most recent finished run ("running" rows are skipped by the caller); null: never ran. */
  lastRunStatus: string | null;
  /** When the last successful (or no-op) run finished. */
  lastSuccessAt: Date | null;
  /** APT Release Valid-Until of the current set, if upstream sets one. */
  validUntil: Date | null;
}

export interface Freshness {
  state: FreshnessState;
  /** One line for people: why this state. */
  reason: string;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "36h" → 129600; the schema has already checked the form. */
export function durationSeconds(text: string): number {
  const m = /^([0-9]+)(s|m|h|d|w)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (a number followed by s, m, h, d or w)`);
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}

/** The repository's freshness: block replaces the global one whole. */
export function freshnessPolicy(config: Pick<Config, "freshness">, repo: Pick<RepositoryConfig, "freshness"> | undefined): FreshnessPolicy {
  const block = repo?.freshness ?? config.freshness;
  return { maxAgeSeconds: durationSeconds(block.max_age), validUntilWarningSeconds: durationSeconds(block.valid_until_warning) };
}

const FAILED = new Set(["failed", "interrupted"]);

function ago(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

/** failing beats stale beats expiring beats ok: the state names the most urgent problem. */
export function freshnessState(input: FreshnessInput, policy: FreshnessPolicy, now: Date): Freshness {
  if (input.lastRunStatus !== null && FAILED.has(input.lastRunStatus)) return { state: "failing", reason: `the last run ${input.lastRunStatus}` };
  if (input.lastSuccessAt === null) return { state: "stale", reason: "never synced successfully" };
  const age = (now.getTime() - input.lastSuccessAt.getTime()) / 1000;
  if (age > policy.maxAgeSeconds) return { state: "stale", reason: `last success ${ago(age)} ago (max_age ${ago(policy.maxAgeSeconds)})` };
  if (input.validUntil !== null) {
    const left = (input.validUntil.getTime() - now.getTime()) / 1000;
    if (left <= 0) return { state: "expiring", reason: `upstream's Valid-Until passed ${ago(-left)} ago` };
    if (left <= policy.validUntilWarningSeconds) return { state: "expiring", reason: `upstream's Valid-Until in ${ago(left)}` };
  }
  return { state: "ok", reason: `last success ${ago(Math.max(0, age))} ago` };
}
