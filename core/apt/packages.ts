// Packages and Sources indices, parsed as a stream of deb822 paragraphs (one held at a time) from any
// compression; limits stop decompression bombs and gigantic documents.
import { ChantalError } from "../errors.js";
import { decompressIterable, type CompressionKind, type DeclaredSize } from "../compress/decompress.js";
import { readStanzas, type Paragraph, type Stanza, type StanzaLimits } from "./deb822.js";
import { parseDebianVersion, type DebianVersion } from "./version.js";

export class PackagesParseError extends ChantalError {}

export interface DebPackage extends DebianVersion {
  name: string;
  arch: string;
  /** Debian version string as upstream wrote it. */
  fullVersion: string;
  /** The path as upstream wrote it; pass it through safeLocation() before use. */
  filename: string;
  size: number;
  sha256: string;
}

export interface SourceFile {
  /** Directory + "/" + file name, as upstream wrote them; pass it through safeLocation() before use. */
  filename: string;
  size: number;
  sha256: string;
}

export interface SourcePackage extends DebianVersion {
  name: string;
  fullVersion: string;
  files: SourceFile[];
}

export interface IndexReadOptions extends Partial<StanzaLimits> {
  compression: CompressionKind;
  /** More decompressed bytes than this fail. */
  maxOutputBytes: number;
  /** The Release's size of the uncompressed variant: more decompressed bytes stop at once. */
  declared?: DeclaredSize;
  label: string;
  signal?: AbortSignal;
}

/** Debian main amd64 Packages is ~50 MB uncompressed; a bomb is refused long before memory runs out. */
export const MAX_INDEX_BYTES = 2 * 1024 * 1024 * 1024;
/** Debian main has ~65,000 binary packages per architecture. */
export const MAX_INDEX_PACKAGES = 1_000_000;

const PACKAGE_FIELDS = new Set(["package", "version", "architecture", "filename", "size", "sha256"]);
const SOURCE_FIELDS = new Set(["package", "version", "directory", "checksums-sha256"]);

function describe(f: Paragraph): string {
  const name = f.get("package");
  if (!name) return "a paragraph";
  const version = f.get("version");
  const arch = f.get("architecture");
  return `package ${name}${version ? ` ${version}` : ""}${arch ? ` (${arch})` : ""}`;
}

function fail(label: string, s: Stanza, problem: string): PackagesParseError {
  return new PackagesParseError(`${label}: ${describe(s.fields)} at line ${s.line} ${problem}`);
}

function requireField(label: string, s: Stanza, name: string, display: string): string {
  const v = s.fields.get(name);
  if (v === undefined || v === "") throw fail(label, s, `has no ${display} field`);
  return v;
}

/** A package or architecture name is one word: a continuation line would smuggle a newline into it (and into logs). */
function requireWord(label: string, s: Stanza, name: string, display: string): string {
  const v = requireField(label, s, name, display);
  if (/[\s\u0000-\u001f\u007f]/.test(v))
    throw new PackagesParseError(
      `${label}: the paragraph at line ${s.line} has whitespace or a control character in its ${display} ${JSON.stringify(v.slice(0, 80))}`,
    );
  return v;
}

