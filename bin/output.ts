// stdout carries results: aligned tables for people, --json for programs; one JSON writer and one time format for both.
import { jsonValue } from "../core/json-output.js";
import { formatLocalTime, localTimeZone, zoneOffsetLabel } from "../core/local-time.js";

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

export { formatLocalTime, formatLocalTimeWithZone, localTimeZone, zoneOffsetLabel } from "../core/local-time.js";

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

export { formatBytes } from "../core/format-bytes.js";
