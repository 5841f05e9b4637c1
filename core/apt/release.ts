// A suite's Release (the signed payload of InRelease): its fields, the SHA256 list of index files,
// Acquire-By-Hash, Date and Valid-Until, and the checks of its dates against our clock and the last synced Release.
import { formatLocalTimeWithZone } from "../local-time.js";
import { ChantalError } from "../errors.js";
import { parseParagraphs } from "./deb822.js";

export class ReleaseError extends ChantalError {}

/** Valid-Until is in the past: the upstream (or a replay of an old Release) is stale. */
export class ReleaseExpiredError extends ReleaseError {}

/** Date lies in the future beyond the clock-skew allowance (apt: "not valid yet"). */
export class ReleaseNotYetValidError extends ReleaseError {}

/** Date is older than the Release synced last: a replay that would freeze the mirror on old packages. */
export class ReleaseRollbackError extends ReleaseError {}

/** How far a Release's Date may lie ahead of our clock: clock skew between us and the archive, not more. */
export const MAX_RELEASE_FUTURE_MS = 5 * 60 * 1000;

export interface ReleaseFile {
  /** Path relative to dists/<dist>/, as the Release lists it. */
  path: string;
  size: number;
  sha256: string;
  /** Present when the Release also lists SHA512 (apt then asks for by-hash/SHA512/<hex>). */
  sha512?: string;
}

export interface Release {
  suite?: string;
  codename?: string;
  origin?: string;
  label?: string;
  date?: Date;
  validUntil?: Date;
  architectures: string[];
  components: string[];
  acquireByHash: boolean;
  /** Every file the SHA256 field lists, by path. */
  files: Map<string, ReleaseFile>;
  /** Every field, lower-case name -> value. */
  fields: Map<string, string>;
}

