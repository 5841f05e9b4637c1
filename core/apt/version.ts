// Debian version ordering: a port of dpkg's verrevcmp() (lib/dpkg/version.c) and the epoch:upstream-revision split.
import { ChantalError } from "../errors.js";

export type Order = -1 | 0 | 1;

export class DebianVersionError extends ChantalError {}

export interface DebianVersion {
  epoch: number;
  /** The upstream part (dpkg's "version"). */
  version: string;
  /** The Debian revision after the last '-', or "" for a native package. */
  release: string;
}

/** Splits "epoch:upstream-revision"; the epoch must be a number, the upstream part must not be empty. */
export function parseDebianVersion(text: string): DebianVersion {
  const s = text.trim();
  if (s === "" || /\s/.test(s))
    throw new DebianVersionError(`invalid Debian version ${JSON.stringify(text)}: ${s === "" ? "it is empty" : "it contains whitespace"}`);
  const colon = s.indexOf(":");
  let epoch = 0;
  let rest = s;
  if (colon !== -1) {
    const e = s.slice(0, colon);
    if (!/^\d{1,9}$/.test(e)) throw new DebianVersionError(`invalid Debian version ${JSON.stringify(text)}: the epoch is not a number`);
    epoch = Number(e);
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf("-");
  const version = dash === -1 ? rest : rest.slice(0, dash);
  const release = dash === -1 ? "" : rest.slice(dash + 1);
  if (version === "") throw new DebianVersionError(`invalid Debian version ${JSON.stringify(text)}: the upstream version is empty`);
  return { epoch, version, release };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** dpkg's order(): ~ before the end, the end and digits next, then letters, then everything else. */
function order(c: number): number {
  if (c === -1 || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 0x7e) return -1;
  return c + 256;
}

function at(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : -1;
}

function sign(n: number): Order {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** dpkg's verrevcmp on one part (upstream version or revision): 1 if a is newer, -1 if b is newer. */
export function verrevcmp(a: string, b: string): Order {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(at(a, i))) || (j < b.length && !isDigit(at(b, j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return sign(ac - bc);
      i++;
      j++;
    }
    while (at(a, i) === 0x30) i++;
    while (at(b, j) === 0x30) j++;
    let firstDiff = 0;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (!firstDiff) firstDiff = at(a, i) - at(b, j);
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff) return sign(firstDiff);
  }
  return 0;
}

/** Epoch numerically, then upstream version, then revision, as dpkg --compare-versions. */
export function compareDebianParts(a: DebianVersion, b: DebianVersion): Order {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? 1 : -1;
  return verrevcmp(a.version, b.version) || verrevcmp(a.release, b.release);
}

export function compareDebianVersions(a: string, b: string): Order {
  return compareDebianParts(parseDebianVersion(a), parseDebianVersion(b));
}

/** "epoch:version-revision" as dpkg prints it (no zero epoch, no empty revision). */
export function formatDebianVersion(v: DebianVersion): string {
  return `${v.epoch ? `${v.epoch}:` : ""}${v.version}${v.release ? `-${v.release}` : ""}`;
}
