// stdout carries results: aligned tables for people, --json for programs.
export type Row = Record<string, string | number | boolean | null | undefined>;

export function formatTable(rows: Row[], columns: { key: string; title: string }[]): string {
  const cell = (v: Row[string]) => (v === null || v === undefined ? "-" : String(v));
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => cell(r[c.key]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(columns.map((c) => c.title)), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c.key]))))].join("\n");
}

export function printTable(rows: Row[], columns: { key: string; title: string }[]): void {
  process.stdout.write(formatTable(rows, columns) + "\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
