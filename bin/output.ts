// stdout carries results: aligned tables for people, --json for programs; one JSON writer and one time format for both.
import { jsonValue } from "../core/json-output.js";
import { formatOffset, hostTimeZone, wallClockOf, zoneOffsetMs } from "../core/schedule/zone.js";

export { dataKeyed, jsonValue, snakeCase } from "../core/json-output.js";
export type Row = Record<string, string | number | boolean | null | undefined>;

export function formatTable(rows: Row[], columns: { key: string; title: string }[]): string {
  const cell = (v: Row[string]) => (v === null || v === undefined ? "-" : String(v));
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => cell(r[c.key]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.title)), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c.key]))))].join("\n");
}

export function printTable(rows: Row[], columns: { key: string; title: string }[]): void {
  process.stdout.write(formatTable(rows, columns) + "\n");
}

/** Every --json output goes through here (README "Output"): one key style, one timestamp format. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(jsonValue(value), null, 2) + "\n");
}

/** A document in a standard format (a JSON Schema), not a Chantal result: its keys are the standard's, written as they are. */
export function printJsonDocument(document: unknown): void {
  process.stdout.write(JSON.stringify(document, null, 2) + "\n");
}

/** The process's time zone (TZ, else /etc/localtime), as Node sees it. */
export function localTimeZone(): string {
  return hostTimeZone();
}

/** `UTC+01:00`, `UTC-05:00`, `UTC+05:30`: a zone's offset at an instant. */
export function zoneOffsetLabel(instant: Date, timeZone = localTimeZone()): string {
  return `UTC${formatOffset(zoneOffsetMs(timeZone, instant.getTime()))}`;
}

/** `2026-12-02 11:15:03`: an instant in the local zone (or `timeZone`), to the second; the zone is named once per output. */
export function formatLocalTime(instant: Date, timeZone = localTimeZone()): string {
  const wall = new Date(wallClockOf(timeZone, Math.floor(instant.getTime() / 1000) * 1000));
  return `${wall.toISOString().slice(0, 10)} ${wall.toISOString().slice(11, 19)}`;
}

/**
 * The times of one terminal output: each formatted by formatLocalTime, and the note naming the zone once —
 * `times are in Europe/Paris (UTC+01:00)`, with every offset the shown times have (two across a DST change).
 */
export class LocalTimes {
  private readonly offsets = new Set<string>();

  format(instant: Date): string;
  format(instant: Date | null | undefined): string | null;
  format(instant: Date | null | undefined): string | null {
    if (!instant) return null;
    this.offsets.add(zoneOffsetLabel(instant));
    return formatLocalTime(instant);
  }

  /** The zone line, or "" when no time was shown. */
  note(): string {
    if (this.offsets.size === 0) return "";
    return `times are in ${localTimeZone()} (${[...this.offsets].sort().join(", ")})`;
  }

  /** The note as a last line of output, when any time was shown. */
  printNote(): void {
    const n = this.note();
    if (n) process.stdout.write(n + "\n");
  }
}

/** One time in a sentence (an error message): `2026-12-02 11:15:03 Europe/Paris`. */
export function formatLocalTimeWithZone(instant: Date): string {
  return `${formatLocalTime(instant)} ${localTimeZone()}`;
}
