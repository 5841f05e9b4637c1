// Where a configuration problem is: the YAML line of its key path, the repository's id instead of
// `repositories[3]`, and the closest known key for an unknown one.
import { type LineCounter, isMap, isNode, type Document } from "yaml";
import type { z } from "zod";
import { closest } from "../closest.js";
import { formatKeyPath } from "./key-path.js";

/** `repositories[0].schedule.cron` -> `["repositories", 0, "schedule", "cron"]` (the inverse of formatKeyPath). */
export function parseKeyPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * `repositories[3].schedule.cron` -> `repository rhel9-baseos: schedule.cron` when repository 3 has a string id,
 * `groups[0].schedule.cron` -> `group el9: schedule.cron` likewise; other paths unchanged.
 */
export function describeKeyPath(
  path: readonly (string | number)[],
  ids: readonly (string | undefined)[],
  groupIds: readonly (string | undefined)[] = [],
): string {
  const what = path[0] === "repositories" ? "repository" : path[0] === "groups" ? "group" : null;
  if (what === null || typeof path[1] !== "number") return formatKeyPath(path);
  const id = (what === "repository" ? ids : groupIds)[path[1]];
  if (id === undefined) return formatKeyPath(path);
  const rest = formatKeyPath(path.slice(2));
  return rest ? `${what} ${id}: ${rest}` : `${what} ${id}`;
}

/** The 1-based line of the deepest node along path that the document has (a missing key: its parent's line). */
export function lineOf(doc: Document, lines: LineCounter, path: readonly (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (!isNode(node) || !node.range) continue;
    // For a key of a mapping, point at the key's own line rather than the value's first child.
    if (n > 0) {
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === path[n - 1]);
        if (pair && isNode(pair.key) && pair.key.range) return lines.linePos(pair.key.range[0]).line;
      }
    }
    return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

/** The keys an object schema accepts at path (unions: every alternative's), for "did you mean" on an unknown key. */
export function schemaKeysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  const keys = new Set<string>();
  const visit = (s: AnySchema, rest: readonly (string | number)[]): void => {
    const def = s._zod.def;
    switch (def.type) {
      case "optional":
      case "default":
      case "nullable":
      case "prefault":
      case "readonly":
      case "catch":
      case "nonoptional":
        return visit(def.innerType as AnySchema, rest);
      case "pipe":
        return visit(def.in as AnySchema, rest);
      case "union":
        for (const o of def.options as AnySchema[]) visit(o, rest);
        return;
      case "array":
        if (typeof rest[0] === "number") visit(def.element as AnySchema, rest.slice(1));
        return;
      case "object": {
        const shape = def.shape as Record<string, AnySchema>;
        if (rest.length === 0) for (const k of Object.keys(shape)) keys.add(k);
        else if (typeof rest[0] === "string" && shape[rest[0]]) visit(shape[rest[0]]!, rest.slice(1));
        return;
      }
    }
  };
  visit(schema as AnySchema, path);
  return [...keys];
}

/** ` (did you mean "x"?)` for an unknown key near a known one, else "". */
export function unknownKeyHint(schema: z.ZodType, parent: readonly (string | number)[], key: string): string {
  const c = closest(schemaKeysAt(schema, parent), key);
  return c ? ` (did you mean ${c}?)` : "";
}
