// Which index files of a suite to mirror for the configured components and architectures, which variant of
// each to parse, and the paths apt-get asks for (canonical and by-hash). Pure: Release in, plan out.
import { ChantalError } from "../errors.js";
import type { CompressionKind } from "../compress/decompress.js";
import type { Release, ReleaseFile } from "./release.js";

export class AptIndexError extends ChantalError {}

export type IndexKind = "packages" | "sources" | "extra";

export interface IndexTarget {
  kind: IndexKind;
  /** The uncompressed name relative to dists/<dist>/, e.g. "main/binary-amd64/Packages". */
  base: string;
  /** Every variant the Release lists (Packages, Packages.xz, ...). */
  variants: ReleaseFile[];
  /** The variant to parse (packages and sources only): must be fetched; the others are optional upstream. */
  parse?: ReleaseFile;
}

export interface AptSelection {
  components: readonly string[];
  architectures: readonly string[];
  includeSources: boolean;
}

/** Variants in the order we prefer to parse them: smallest download first among formats we decode. */
const PARSEABLE: [string, CompressionKind][] = [
  [".xz", "xz"],
  [".gz", "gz"],
  [".zst", "zst"],
  [".bz2", "bz2"],
  ["", "none"],
];
/** Variants mirrored verbatim for clients that prefer them, without being parsed. */
const MIRRORED_ONLY = [".lzma", ".lz4"];

export function compressionOf(path: string): CompressionKind {
  for (const [ext, kind] of PARSEABLE) if (ext !== "" && path.endsWith(ext)) return kind;
  return "none";
}

function listedVariants(release: Release, base: string): ReleaseFile[] {
  const out: ReleaseFile[] = [];
  for (const ext of [...PARSEABLE.map(([e]) => e), ...MIRRORED_ONLY]) {
    const f = release.files.get(`${base}${ext}`);
    if (f) out.push(f);
  }
  return out;
}

function parseableVariant(variants: ReleaseFile[], base: string): ReleaseFile | undefined {
  for (const [ext] of PARSEABLE) {
    const f = variants.find((v) => v.path === `${base}${ext}`);
    if (f) return f;
  }
  return undefined;
}

function describeListed(release: Release): string {
  const comps = release.components.length ? release.components.join(" ") : "none";
  const archs = release.architectures.length ? release.architectures.join(" ") : "none";
  return `the Release lists components ${comps} and architectures ${archs}`;
}

function indexTarget(release: Release, kind: "packages" | "sources", base: string, required: boolean, label: string): IndexTarget | undefined {
  const variants = listedVariants(release, base);
  const parse = parseableVariant(variants, base);
  if (!parse) {
    if (!required) return undefined;
    throw new AptIndexError(`${label} lists no ${base} (.xz, .gz, .bz2 or plain): check apt.components and apt.architectures (${describeListed(release)})`);
  }
  return { kind, base, variants, parse };
}

function extraTarget(release: Release, base: string): IndexTarget | undefined {
  const variants = listedVariants(release, base);
  return variants.length ? { kind: "extra", base, variants } : undefined;
}

/**
 * The index files to mirror: Packages of every component × architecture (required) and of binary-all
 * (when listed), Sources when include_sources (required), and beside them the per-directory Release
 * files and the English translations (optional: apt-get fetches Translation-en by default).
 */
export function planIndexTargets(release: Release, selection: AptSelection, label: string): IndexTarget[] {
  const targets: (IndexTarget | undefined)[] = [];
  const archs = [...new Set(selection.architectures)];
  for (const comp of selection.components) {
    for (const arch of archs) {
      targets.push(indexTarget(release, "packages", `${comp}/binary-${arch}/Packages`, arch !== "all", label));
      targets.push(extraTarget(release, `${comp}/binary-${arch}/Release`));
    }
    if (!archs.includes("all")) {
      targets.push(indexTarget(release, "packages", `${comp}/binary-all/Packages`, false, label));
      targets.push(extraTarget(release, `${comp}/binary-all/Release`));
    }
    if (selection.includeSources) {
      targets.push(indexTarget(release, "sources", `${comp}/source/Sources`, true, label));
      targets.push(extraTarget(release, `${comp}/source/Release`));
    }
    targets.push(extraTarget(release, `${comp}/i18n/Translation-en`));
  }
  return targets.filter((t): t is IndexTarget => t !== undefined);
}

function dirOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash + 1);
}

/** by-hash paths (relative to dists/<dist>/) apt-get may ask for: SHA256 always, SHA512 when the Release lists it. */
export function byHashPaths(file: ReleaseFile): string[] {
  const dir = dirOf(file.path);
  const out = [`${dir}by-hash/SHA256/${file.sha256}`];
  if (file.sha512) out.push(`${dir}by-hash/SHA512/${file.sha512}`);
  return out;
}
