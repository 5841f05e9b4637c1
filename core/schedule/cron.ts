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
    for (const item of field.split(",")) {
      const problem = checkItem(item, spec);
      if (problem) return problem;
    }
  }
  return neverFiresProblem(fields.join(" "));
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
