// Upstream metadata names the files to download and publish (RPM <location href>, APT Filename:).
// It is untrusted: a path that leaves the repository root must never reach a URL or the filesystem.
import { ChantalError } from "../errors.js";

export class UnsafePathError extends ChantalError {
  constructor(
    readonly href: string,
    readonly reason: string,
    readonly base?: string,
  ) {
    const under = base ? ` (under xml:base ${JSON.stringify(base)})` : "";
    super(`unsafe location ${JSON.stringify(href)}${under} in upstream metadata: ${reason}`);
  }
}

export interface SafeLocationOptions {
  /** The repository's own URL: an absolute xml:base below it is accepted as a path inside the repository. */
  repoUrl?: string;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
// Control characters (NUL included) have no business in a file name and confuse URL parsers and logs.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Percent-decodes one segment for inspection only; a malformed escape stays as it is. */
function decodedForCheck(segment: string): string {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Refuses characters and forms that could change which file or host a path names. */
function assertPlainRelative(href: string, path: string): void {
  if (path.length === 0) throw new UnsafePathError(href, "it is empty");
  if (CONTROL.test(path)) throw new UnsafePathError(href, "it contains a control character");
  if (path.includes("\\")) throw new UnsafePathError(href, "it contains a backslash");
  if (path.startsWith("//")) throw new UnsafePathError(href, "it names another host");
  if (path.startsWith("/")) throw new UnsafePathError(href, "it is an absolute path");
  const firstSegment = path.split("/", 1)[0] ?? "";
  if (SCHEME.test(firstSegment)) throw new UnsafePathError(href, "it is a URL (scheme or drive letter), not a path inside the repository");
}

/** Applies "." and ".." segments; a ".." above the root is refused, also when percent-encoded. */
function normaliseSegments(href: string, path: string): string[] {
  const out: string[] = [];
  for (const raw of path.split("/")) {
    const segment = decodedForCheck(raw);
    if (segment !== raw && /[/\\\u0000]/.test(segment)) throw new UnsafePathError(href, "it contains a percent-encoded slash, backslash or NUL");
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (raw !== "..") throw new UnsafePathError(href, "it contains a percent-encoded '..'");
      if (out.length === 0) throw new UnsafePathError(href, "it climbs out of the repository with '..'");
      out.pop();
      continue;
    }
    out.push(raw);
  }
  return out;
}

/** An absolute xml:base is accepted only when it points into the repository itself. */
function relativeBase(href: string, base: string, opts: SafeLocationOptions): string {
  const isUrl = SCHEME.test(base) || base.startsWith("//");
  if (!isUrl) return base;
  const root = opts.repoUrl ? (opts.repoUrl.endsWith("/") ? opts.repoUrl : `${opts.repoUrl}/`) : undefined;
  if (root && (base === root.slice(0, -1) || base.startsWith(root))) return base.slice(root.length);
  throw new UnsafePathError(href, "its xml:base points outside the repository");
}

function joinBase(base: string, href: string): string {
  if (base === "") return href;
  return base.endsWith("/") ? `${base}${href}` : `${base}/${href}`;
}

/**
 * The repository-relative path that `href` (optionally under `base`, RPM's xml:base) names,
 * normalised ("a/./b", "a//b", "a/../b" inside the root are fine), or UnsafePathError when it could
 * name anything outside the repository root: a ".." that climbs out, an absolute path, a URL or
 * another host, a backslash, a control character, or a percent-encoded dot segment or slash.
 */
export function safeLocation(href: string, base?: string, opts: SafeLocationOptions = {}): string {
  try {
    return normalisedLocation(href, base, opts);
  } catch (err) {
    if (err instanceof UnsafePathError && base) throw new UnsafePathError(href, err.reason, base);
    throw err;
  }
}

function normalisedLocation(href: string, base: string | undefined, opts: SafeLocationOptions): string {
  assertPlainRelative(href, href);
  let path = href;
  if (base !== undefined && base !== "") {
    const rel = relativeBase(href, base, opts);
    if (rel !== "") {
      assertPlainRelative(href, rel);
      path = joinBase(rel, href);
    }
  }
  if (path.endsWith("/")) throw new UnsafePathError(href, "it names a directory, not a file");
  const segments = normaliseSegments(href, path);
  if (segments.length === 0) throw new UnsafePathError(href, "it names the repository root, not a file");
  return segments.join("/");
}

/** Two entries of one published tree that cannot both exist: the same path twice, or a file where the other needs a directory. */
export interface PathConflict<T> {
  kind: "same path" | "file is a directory";
  /** For "file is a directory": the entry whose path is a directory of `second`'s path. */
  first: T;
  second: T;
}

/**
 * The first conflict among the paths (normalised by safeLocation) of the files of one tree, or undefined. Publishing
 * such a tree fails half-way with EEXIST/ENOTDIR (a package at repodata/repomd.xml, or at `a` beside `a/b.rpm`).
 * Entries for which `sameFile` says they are one file listed twice (the commit keeps one) are no conflict.
 */
export function findPathConflict<T>(
  entries: Iterable<T>,
  pathOf: (entry: T) => string,
  sameFile: (a: T, b: T) => boolean = () => false,
): PathConflict<T> | undefined {
  const byPath = new Map<string, T>();
  for (const e of entries) {
    const path = pathOf(e);
    const prev = byPath.get(path);
    if (prev !== undefined && !sameFile(prev, e)) return { kind: "same path", first: prev, second: e };
    byPath.set(path, e);
  }
  for (const [path, e] of byPath) {
    for (let slash = path.indexOf("/"); slash !== -1; slash = path.indexOf("/", slash + 1)) {
      const file = byPath.get(path.slice(0, slash));
      if (file !== undefined) return { kind: "file is a directory", first: file, second: e };
    }
  }
  return undefined;
}

/** The refusal of a conflict, naming both entries (`describe`) and what is refused ("metadata", "indices"). */
export function pathConflictMessage<T>(conflict: PathConflict<T>, describe: (entry: T) => string, repoId: string, refused: string): string {
  const [a, b] = [describe(conflict.first), describe(conflict.second)];
  const what = conflict.kind === "same path" ? `${b} has the same path as ${a}` : `${a} is a file where ${b} needs a directory`;
  return `repository ${repoId}: ${what}: refusing the upstream ${refused} (they cannot both be published)`;
}