/** A Release larger than this is not one (Debian's main suites: ~0.2 MB). */
export const MAX_RELEASE_BYTES = 32 * 1024 * 1024;

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const RFC2822 = /^(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(UTC|GMT|UT|Z|[+-]\d{4})$/;

/** An RFC 2822 date as Release files write it ("Sat, 10 Jun 2023 08:48:49 UTC"); undefined when malformed. */
export function parseReleaseDate(text: string): Date | undefined {
  const m = RFC2822.exec(text.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month === -1) return undefined;
  const [day, year, hour, minute, second] = [m[1], m[3], m[4], m[5], m[6] ?? "0"].map(Number) as [number, number, number, number, number];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const zone = m[7]!;
  const offsetMinutes = /^[+-]/.test(zone) ? (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) : 0;
  return new Date(Date.UTC(year, month, day, hour, minute, second) - offsetMinutes * 60_000);
}

function words(value: string | undefined): string[] {
  return value ? value.split(/\s+/).filter(Boolean) : [];
}

function optionalDate(fields: Map<string, string>, name: string, label: string): Date | undefined {
  const value = fields.get(name.toLowerCase());
  if (value === undefined) return undefined;
  const date = parseReleaseDate(value);
  if (!date) throw new ReleaseError(`${label}: ${name} is not a valid date: ${JSON.stringify(value.slice(0, 60))}`);
  return date;
}

/** " <hex> <size> <path>" lines of a checksum field. */
function parseFileList(value: string, field: string, hexLength: number, label: string): Map<string, { hash: string; size: number }> {
  const out = new Map<string, { hash: string; size: number }>();
  for (const raw of value.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const m = /^([0-9A-Fa-f]+)\s+(\d{1,15})\s+(\S+)$/.exec(line);
    if (!m || m[1]!.length !== hexLength) throw new ReleaseError(`${label}: malformed ${field} line ${JSON.stringify(line.slice(0, 120))}`);
    out.set(m[3]!, { hash: m[1]!.toLowerCase(), size: Number(m[2]) });
  }
  return out;
}

/** Parses the text of a Release (for InRelease: the signed payload only). */
export function parseRelease(text: string, label = "Release"): Release {
  const paragraphs = parseParagraphs(text, label);
  if (paragraphs.length === 0) throw new ReleaseError(`${label} is empty`);
  const fields = paragraphs[0]!;
  const sha256 = fields.get("sha256");
  if (sha256 === undefined) throw new ReleaseError(`${label} lists no SHA256 checksums (MD5Sum and SHA1 alone are not accepted)`);
  const list = parseFileList(sha256, "SHA256", 64, label);
  const sha512 = fields.has("sha512") ? parseFileList(fields.get("sha512")!, "SHA512", 128, label) : new Map<string, { hash: string; size: number }>();
  const files = new Map<string, ReleaseFile>();
  for (const [path, { hash, size }] of list) {
    const strong = sha512.get(path);
    files.set(path, { path, size, sha256: hash, ...(strong && strong.size === size ? { sha512: strong.hash } : {}) });
  }
  const release: Release = {
    architectures: words(fields.get("architectures")),
    components: words(fields.get("components")),
    acquireByHash: (fields.get("acquire-by-hash") ?? "").toLowerCase() === "yes",
    files,
    fields,
  };
  for (const [key, name] of [
    ["suite", "suite"],
    ["codename", "codename"],
    ["origin", "origin"],
    ["label", "label"],
  ] as const) {
    const v = fields.get(name);
    if (v !== undefined) release[key] = v;
  }
  const date = optionalDate(fields, "Date", label);
  if (date) release.date = date;
  const validUntil = optionalDate(fields, "Valid-Until", label);
  if (validUntil) release.validUntil = validUntil;
  return release;
}

/** Refuses a Release whose Valid-Until has passed, as apt does. */
export function checkValidUntil(release: Release, now: Date, label: string): void {
  if (release.validUntil && now.getTime() > release.validUntil.getTime()) {
    throw new ReleaseExpiredError(
      `${label} has expired: Valid-Until ${formatLocalTimeWithZone(release.validUntil)} is in the past (upstream is stale, or serves an old Release)`,
    );
  }
}

function formatSpan(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} minute(s)`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} hour(s)` : `${Math.round(hours / 24)} day(s)`;
}

/** Refuses a Release dated further in the future than clock skew explains, as apt does ("not valid yet"). */
export function checkNotInFuture(release: Release, now: Date, label: string): void {
  if (!release.date) return;
  const ahead = release.date.getTime() - now.getTime();
  if (ahead > MAX_RELEASE_FUTURE_MS) {
    throw new ReleaseNotYetValidError(
      `${label} is not valid yet: its Date ${formatLocalTimeWithZone(release.date)} is ${formatSpan(ahead)} ahead of this host's clock (${formatLocalTimeWithZone(now)}; ` +
        `${formatSpan(MAX_RELEASE_FUTURE_MS)} of clock skew are allowed): check the clock of this host (NTP) and of the upstream`,
    );
  }
}

/**
 * Refuses a Release older than the one synced last (`previous`): a validly signed but replayed old Release
 * would keep the mirror on old, vulnerable packages. `allowed` (--allow-downgrade, verify.allow_rollback) accepts it.
 */
export function checkNotOlder(release: Release, previous: Date | undefined, opts: { label: string; repoId: string; allowed: boolean }): void {
  if (!release.date || !previous || opts.allowed) return;
  if (release.date.getTime() >= previous.getTime()) return;
  throw new ReleaseRollbackError(
    `${opts.label} is dated ${formatLocalTimeWithZone(release.date)}, older than the Release synced last (dated ${formatLocalTimeWithZone(previous)}): ` +
      `refusing to go back (an old Release replayed by a mirror or an attacker would freeze the mirror on old packages). ` +
      `If the upstream really went back, run "repo sync --repo-id ${opts.repoId} --allow-downgrade" once, or set verify.allow_rollback: true for the repository`,
  );
}
