// Package-name patterns of a filter: globs (`*`, `?`) or `re:` regular expressions, each matched against the whole name.

export type NameMatcher = (name: string) => boolean;

/** A glob as an anchored regular expression: `*` any run, `?` one character, everything else literal. */
function globSource(glob: string): string {
  let out = "";
  for (const c of glob) {
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else out += c.replace(/[\\^$.|+()[\]{}]/g, "\\$&");
  }
  return out;
}

/** One regular expression for a list of patterns; a `re:` pattern matches the whole name too (`^(?:...)$`). */
export function compilePatterns(patterns: readonly string[]): NameMatcher {
  if (patterns.length === 0) return () => false;
  const sources = patterns.map((p) => (p.startsWith("re:") ? `(?:${p.slice(3)})` : globSource(p)));
  const re = new RegExp(`^(?:${sources.join("|")})$`, "u");
  return (name) => re.test(name);
}
