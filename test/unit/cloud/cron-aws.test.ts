// Tests of core/cloud/cron-aws.ts.
import { CronExpressionParser } from "cron-parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalCron, cronFields } from "../../../core/schedule/cron.js";
import { toAwsCron } from "../../../core/cloud/cron-aws.js";
import { awsFireTimes, parseAwsCron } from "../../helpers/aws-cron-evaluator.js";

describe("toAwsCron", () => {
  it.each([
    ["0 2 * * *", "cron(0 2 * * ? *)"],
    ["*/15 * * * *", "cron(0/15 * * * ? *)"],
    ["5/15 * * * *", "cron(5/15 * * * ? *)"],
    ["1,2,3 * * * *", "cron(1-3 * * * ? *)"],
    ["0 0-23/6 * * *", "cron(0 0/6 * * ? *)"],
    ["0 8-18/2 * * *", "cron(0 8,10,12,14,16,18 * * ? *)"],
    ["0 0 * * 0", "cron(0 0 ? * SUN *)"],
    ["0 0 * * 7", "cron(0 0 ? * SUN *)"],
    ["0 0 * * 1-5", "cron(0 0 ? * MON-FRI *)"],
    ["0 0 * * mon-fri", "cron(0 0 ? * MON-FRI *)"],
    ["0 0 * * 5-7", "cron(0 0 ? * SUN,FRI,SAT *)"],
    ["0 0 * * */2", "cron(0 0 ? * SUN,TUE,THU,SAT *)"],
    ["0 0 * * 1/2", "cron(0 0 ? * SUN,MON,WED,FRI *)"],
    ["0 0 * * MON-FRI/2", "cron(0 0 ? * MON,WED,FRI *)"],
    ["0 0 * * 0-6", "cron(0 0 * * ? *)"],
    ["0 0 1 * *", "cron(0 0 1 * ? *)"],
    ["0 0 1/10 * *", "cron(0 0 1/10 * ? *)"],
    ["0 0 1,15 * *", "cron(0 0 1,15 * ? *)"],
    ["30 4 * JAN-MAR *", "cron(30 4 * 1-3 ? *)"],
    ["0 0 * */3 *", "cron(0 0 * 1/3 ? *)"],
    ["0 9 1-31 * MON", "cron(0 9 * * ? *)"],
    ["0 9 1 * 0-7", "cron(0 9 * * ? *)"],
    ["0 0 29 2 *", "cron(0 0 29 2 ? *)"],
    ["@daily", "cron(0 0 * * ? *)"],
    ["@midnight", "cron(0 0 * * ? *)"],
    ["@hourly", "cron(0 * * * ? *)"],
    ["@weekly", "cron(0 0 ? * SUN *)"],
    ["@monthly", "cron(0 0 1 * ? *)"],
    ["@yearly", "cron(0 0 1 1 ? *)"],
    ["@annually", "cron(0 0 1 1 ? *)"],
    ["0 2 L * *", "cron(0 2 L * ? *)"],
    ["0 2 * * 5L", "cron(0 2 ? * 6L *)"],
    ["30 1 * * 0L", "cron(30 1 ? * 1L *)"],
    ["30 1 * * 7L", "cron(30 1 ? * 1L *)"],
    ["0 2 * * 5#3", "cron(0 2 ? * 6#3 *)"],
    ["0 2 * * SAT#1", "cron(0 2 ? * 7#1 *)"],
    ["0 2 ? * MON", "cron(0 2 ? * MON *)"],
    ["0 2 1 * ?", "cron(0 2 1 * ? *)"],
    ["0 2 * * 0,7", "cron(0 2 ? * SUN *)"],
    ["0 2 * * SUN,7", "cron(0 2 ? * SUN *)"],
    ["0 2 * * 1-5,3", "cron(0 2 ? * MON-FRI *)"],
  ])("%s -> %s", (unix, aws) => {
    expect(toAwsCron(unix)).toEqual({ ok: true, expression: aws });
    parseAwsCron(aws); // and the evaluator (AWS's rules) accepts it
  });

  it.each([
    [
      "0 2 1 * MON",
      'day-of-month "1" and day-of-week "MON" are both restricted: unix cron runs on days matching either, and EventBridge Scheduler cannot express "either" (one of the two must be "?")',
      'restrict only one of them: "0 2 1 * *" (days of the month) or "0 2 * * MON" (days of the week)',
    ],
    [
      "15 3 1-7 * */2",
      'day-of-month "1-7" and day-of-week "*/2" are both restricted: unix cron runs on days matching either, and EventBridge Scheduler cannot express "either" (one of the two must be "?")',
      'restrict only one of them: "15 3 1-7 * *" (days of the month) or "15 3 * * */2" (days of the week)',
    ],
    ["0 25 * * *", '"0 25 * * *" is not a valid cron expression (hour 25 is out of range 0-23)', "correct the expression"],
  ])("%s cannot be converted", (unix, reason, fix) => {
    expect(toAwsCron(unix)).toEqual({ ok: false, reason, fix });
  });

  // At 04:00, clear of the hour Europe/Berlin skips or repeats (02:00 on the last Sunday of March: AWS drops it).
  it.each(["0 4 L * *", "0 4 * * 5L", "0 4 * * 0L", "0 4 * * 5#3", "0 4 * * 1#5", "15 6 * 2 SUN#1", "0 4 * * 0,7"])(
    "%s fires on the same days in AWS's reading as in cron-parser's, across a year in UTC and Europe/Berlin",
    (unix) => {
      const aws = toAwsCron(unix);
      if (!aws.ok) throw new Error(aws.reason);
      for (const tz of ["UTC", "Europe/Berlin"])
        expect(iso(awsFireTimes(aws.expression, tz, YEAR_START, YEAR_END)), `${tz}: ${aws.expression}`).toEqual(iso(cronParserFireTimes(unix, tz, 500)));
    },
  );

  it("refuses L with a restricted day of the week: unix cron's either-or", () => {
    expect(toAwsCron("0 2 L * 1")).toMatchObject({
      ok: false,
      fix: 'restrict only one of them: "0 2 L * *" (days of the month) or "0 2 * * 1" (days of the week)',
    });
  });

  it("refuses an expression that never fires (30 February), as config validation does", () => {
    const r = toAwsCron("0 0 30 2 *");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^"0 0 30 2 \*" is not a valid cron expression \(it never fires/);
  });

  it("keeps the longest possible AWS form within the 256 characters EventBridge Scheduler accepts", () => {
    // Every field a list that no range or step shortens: drop every third value.
    const sparse = (lo: number, hi: number) =>
      Array.from({ length: hi - lo + 1 }, (_, i) => lo + i)
        .filter((_, i) => i % 3 !== 2)
        .join(",");
    const r = toAwsCron(`${sparse(0, 59)} ${sparse(0, 23)} ${sparse(1, 31)} ${sparse(1, 12)} *`);
    if (!r.ok) throw new Error(r.reason);
    expect(r.expression.length).toBe(238);
  });
});