function parseSize(label: string, s: Stanza, text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw fail(label, s, `has an invalid Size ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

function parseSha256(label: string, s: Stanza, text: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw fail(label, s, `has a malformed SHA256 ${JSON.stringify(text.slice(0, 80))}`);
  return text.toLowerCase();
}

function versionOf(label: string, s: Stanza): { full: string; parts: DebianVersion } {
  const full = requireField(label, s, "version", "Version");
  try {
    return { full, parts: parseDebianVersion(full) };
  } catch (err) {
    throw fail(label, s, `has an ${(err as Error).message}`);
  }
}

/** One binary package; a paragraph without SHA256 or Size is an error naming the package. */
export function debPackageOf(label: string, s: Stanza): DebPackage {
  const name = requireWord(label, s, "package", "Package");
  const { full, parts } = versionOf(label, s);
  return {
    name,
    ...parts,
    fullVersion: full,
    arch: requireWord(label, s, "architecture", "Architecture"),
    filename: requireField(label, s, "filename", "Filename"),
    size: parseSize(label, s, requireField(label, s, "size", "Size")),
    sha256: parseSha256(label, s, requireField(label, s, "sha256", "SHA256")),
  };
}

/** One source package with every file of its Checksums-Sha256 field. */
export function sourcePackageOf(label: string, s: Stanza): SourcePackage {
  const name = requireWord(label, s, "package", "Package");
  const { full, parts } = versionOf(label, s);
  const directory = requireField(label, s, "directory", "Directory");
  const list = requireField(label, s, "checksums-sha256", "Checksums-Sha256");
  const files: SourceFile[] = [];
  for (const raw of list.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const m = /^(\S+)\s+(\S+)\s+(\S+)$/.exec(line);
    if (!m) throw fail(label, s, `has a malformed Checksums-Sha256 line ${JSON.stringify(line.slice(0, 120))}`);
    files.push({ filename: `${directory}/${m[3]}`, size: parseSize(label, s, m[2]!), sha256: parseSha256(label, s, m[1]!) });
  }
  if (files.length === 0) throw fail(label, s, "lists no files in Checksums-Sha256");
  return { name, ...parts, fullVersion: full, files };
}

async function* indexStanzas(source: AsyncIterable<Uint8Array>, opts: IndexReadOptions, fields: ReadonlySet<string>, keepText = false): AsyncGenerator<Stanza> {
  const text = decompressIterable(source, opts.compression, {
    maxOutputBytes: opts.maxOutputBytes,
    label: opts.label,
    ...(opts.declared ? { declared: opts.declared } : {}),
  });
  yield* readStanzas(text, {
    label: opts.label,
    fields,
    keepText,
    maxStanzas: opts.maxStanzas ?? MAX_INDEX_PACKAGES,
    ...(opts.maxStanzaChars !== undefined ? { maxStanzaChars: opts.maxStanzaChars } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}

/** The binary packages of a Packages index (.xz, .gz, .bz2 or plain), one at a time. */
export async function* parsePackagesIndex(source: AsyncIterable<Uint8Array>, opts: IndexReadOptions): AsyncGenerator<DebPackage> {
  for await (const s of indexStanzas(source, opts, PACKAGE_FIELDS)) yield debPackageOf(opts.label, s);
}

/** The source packages of a Sources index, one at a time. */
export async function* parseSourcesIndex(source: AsyncIterable<Uint8Array>, opts: IndexReadOptions): AsyncGenerator<SourcePackage> {
  for await (const s of indexStanzas(source, opts, SOURCE_FIELDS)) yield sourcePackageOf(opts.label, s);
}

export interface StanzaReadOptions extends IndexReadOptions {
  /** Fields read beside the ones every package needs (lower case), e.g. "depends". */
  extraFields?: readonly string[];
  /** Return each paragraph's text as read (a filtered index is rewritten from it). */
  keepText?: boolean;
}

/** The binary packages of a Packages index with their paragraphs (extra fields, text): what a filtered sync reads. */
export async function* readPackagesStanzas(source: AsyncIterable<Uint8Array>, opts: StanzaReadOptions): AsyncGenerator<{ pkg: DebPackage; stanza: Stanza }> {
  const fields = new Set([...PACKAGE_FIELDS, ...(opts.extraFields ?? [])]);
  for await (const s of indexStanzas(source, opts, fields, opts.keepText)) yield { pkg: debPackageOf(opts.label, s), stanza: s };
}

/** The source packages of a Sources index with their paragraphs. */
export async function* readSourcesStanzas(source: AsyncIterable<Uint8Array>, opts: StanzaReadOptions): AsyncGenerator<{ pkg: SourcePackage; stanza: Stanza }> {
  const fields = new Set([...SOURCE_FIELDS, ...(opts.extraFields ?? [])]);
  for await (const s of indexStanzas(source, opts, fields, opts.keepText)) yield { pkg: sourcePackageOf(opts.label, s), stanza: s };
}
