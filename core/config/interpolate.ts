// ${VAR} and ${VAR:-default} in string values, so secrets stay out of the YAML files; $$ is a literal $.
import type { ConfigIssue } from "../errors.js";
import { formatKeyPath } from "./key-path.js";

const PATTERN = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolateString(value: string, env: NodeJS.ProcessEnv): { value: string; missing: string[] } {
  const missing: string[] = [];
  const out = value.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === "$$") return "$";
    const v = env[name!];
    if (v !== undefined && v !== "") return v;
    if (fallback !== undefined) return fallback;
    if (v === undefined) missing.push(name!);
    return "";
  });
  return { value: out, missing };
}

/** Interpolate every string in a parsed YAML tree; unset variables without a default become issues. */
export function interpolateTree(
  node: unknown,
  env: NodeJS.ProcessEnv,
  file: string,
  path: (string | number)[] = [],
  issues: ConfigIssue[] = [],
): { value: unknown; issues: ConfigIssue[] } {
  if (typeof node === "string") {
    const r = interpolateString(node, env);
    for (const name of r.missing) {
      issues.push({ file, path: formatKeyPath(path), message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` });
    }
    return { value: r.value, issues };
  }
  if (Array.isArray(node)) {
    return { value: node.map((v, i) => interpolateTree(v, env, file, [...path, i], issues).value), issues };
  }
  if (node && typeof node === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = interpolateTree(v, env, file, [...path, k], issues).value;
    return { value: out, issues };
  }
  return { value: node, issues };
}