// ---- Property: the AWS form fires at the same minutes as cron-parser (what the local scheduler uses).

const YEAR_START = new Date("2026-01-01T00:00:00Z");
const YEAR_END = new Date("2027-01-01T00:00:00Z");

function cronParserFireTimes(expr: string, tz: string, limit: number): number[] {
  const it = CronExpressionParser.parse(canonicalCron(expr), { currentDate: new Date(YEAR_START.getTime() - 1000), tz });
  const out: number[] = [];
  for (;;) {
    const t = it.next().toDate().getTime();
    if (t >= YEAR_END.getTime()) return out;
    out.push(t);
    if (out.length > limit) throw new Error(`more than ${limit} fires`);
  }
}

const int = (lo: number, hi: number) => fc.integer({ min: lo, max: hi });
const distinctSorted = (lo: number, hi: number, min: number, max: number) =>
  fc.uniqueArray(int(lo, hi), { minLength: min, maxLength: max }).map((a) => a.sort((x, y) => x - y).join(","));
const range = (lo: number, hi: number) => fc.tuple(int(lo, hi), int(lo, hi)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);

// Fields stay sparse enough that a year of fires is cheap for cron-parser (~50-100 µs a fire).
const minuteField = fc.oneof(
  { weight: 6, arbitrary: int(0, 59).map(String) },
  { weight: 2, arbitrary: distinctSorted(0, 59, 2, 3) },
  { weight: 1, arbitrary: fc.tuple(int(0, 59), int(20, 40)).map(([a, n]) => `${a}/${n}`) },
  { weight: 1, arbitrary: int(20, 30).map((n) => `*/${n}`) },
);
const hourField = fc.oneof(
  { weight: 5, arbitrary: int(0, 23).map(String) },
  { weight: 2, arbitrary: distinctSorted(0, 23, 2, 4) },
  { weight: 2, arbitrary: range(0, 23) },
  { weight: 1, arbitrary: int(3, 12).map((n) => `*/${n}`) },
  { weight: 1, arbitrary: fc.tuple(range(0, 23), int(2, 6)).map(([r, n]) => `${r}/${n}`) },
);
const domField = fc.oneof(
  { weight: 6, arbitrary: fc.constant("*") },
  { weight: 2, arbitrary: int(1, 31).map(String) },
  { weight: 1, arbitrary: distinctSorted(1, 28, 2, 4) },
  { weight: 1, arbitrary: range(1, 31) },
  { weight: 1, arbitrary: fc.tuple(int(1, 10), int(3, 10)).map(([a, n]) => `${a}/${n}`) },
  { weight: 1, arbitrary: int(2, 15).map((n) => `*/${n}`) },
);
const monthName = fc.constantFrom("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC");
const monthField = fc.oneof(
  { weight: 6, arbitrary: fc.constant("*") },
  { weight: 1, arbitrary: int(1, 12).map(String) },
  { weight: 1, arbitrary: monthName },
  { weight: 1, arbitrary: distinctSorted(1, 12, 2, 4) },
  { weight: 1, arbitrary: range(1, 12) },
  { weight: 1, arbitrary: int(2, 6).map((n) => `*/${n}`) },
);
const dayName = fc.constantFrom("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "sun", "Fri");
const dowField = fc.oneof(
  { weight: 5, arbitrary: fc.constant("*") },
  { weight: 2, arbitrary: int(0, 7).map(String) },
  { weight: 1, arbitrary: dayName },
  { weight: 1, arbitrary: distinctSorted(0, 7, 2, 3) },
  { weight: 2, arbitrary: range(0, 7) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("MON", "TUE", "WED"), fc.constantFrom("THU", "FRI", "SAT")).map(([a, b]) => `${a}-${b}`) },
  { weight: 1, arbitrary: int(2, 4).map((n) => `*/${n}`) },
  { weight: 1, arbitrary: fc.tuple(int(0, 6), int(2, 3)).map(([a, n]) => `${a}/${n}`) },
  { weight: 1, arbitrary: fc.tuple(range(0, 7), int(2, 3)).map(([r, n]) => `${r}/${n}`) },
);
const macro = fc.constantFrom("@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually");

