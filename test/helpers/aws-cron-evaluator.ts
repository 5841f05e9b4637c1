// An independent evaluator of EventBridge Scheduler cron expressions, for tests: which instants
// `cron(min hour dom month dow year)` fires at in a time zone. AWS semantics: day-of-week 1-7 = SUN-SAT,
// `?` is "any", `a/n` runs from a to the field's maximum, `L` in day-of-month is the month's last day, `nL` and
// `n#k` in day-of-week its last and k-th weekday n; a wall time that does not exist (spring
// forward) is skipped; a wall time that happens twice (fall back) fires once, at its first occurrence.

interface Range {
  min: number;
  max: number;
  names?: readonly string[];
  nameBase?: number;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const RANGES: Range[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { min: 1, max: 7, names: DAYS, nameBase: 1 },
  { min: 1970, max: 2199 },
];

export interface AwsCron {
  minutes: Set<number>;
  hours: Set<number>;
  /** null for `?` */
  daysOfMonth: Set<number> | null;
  months: Set<number>;
  /** 1-7 = SUN-SAT; null for `?` */
  daysOfWeek: Set<number> | null;
  /** Day-of-month `L`. */
  lastDayOfMonth: boolean;
  /** Day-of-week `nL` (1-7) or `n#k`. */
  weekdayOfMonth: { day: number; nth: number | "last" } | null;
  years: Set<number>;
}

function num(text: string, r: Range): number {
  const i = r.names?.indexOf(text.toUpperCase()) ?? -1;
  const v = i >= 0 ? i + (r.nameBase ?? 0) : Number(text);
  if (!Number.isInteger(v) || v < r.min || v > r.max) throw new Error(`AWS cron: bad value "${text}"`);
  return v;
}

function parseField(text: string, r: Range): Set<number> | null {
  if (text === "?") return null;
  const out = new Set<number>();
  for (const item of text.split(",")) {
    const [span = "", step] = item.split("/");
    const by = step === undefined ? 1 : Number(step);
    let lo: number;
    let hi: number;
    if (span === "*") [lo, hi] = [r.min, r.max];
    else if (span.includes("-")) {
      const [a = "", b = ""] = span.split("-");
      [lo, hi] = [num(a, r), num(b, r)];
      if (lo > hi) throw new Error(`AWS cron: backwards range "${span}"`);
    } else [lo, hi] = [num(span, r), step === undefined ? num(span, r) : r.max];
    for (let v = lo; v <= hi; v += by) out.add(v);
  }
  return out;
}

export function parseAwsCron(expression: string): AwsCron {
  const m = /^cron\((.*)\)$/.exec(expression);
  if (!m) throw new Error(`not a cron() expression: ${expression}`);
  const f = m[1]!.split(" ");
  if (f.length !== 6) throw new Error(`AWS cron needs 6 fields: ${expression}`);
  const [dom, dow] = [f[2]!, f[4]!];
  if ((dom === "?") === (dow === "?")) throw new Error(`AWS cron: exactly one of day-of-month and day-of-week must be "?": ${expression}`);
  if (dow.includes("/")) throw new Error(`AWS cron has no step in day-of-week: ${expression}`);
  const lastDayOfMonth = dom === "L";
  const special = /^([1-7])(?:(L)|#([1-5]))$/.exec(dow);
  const weekdayOfMonth = special ? { day: Number(special[1]), nth: special[2] ? ("last" as const) : Number(special[3]) } : null;
  const sets = f.map((t, i) => ((i === 2 && lastDayOfMonth) || (i === 4 && special) ? null : parseField(t, RANGES[i]!)));
  return {
    minutes: sets[0]!,
    hours: sets[1]!,
    daysOfMonth: sets[2]!,
    months: sets[3]!,
    daysOfWeek: sets[4]!,
    years: sets[5]!,
    lastDayOfMonth,
    weekdayOfMonth,
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, number>();

/** Minutes the zone is ahead of UTC at an instant (memoised: tests ask for the same instants again and again). */
export function offsetMinutes(tz: string, instant: number): number {
  if (tz === "UTC") return 0;
  const key = `${tz} ${instant}`;
  let cached = offsets.get(key);
  if (cached === undefined) {
    cached = computeOffset(tz, instant);
    offsets.set(key, cached);
  }
  return cached;
}

function computeOffset(tz: string, instant: number): number {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formatters.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(instant).map((x) => [x.type, x.value]));
  const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute));
  return Math.round((wall - Math.floor(instant / 60_000) * 60_000) / 60_000);
}

/** The instants (0, 1 or 2) at which a wall-clock time happens in a zone. */
export function wallTimeInstants(tz: string, wall: number): number[] {
  const offsets = new Set([offsetMinutes(tz, wall - 43_200_000), offsetMinutes(tz, wall + 43_200_000)]);
  const out = [...offsets].map((o) => wall - o * 60_000).filter((t) => offsetMinutes(tz, t) * 60_000 === wall - t);
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Every instant in [from, to) at which the schedule fires in the zone (AWS semantics). */
export function awsFireTimes(expression: string, tz: string, from: Date, to: Date): number[] {
  const c = parseAwsCron(expression);
  const out: number[] = [];
  const hours = [...c.hours].sort((a, b) => a - b);
  const minutes = [...c.minutes].sort((a, b) => a - b);
  // Walk civil days from a day before to a day after the window (zones are at most ±14 h off UTC).
  const first = Math.floor(from.getTime() / 86_400_000) * 86_400_000 - 86_400_000;
  for (let day = first; day < to.getTime() + 86_400_000; day += 86_400_000) {
    const d = new Date(day);
    const [y, mo, dom, dow] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCDay() + 1];
    if (!c.years.has(y) || !c.months.has(mo)) continue;
    if (c.daysOfMonth && !c.daysOfMonth.has(dom)) continue;
    if (c.daysOfWeek && !c.daysOfWeek.has(dow)) continue;
    const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
    if (c.lastDayOfMonth && dom !== daysInMonth) continue;
    const w = c.weekdayOfMonth;
    if (w && (dow !== w.day || (w.nth === "last" ? dom + 7 <= daysInMonth : Math.ceil(dom / 7) !== w.nth))) continue;
    const midnight = Date.UTC(y, mo - 1, dom);
    const steady = tz === "UTC" || offsetMinutes(tz, midnight - 43_200_000) === offsetMinutes(tz, midnight + 129_600_000);
    const offset = steady ? offsetMinutes(tz, midnight) : 0;
    for (const h of hours) {
      for (const m of minutes) {
        const wall = midnight + (h * 60 + m) * 60_000;
        const t = steady ? wall - offset * 60_000 : wallTimeInstants(tz, wall)[0];
        if (t !== undefined && t >= from.getTime() && t < to.getTime()) out.push(t);
      }
    }
  }
  return out.sort((a, b) => a - b);
}
