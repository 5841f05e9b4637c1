// Five-field unix cron: validation with messages that say which field is wrong, and next-fire computation.
import { CronExpressionParser } from "cron-parser";
import { closest } from "../closest.js";

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] },
  { name: "day-of-week", min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
];

export const CRON_MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** The five fields of an expression, with macros expanded. */
export function cronFields(expr: string): string[] {
  const trimmed = expr.trim();
  const macro = CRON_MACROS[trimmed.toLowerCase()];
  return (macro ?? trimmed).split(/\s+/).filter(Boolean);
}

const DAY_OF_MONTH = 2;
const DAY_OF_WEEK = 4;

/** A day field that cron-parser and EventBridge both read alone: `L` (last day of the month), `nL` (last weekday n), `n#k` (k-th weekday n). */
export type SpecialDay = { kind: "last-day-of-month" } | { kind: "last-weekday"; day: number } | { kind: "nth-weekday"; day: number; nth: number };

/** A special day field, a problem text when it is one but malformed, else null (an ordinary field). */
export function specialDay(field: string, index: number): SpecialDay | string | null {
  const spec = FIELDS[index]!;
  const upper = field.toUpperCase();
  // No day name has an L (JUL does, but months take neither L nor #).
  if ((index !== DAY_OF_MONTH && index !== DAY_OF_WEEK) || !(index === DAY_OF_MONTH ? /[LW#]/ : /[L#]/).test(upper)) return null;
  if (field.includes(",")) return `${spec.name} "${field}": L and # stand alone (cron-parser and EventBridge take no list with them)`;
  if (index === DAY_OF_MONTH)
    return upper === "L" ? { kind: "last-day-of-month" } : `day-of-month "${field}": only L (the last day of the month) is supported, not L-n or W`;
  const last = /^(\w+)L$/.exec(upper);
  const nth = /^(\w+)#(\d+)$/.exec(upper);
  const dayText = last?.[1] ?? nth?.[1];
  if (dayText === undefined) return `day-of-week "${field}": write nL (5L: the last Friday of the month) or n#k (5#3: its third Friday)`;
  const day = parseValue(dayText, spec);
  if (typeof day === "string") return day;
  if (last) return { kind: "last-weekday", day: day % 7 };
  const k = Number(nth![2]);
  if (k < 1 || k > 5) return `day-of-week "${field}": the occurrence after # must be 1-5`;
  return { kind: "nth-weekday", day: day % 7, nth: k };
}

/** The values one ordinary item selects (it is valid). */
function itemValues(item: string, spec: FieldSpec): number[] {
  const [range = "*", step] = item.split("/");
  const by = step === undefined ? 1 : Number(step);
  const bounds = range === "*" ? [spec.min, spec.max] : range.split("-").map((b) => parseValue(b, spec) as number);
  const lo = bounds[0]!;
  const hi = bounds.length === 2 ? bounds[1]! : step === undefined ? lo : spec.max;
  const out: number[] = [];
  for (let v = lo; v <= hi; v += by) out.push(v);
  return out;
}

/**
 * What cron-parser reads for a valid expression: macros expanded, `?` as `*`, and a list that names a value twice
 * (`0,7`: both Sunday; `1-5,3`) written once, which cron-parser would refuse as "duplicate values found".
 */
export function canonicalCron(expr: string): string {
  return cronFields(expr)
    .map((field, i) => {
      if (field === "?") return "*";
      if (!field.includes(",") || specialDay(field, i) !== null) return field;
      const spec = FIELDS[i]!;
      const values = new Set(field.split(",").flatMap((item) => itemValues(item, spec).map((v) => (i === DAY_OF_WEEK ? v % 7 : v))));
      return [...values].sort((a, b) => a - b).join(",");
    })
    .join(" ");
}

function parseValue(raw: string, spec: FieldSpec): number | string {
  const upper = raw.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (spec.name === "month" ? 1 : 0);
  if (!/^\d+$/.test(raw)) return `${spec.name} "${raw}" is not a number${spec.names ? " or a name" : ""}`;
  const n = Number(raw);
  if (n < spec.min || n > spec.max) return `${spec.name} ${n} is out of range ${spec.min}-${spec.max}`;
  return n;
}

function checkItem(item: string, spec: FieldSpec): string | null {
  const [range, step, extra] = item.split("/");
  if (extra !== undefined || range === undefined || range === "") return `${spec.name} "${item}" is malformed`;
  if (step !== undefined && (!/^\d+$/.test(step) || Number(step) === 0)) return `${spec.name} step "${step}" must be a positive number`;
  if (range === "*") return null;
  const bounds = range.split("-");
  if (bounds.length > 2) return `${spec.name} range "${range}" is malformed`;
  const values: number[] = [];
  for (const b of bounds) {
    const v = parseValue(b, spec);
    if (typeof v === "string") return v;
    values.push(v);
  }
  if (values.length === 2 && values[0]! > values[1]!) return `${spec.name} range "${range}" runs backwards`;
  return null;
}

/** Null when the expression is valid, else the reason, e.g. `hour 25 is out of range 0-23`. */
export function cronProblem(expr: string): string | null {
  const fields = cronFields(expr);
  if (fields.length !== 5) return `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  for (const [i, field] of fields.entries()) {
    const spec = FIELDS[i]!;
    if (field === "?") {
      if (i === DAY_OF_MONTH || i === DAY_OF_WEEK) continue;
      return `${spec.name} "?": ? means "any day" and belongs in day-of-month or day-of-week`;
    }
    const special = specialDay(field, i);
    if (typeof special === "string") return special;
    if (special) continue;
    for (const item of field.split(",")) {
      const problem = checkItem(item, spec);
      if (problem) return problem;
    }
  }
  return neverFiresProblem(canonicalCron(expr));
}

/** Valid fields can still name a date that never occurs (30 February): cron-parser refuses those. */
function neverFiresProblem(expr: string): string | null {
  try {
    CronExpressionParser.parse(expr, { tz: "UTC", currentDate: new Date(Date.UTC(2000, 0, 1)) }).next();
    return null;
  } catch (err) {
    return `it never fires (${(err as Error).message})`;
  }
}

export function timezoneProblem(tz: string): string | null {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return null;
  } catch {
    const near = closest([...Intl.supportedValuesOf("timeZone"), "UTC"], tz);
    return `"${tz}" is not a known IANA time zone (${near ? `did you mean ${near}?` : "for example Europe/Berlin or UTC"})`;
  }
}
