// Five-field unix cron (as cron-parser reads it) -> EventBridge Scheduler `cron(min hour dom month dow year)`.
// AWS differs from unix cron: day-of-week is 1-7 = SUN-SAT, it has no step in day-of-week, one of
// day-of-month and day-of-week must be `?`, and it cannot OR the two day fields as unix cron does.
import { canonicalCron, cronProblem, type SpecialDay, specialDay } from "../schedule/cron.js";

export type AwsCronConversion = { ok: true; expression: string } | { ok: false; reason: string; fix: string };

interface FieldRange {
  min: number;
  max: number;
  names?: readonly string[];
  /** Names start at this value (1 for months, 0 for days of the week). */
  nameBase?: number;
}

const MINUTE: FieldRange = { min: 0, max: 59 };
const HOUR: FieldRange = { min: 0, max: 23 };
const DAY_OF_MONTH: FieldRange = { min: 1, max: 31 };
const MONTH: FieldRange = { min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], nameBase: 1 };
// Unix day-of-week is 0-7 with 0 and 7 both Sunday; `a/n` steps run up to 7 (cron-parser does so too).
const DAY_OF_WEEK: FieldRange = { min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], nameBase: 0 };
const AWS_DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] as const;

function value(raw: string, range: FieldRange): number {
  const named = range.names?.indexOf(raw.toUpperCase()) ?? -1;
  return named >= 0 ? named + (range.nameBase ?? 0) : Number(raw);
}

/** The set of values one field selects (the expression is already valid). */
function fieldValues(field: string, range: FieldRange): number[] {
  const out = new Set<number>();
  for (const item of field.split(",")) {
    const [span = "*", stepText] = item.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo: number;
    let hi: number;
    if (span === "*") [lo, hi] = [range.min, range.max];
    else if (span.includes("-")) {
      const [a = "", b = ""] = span.split("-");
      [lo, hi] = [value(a, range), value(b, range)];
    } else {
      lo = value(span, range);
      hi = stepText === undefined ? lo : range.max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

function daysOfWeek(field: string): number[] {
  return [...new Set(fieldValues(field, DAY_OF_WEEK).map((d) => d % 7))].sort((a, b) => a - b);
}

/** `a-b` for runs of three or more, single values otherwise. */
function rangesText(values: number[], label: (v: number) => string = String): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${label(values[i]!)}-${label(values[j]!)}`);
    else for (let k = i; k <= j; k++) parts.push(label(values[k]!));
    i = j + 1;
  }
  return parts.join(",");
}

/** AWS `a/n` (a, a+n, ... up to the field's maximum) when the values are exactly that progression. */
function stepText(values: number[], max: number): string | null {
  if (values.length < 3) return null;
  const step = values[1]! - values[0]!;
  if (step < 2) return null;
  for (let i = 2; i < values.length; i++) if (values[i]! - values[i - 1]! !== step) return null;
  return values.at(-1)! + step > max ? `${values[0]}/${step}` : null;
}

/** A minute, hour, day-of-month or month field in AWS syntax. */
function numericField(values: number[], range: FieldRange): string {
  if (values.length === range.max - range.min + 1) return "*";
  return stepText(values, range.max) ?? rangesText(values);
}

/** Days of the week (0-6, Sunday first) in AWS syntax: names, which AWS reads as 1-7 = SUN-SAT. */
function awsDayOfWeekField(days: number[]): string {
  return rangesText(days, (d) => AWS_DAY_NAMES[d]!);
}

/** `nL` and `n#k` in AWS numbering (1-7 = SUN-SAT). */
function awsSpecialDay(d: SpecialDay): string {
  if (d.kind === "last-weekday") return `${d.day + 1}L`;
  if (d.kind === "nth-weekday") return `${d.day + 1}#${d.nth}`;
  return "L";
}

/**
 * Convert a 5-field expression (or a macro such as @daily) to AWS form, with the same firing minutes
 * as cron-parser: a day field written as `*` is unrestricted; any other text restricts it, and when
 * both are restricted a day matching either fires (unix semantics, which AWS cannot express unless one
 * of the two selects every day anyway).
 */
export function toAwsCron(expr: string): AwsCronConversion {
  const problem = cronProblem(expr);
  if (problem) return { ok: false, reason: `"${expr}" is not a valid cron expression (${problem})`, fix: "correct the expression" };
  // `?` reads as `*` and a value named twice (`0,7`) once, as the local scheduler reads them.
  const [minF = "*", hourF = "*", domF = "*", monthF = "*", dowF = "*"] = canonicalCron(expr).split(" ");
  const minutes = numericField(fieldValues(minF, MINUTE), MINUTE);
  const hours = numericField(fieldValues(hourF, HOUR), HOUR);
  const months = numericField(fieldValues(monthF, MONTH), MONTH);
  // L, nL and n#k (valid: cronProblem passed) are written as AWS writes them, its days of the week counted 1-7 from Sunday.
  const domSpecial = specialDay(domF, 2) as SpecialDay | null;
  const dowSpecial = specialDay(dowF, 4) as SpecialDay | null;
  const doms = domSpecial ? [] : fieldValues(domF, DAY_OF_MONTH);
  const dows = dowSpecial ? [] : daysOfWeek(dowF);
  const domAll = doms.length === 31;
  const dowAll = dows.length === 7;
  let dayFields: [string, string] = ["*", "?"];
  if (domF !== "*" && dowF !== "*") {
    if (!domAll && !dowAll) {
      return {
        ok: false,
        reason:
          `day-of-month "${domF}" and day-of-week "${dowF}" are both restricted: unix cron runs on days matching either, ` +
          `and EventBridge Scheduler cannot express "either" (one of the two must be "?")`,
        fix: `restrict only one of them: "${minF} ${hourF} ${domF} ${monthF} *" (days of the month) or "${minF} ${hourF} * ${monthF} ${dowF}" (days of the week)`,
      };
    }
    // One of the two selects every day, so "either" is every day.
  } else if (domF !== "*" && !domAll) {
    dayFields = [domSpecial ? "L" : numericField(doms, DAY_OF_MONTH), "?"];
  } else if (dowF !== "*" && !dowAll) {
    dayFields = ["?", dowSpecial ? awsSpecialDay(dowSpecial) : awsDayOfWeekField(dows)];
  }
  // The longest possible result (lists that avoid every range and step) is 238 characters, within AWS's 256.
  return { ok: true, expression: `cron(${minutes} ${hours} ${dayFields[0]} ${months} ${dayFields[1]} *)` };
}
