// Which backups to keep: keep_last / keep_daily / keep_weekly / keep_monthly, like restic and borg; pure, so it is table-tested.

export interface RetentionPolicy {
  keep_last?: number | undefined;
  keep_daily?: number | undefined;
  keep_weekly?: number | undefined;
  keep_monthly?: number | undefined;
}

export interface RetentionCandidate {
  name: string;
  createdAt: Date;
  /** false: unreadable or unverifiable; such a backup is never deleted nor counted. */
  valid: boolean;
}

export interface RetentionDecision {
  name: string;
  createdAt: Date;
  keep: boolean;
  reasons: string[];
}

/** YYYY-MM-DD of an instant in a time zone. */
export function calendarDay(date: Date, timeZone?: string): string {
  const fmt = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  const parts = Object.fromEntries(fmt.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** ISO 8601 week (GGGG-Www) of a calendar day. */
export function isoWeek(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((date.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

function hasRules(p: RetentionPolicy): boolean {
  return [p.keep_last, p.keep_daily, p.keep_weekly, p.keep_monthly].some((n) => n !== undefined);
}

/** Keep the newest backup of each of the `limit` most recent periods (days, weeks, months) that have one. */
function keepPerPeriod(
  sorted: RetentionCandidate[],
  limit: number | undefined,
  periodOf: (c: RetentionCandidate) => string,
  label: string,
  reasons: Map<string, string[]>,
): void {
  if (!limit) return;
  const seen = new Set<string>();
  for (const c of sorted) {
    const period = periodOf(c);
    if (seen.has(period)) continue;
    if (seen.size >= limit) break;
    seen.add(period);
    reasons.get(c.name)!.push(`${label} ${period}`);
  }
}

/**
 * Decide for each candidate. Invalid backups are kept and not counted; the newest valid backup is always kept;
 * a policy with no rule keeps everything (an empty `retention:` block must not wipe the backups).
 */
export function planRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, opts: { timeZone?: string } = {}): RetentionDecision[] {
  const valid = candidates.filter((c) => c.valid).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.name < b.name ? 1 : -1));
  const reasons = new Map<string, string[]>(candidates.map((c) => [c.name, []]));
  for (const c of candidates) if (!c.valid) reasons.get(c.name)!.push("invalid: never pruned");
  if (valid[0]) reasons.get(valid[0].name)!.push("newest valid backup");
  if (!hasRules(policy)) {
    for (const c of valid) if (reasons.get(c.name)!.length === 0) reasons.get(c.name)!.push("no retention rule set");
  } else {
    for (const c of valid.slice(0, policy.keep_last ?? 0)) reasons.get(c.name)!.push("last");
    const day = (c: RetentionCandidate) => calendarDay(c.createdAt, opts.timeZone);
    keepPerPeriod(valid, policy.keep_daily, day, "daily", reasons);
    keepPerPeriod(valid, policy.keep_weekly, (c) => isoWeek(day(c)), "weekly", reasons);
    keepPerPeriod(valid, policy.keep_monthly, (c) => day(c).slice(0, 7), "monthly", reasons);
  }
  return [...candidates]
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
    .map((c) => ({ name: c.name, createdAt: c.createdAt, keep: reasons.get(c.name)!.length > 0, reasons: reasons.get(c.name)! }));
}
