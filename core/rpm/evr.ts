// RPM version ordering: a port of rpm's rpmvercmp() (rpmio/rpmvercmp.c) and an EVR compare on top of it.

export type Order = -1 | 0 | 1;

export interface Evr {
  /** Missing or null means 0, as in rpm. */
  epoch?: number | null;
  version: string;
  release?: string | null;
}

// rpm classifies with its own ASCII-only risdigit/risalpha, never the locale: so do we.
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

const TILDE = 0x7e;
const CARET = 0x5e;

/** Characters that are neither alnum nor ~ nor ^ only separate segments. */
function isSeparator(c: number): boolean {
  return !isDigit(c) && !isAlpha(c) && c !== TILDE && c !== CARET;
}

/** Char code at i, or -1 past the end (the C code's NUL). */
function at(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : -1;
}

function skipSeparators(s: string, i: number): number {
  while (i < s.length && isSeparator(s.charCodeAt(i))) i++;
  return i;
}

function segmentEnd(s: string, i: number, numeric: boolean): number {
  const inSegment = numeric ? isDigit : isAlpha;
  while (i < s.length && inSegment(s.charCodeAt(i))) i++;
  return i;
}

function sign(n: number): Order {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Numeric segments compare as numbers of any length: strip leading zeros, then longer wins, then digit by digit. */
function compareNumeric(a: string, b: string): Order {
  const x = a.replace(/^0+/, "");
  const y = b.replace(/^0+/, "");
  if (x.length !== y.length) return x.length > y.length ? 1 : -1;
  return x === y ? 0 : x > y ? 1 : -1;
}

/** rpm's rpmvercmp: 1 if a is newer, -1 if b is newer, 0 if they sort the same. */
export function rpmvercmp(a: string, b: string): Order {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    i = skipSeparators(a, i);
    j = skipSeparators(b, j);
    const ca = at(a, i);
    const cb = at(b, j);

    // ~ sorts before everything, even the end of the string (1.0~rc1 < 1.0).
    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }

    // ^ sorts after the end of the string (1.0^git1 > 1.0) but before anything else (1.0^git1 < 1.01).
    if (ca === CARET || cb === CARET) {
      if (ca === -1) return -1;
      if (cb === -1) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }

    if (ca === -1 || cb === -1) break;

    const numeric = isDigit(ca);
    const endA = segmentEnd(a, i, numeric);
    const endB = segmentEnd(b, j, numeric);
    // Segments of different types: numeric is newer than alpha.
    if (endB === j) return numeric ? 1 : -1;
    const segA = a.slice(i, endA);
    const segB = b.slice(j, endB);
    const order = numeric ? compareNumeric(segA, segB) : sign(segA < segB ? -1 : segA > segB ? 1 : 0);
    if (order !== 0) return order;
    i = endA;
    j = endB;
  }
  // Every segment matched: only separators differed, or one string has more left.
  const restA = i < a.length;
  const restB = j < b.length;
  if (!restA && !restB) return 0;
  return restA ? 1 : -1;
}

function epochOf(e: Evr): number {
  return e.epoch ?? 0;
}

/** Epoch numerically, then version, then release with rpmvercmp (a missing release is the empty string). */
export function compareEvr(a: Evr, b: Evr): Order {
  const ea = epochOf(a);
  const eb = epochOf(b);
  if (ea !== eb) return ea > eb ? 1 : -1;
  const byVersion = rpmvercmp(a.version, b.version);
  if (byVersion !== 0) return byVersion;
  return rpmvercmp(a.release ?? "", b.release ?? "");
}

/** "E:V-R", leaving out a zero epoch, as rpm and dnf print it. */
export function formatEvr(e: Evr): string {
  const epoch = epochOf(e) ? `${epochOf(e)}:` : "";
  const release = e.release ? `-${e.release}` : "";
  return `${epoch}${e.version}${release}`;
}
