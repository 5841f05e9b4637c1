// Memory: strings kept for every package of a 100,000-package repository must not pin larger ones.

/**
 * A fresh, flat copy of a string. A parser's slices keep their whole source text alive, and a template
 * literal is a rope of several heap objects; a flat copy is one small object.
 */
export function flatCopy(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}