/** Expressions AWS can represent (the conversion succeeds) and cron-parser accepts. */
const representable = fc
  .oneof({ weight: 30, arbitrary: fc.tuple(minuteField, hourField, domField, monthField, dowField).map((f) => f.join(" ")) }, { weight: 1, arbitrary: macro })
  .filter((expr) => {
    if (!toAwsCron(expr).ok) return false;
    try {
      CronExpressionParser.parse(cronFields(expr).join(" "));
      return true;
    } catch {
      return false;
    }
  });

const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString());

/** At most this many fires a year, so that cron-parser (50-100 µs a fire) walks a year quickly. */
const MAX_FIRES = 300;
const SEED = Number(process.env.CHANTAL_PROPERTY_SEED ?? 20260101);
/** Runs in chunks (separate tests) so that no single test blocks the worker for long. */
const CHUNKS = [0, 1, 2, 3, 4];
/** cron-parser with a zone costs about 30 ms per expression-year, so the DST zone gets fewer runs than UTC. */
const SCALE = Number(process.env.CHANTAL_PROPERTY_SCALE ?? 1);

describe("the AWS form fires at the same minutes as cron-parser across a year", () => {
  it.each(CHUNKS)("in UTC (5 x 120 random expressions), chunk %i", (chunk) => {
    fc.assert(
      fc.property(representable, (expr) => {
        const aws = toAwsCron(expr);
        if (!aws.ok) throw new Error("filtered");
        const expected = awsFireTimes(aws.expression, "UTC", YEAR_START, YEAR_END);
        fc.pre(expected.length <= MAX_FIRES);
        expect(iso(awsFireTimes(aws.expression, "UTC", YEAR_START, YEAR_END)), `${expr} -> ${aws.expression}`).toEqual(
          iso(cronParserFireTimes(expr, "UTC", 20_000)),
        );
      }),
      { numRuns: 120 * SCALE, seed: SEED + chunk },
    );
  });

  // Europe/Berlin 2026: spring forward 2026-03-29 02:00 -> 03:00, fall back 2026-10-25 03:00 -> 02:00.
  const SPRING = Date.parse("2026-03-29T01:00:00Z");
  const AUTUMN = Date.parse("2026-10-25T01:00:00Z");

  it.each(CHUNKS)("in Europe/Berlin (5 x 40 random expressions), equal except the documented daylight-saving differences, chunk %i", (chunk) => {
    fc.assert(
      fc.property(representable, (expr) => {
        const aws = toAwsCron(expr);
        if (!aws.ok) throw new Error("filtered");
        const expected = awsFireTimes(aws.expression, "Europe/Berlin", YEAR_START, YEAR_END);
        fc.pre(expected.length <= MAX_FIRES);
        const actual = cronParserFireTimes(expr, "Europe/Berlin", 20_000);
        const got = new Set(actual);
        // Every AWS fire is a cron-parser fire.
        expect(iso(expected.filter((t) => !got.has(t))), `${expr} -> ${aws.expression}: AWS fires that cron-parser lacks`).toEqual([]);
        // cron-parser fires in addition only (a) within the hour after the spring gap, for a wall time
        // inside the gap that AWS skips, and (b) in the repeated autumn hour, a second time for a wall
        // time that already fired an hour earlier (AWS runs it once).
        const want = new Set(expected);
        const extra = actual.filter((t) => !want.has(t));
        const unexplained = extra.filter(
          (t) => !(t >= SPRING && t < SPRING + 3_600_000) && !(t >= AUTUMN && t < AUTUMN + 3_600_000 && want.has(t - 3_600_000)),
        );
        expect(iso(unexplained), `${expr} -> ${aws.expression}: cron-parser fires that AWS lacks`).toEqual([]);
      }),
      { numRuns: 40 * SCALE, seed: SEED + 100 + chunk },
    );
  });

  it.each([
    // A wall time inside the spring gap: AWS skips the day; cron-parser runs at 03:30 CEST instead.
    [
      "30 2 * * *",
      "2026-03-28T00:00:00Z",
      "2026-03-31T00:00:00Z",
      ["2026-03-28T01:30:00.000Z", "2026-03-30T00:30:00.000Z"],
      ["2026-03-28T01:30:00.000Z", "2026-03-29T01:30:00.000Z", "2026-03-30T00:30:00.000Z"],
    ],
    // A fixed wall time in the repeated autumn hour: both run it once, at the first 02:30 (CEST).
    [
      "30 2 * * *",
      "2026-10-24T00:00:00Z",
      "2026-10-26T00:00:00Z",
      ["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z"],
      ["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z"],
    ],
    // Every hour: cron-parser runs 02:00 CEST and 02:00 CET; AWS runs the repeated wall time once.
    [
      "0 * * * *",
      "2026-10-24T23:30:00Z",
      "2026-10-25T02:30:00Z",
      ["2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z"],
      ["2026-10-25T00:00:00.000Z", "2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z"],
    ],
  ])("daylight saving in Europe/Berlin: %s between %s and %s", (expr, from, to, awsTimes, cronParserTimes) => {
    const aws = toAwsCron(expr);
    if (!aws.ok) throw new Error(aws.reason);
    expect(iso(awsFireTimes(aws.expression, "Europe/Berlin", new Date(from), new Date(to)))).toEqual(awsTimes);
    const it = CronExpressionParser.parse(expr, { currentDate: new Date(Date.parse(from) - 1000), tz: "Europe/Berlin" });
    const fromParser: string[] = [];
    for (let t = it.next().toDate(); t.getTime() < Date.parse(to); t = it.next().toDate()) fromParser.push(t.toISOString());
    expect(fromParser).toEqual(cronParserTimes);
  });
});
