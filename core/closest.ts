// The candidate nearest to a mistyped word (edit distance), for "did you mean …?" hints.

/** Levenshtein distance between a and b (insert, delete, substitute each cost 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to word (case-insensitive), or undefined when none is near enough to be a typo:
 * at most a third of the word's length edited (and at least 1), so "rhel9" never suggests "debian12".
 */
export function closest(candidates: readonly string[], word: string): string | undefined {
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.floor(Math.max(w.length, 3) / 3));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    // A word that is a prefix or a suffix of the candidate (or the other way) is a likely abbreviation.
    const distance = c !== w && w.length >= 3 && (c.startsWith(w) || c.endsWith(w) || w.startsWith(c)) ? 1 : editDistance(c, w);
    if (distance <= limit && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** ` did you mean "x"?` (with a leading space) when a candidate is close, else "". */
export function didYouMean(candidates: readonly string[], word: string): string {
  const c = closest(candidates, word);
  return c === undefined ? "" : ` did you mean "${c}"?`;
}
