// The one JSON shape of results (--json, the container's result line): snake_case keys at every depth, Dates as ISO-8601 UTC.

/** `packagesTotal`, `MaximumWindowInMinutes`, `caBundle` → `packages_total`, `maximum_window_in_minutes`, `ca_bundle`. */
export function snakeCase(key: string): string {
  return key
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[-\s]+/g, "_")
    .toLowerCase();
}

const dataKeyedMaps = new WeakSet<object>();

/** A map whose keys are data (archive member paths, table names): printJson writes its keys as they are. */
export function dataKeyed<T extends object>(map: T): T {
  dataKeyedMaps.add(map);
  return map;
}

/** What --json prints: keys in snake_case at every depth (but those of dataKeyed maps), Dates as ISO-8601 UTC with milliseconds. */
export function jsonValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : jsonValue(v)));
  if (value === null || typeof value !== "object") return value;
  const keepKeys = dataKeyedMaps.has(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[keepKeys ? k : snakeCase(k)] = jsonValue(v);
  return out;
}
