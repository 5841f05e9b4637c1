// primary.xml: the package list of an RPM repository, parsed as a stream (saxes) into small batches (with a memo,
// unchanged <package> elements are taken from an earlier parse instead),
// so memory stays flat however large the document; limits stop documents built to exhaust it.
import { hash } from "node:crypto";
import { StringDecoder } from "node:string_decoder";
import { SaxesParser, type SaxesTagPlain } from "saxes";
import { AbortedError, ChantalError } from "../errors.js";
import { LimitExceededError } from "../compress/decompress.js";
import { checksumAlgo, localName, parseChecksum, withoutBom, type Checksum, type PlainXml } from "./repomd.js";

export class PrimaryParseError extends ChantalError {}

export interface PrimaryPackage {
  name: string;
  arch: string;
  epoch: number;
  version: string;
  release: string;
  checksum: Checksum;
  /** The checksum value (createrepo marks it pkgid="YES"): the package's identity in the other metadata files. */
  pkgid: string;
  /** Size of the .rpm file in bytes (<size package=…>). */
  size?: number;
  /** The href as upstream wrote it; pass it through safeLocation() before use. */
  location: string;
  /** xml:base of <location>, when present. */
  locationBase?: string;
  /** With `withDependencies`: rpm:provides, rpm:requires and the <file> entries of <format>. */
  deps?: PrimaryDeps;
}

/** One rpm:entry of rpm:provides or rpm:requires, as upstream wrote it. */
export interface RpmEntry {
  name: string;
  flags?: string;
  epoch?: string;
  ver?: string;
  rel?: string;
}

export interface PrimaryDeps {
  provides: RpmEntry[];
  requires: RpmEntry[];
  files: string[];
}

export interface PrimaryLimits {
  maxPackages: number;
  /** Longest text, attribute value, comment or tag, in characters. */
  maxTextLength: number;
  maxElements: number;
  maxDepth: number;
}

export const DEFAULT_PRIMARY_LIMITS: PrimaryLimits = {
  maxPackages: 2_000_000,
  maxTextLength: 1024 * 1024,
  // A large repository (EPEL) has ~150 elements per package (provides, requires, files).
  maxElements: 500_000_000,
  maxDepth: 64,
};

export interface ParsePrimaryOptions extends Partial<PrimaryLimits> {
  signal?: AbortSignal;
  /** Also collect provides, requires and files (a filter with with_dependencies); otherwise they are skipped. */
  withDependencies?: boolean;
  /** Names the file in error messages. */
  label?: string;
  /** Reuse what an earlier parse made of unchanged <package> elements, and record this one's (primary-memo.ts). */
  memo?: ElementMemo;
}

/** saxes is fed this much text at a time, which bounds what it buffers beyond one token. */
const WRITE_PIECE = 64 * 1024;

/**
 * One element as the parser made it: [elements it held, then the package's fields] or, for a <package> of another type
 * than rpm (skipped, as dnf does), only [elements]. Strings are copies, never slices of the parser's text.
 */
export type MemoRecord =
  | [elements: number]
  | [
      elements: number,
      name: string,
      arch: string,
      epoch: number,
      version: string,
      release: string,
      algo: string,
      value: string,
      location: string,
      size: number | null,
      base: string | null,
    ];

/** The memo's key of one element: its text's sha1. */
function memoKey(element: string): string {
  return hash("sha1", element, "base64");
}

function recordOf(pkg: PrimaryPackage | null, elements: number): MemoRecord {
  if (pkg === null) return [elements];
  // A JSON round trip copies the strings: the parser's are slices of its 64 KB pieces, which they would keep alive.
  return JSON.parse(
    JSON.stringify([
      elements,
      pkg.name,
      pkg.arch,
      pkg.epoch,
      pkg.version,
      pkg.release,
      pkg.checksum.algo,
      pkg.checksum.value,
      pkg.location,
      pkg.size ?? null,
      pkg.locationBase ?? null,
    ]),
  ) as MemoRecord;
}

/** The package of a record, or null for a skipped element. */
function packageOf(r: MemoRecord): PrimaryPackage | null {
  if (r.length === 1) return null;
  const [, name, arch, epoch, version, release, algo, value, location, size, base] = r;
  const pkg: PrimaryPackage = { name, arch, epoch, version, release, checksum: { algo: checksumAlgo(algo)!, value }, pkgid: value, location };
  if (size !== null) pkg.size = size;
  if (base !== null) pkg.locationBase = base;
  return pkg;
}

/** What a parse reuses and records, by memoKey (PackageMemo in primary-memo.ts keeps it between runs). */
export interface ElementMemo {
  get(key: string): MemoRecord | undefined;
  record(key: string, r: MemoRecord): void;
}

/** Elements directly inside <package> that we read; everything else (format, files, deps) is skipped. */
type Field = "name" | "arch" | "checksum" | "file";
const TEXT_FIELDS = new Set<string>(["name", "arch", "checksum"]);

interface PackageDraft {
  type?: string;
  name?: string;
  arch?: string;
  epoch?: string;
  version?: string;
  release?: string;
  checksumType?: string;
  checksum?: string;
  size?: string;
  location?: string;
  locationBase?: string;
  deps?: PrimaryDeps;
}

function invalid(label: string, message: string): PrimaryParseError {
  return new PrimaryParseError(`${label}: ${message}`);
}

// Whitespace and control characters (a newline in <name>) cannot be part of an rpm NEVRA: they would forge lines
// in logs and listings, and dnf could never ask for such a package.
const NOT_IN_NEVRA = /[\s\u0000-\u001f\u007f]/;

function describe(d: PackageDraft): string {
  if (!d.name) return "a <package>";
  const nevra = `${d.name}${d.version ? `-${d.version}` : ""}${d.release ? `-${d.release}` : ""}${d.arch ? `.${d.arch}` : ""}`;
  return `package ${NOT_IN_NEVRA.test(nevra) ? JSON.stringify(nevra) : nevra}`;
}

function required(label: string, d: PackageDraft, value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw invalid(label, `${describe(d)} has no ${what}`);
  return value;
}

function parseNonNegative(label: string, d: PackageDraft, text: string, what: string): number {
  if (!/^\d{1,15}$/.test(text)) throw invalid(label, `${describe(d)} has an invalid ${what} ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

/** rpm stores the epoch as a 32-bit integer, and so does the catalog (PostgreSQL integer). */
const MAX_EPOCH = 2_147_483_647;

function parseEpoch(label: string, d: PackageDraft, text: string): number {
  const epoch = parseNonNegative(label, d, text, "epoch");
  if (epoch > MAX_EPOCH) throw invalid(label, `${describe(d)} has an epoch ${text} larger than ${MAX_EPOCH} (rpm's epoch is a 32-bit number)`);
  return epoch;
}

function nevraPart(label: string, d: PackageDraft, value: string, what: string): string {
  if (NOT_IN_NEVRA.test(value)) throw invalid(label, `${describe(d)} has whitespace or a control character in ${what}: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

/** Strings may be slices of the parser's text: callers that keep packages copy them (parsePrimaryInWorker does). */
function finishPackage(label: string, d: PackageDraft): PrimaryPackage {
  const name = required(label, d, d.name, "<name>");
  const checksumText = required(label, d, d.checksum, "<checksum>");
  const checksum = parseChecksum(d.checksumType, checksumText, `${label}: ${describe(d)}`);
  const pkg: PrimaryPackage = {
    name: nevraPart(label, d, name, "<name>"),
    arch: nevraPart(label, d, required(label, d, d.arch, "<arch>"), "<arch>"),
    epoch: d.epoch === undefined || d.epoch === "" ? 0 : parseEpoch(label, d, d.epoch),
    version: nevraPart(label, d, required(label, d, d.version, "version (<version ver>)"), "<version ver>"),
    release: nevraPart(label, d, required(label, d, d.release, "release (<version rel>)"), "<version rel>"),
    checksum,
    pkgid: checksum.value,
    location: required(label, d, d.location, "<location href>"),
  };
  if (d.size !== undefined) pkg.size = parseNonNegative(label, d, d.size, "package size");
  if (d.locationBase !== undefined) pkg.locationBase = d.locationBase;
  if (d.deps) pkg.deps = d.deps;
  return pkg;
}

/** The SAX event handlers: turn <package> elements into PrimaryPackage objects in `ready`. */
class PrimaryReader {
  readonly ready: PrimaryPackage[] = [];
  packages = 0;
  elements = 0;
  /** Parser position at the last tag event: the distance from it is the size of the token being read. */
  lastEventAt = 0;
  /** Open elements: 1 between the packages of <metadata>. */
  depth = 0;
  private packageDepth = -1;
  private draft: PackageDraft | undefined;
  private field: Field | undefined;
  private text = "";
  /** Inside <format>'s rpm:provides or rpm:requires (withDependencies). */
  private depSection: "provides" | "requires" | undefined;

  constructor(
    private readonly label: string,
    private readonly limits: PrimaryLimits,
    private readonly withDependencies = false,
  ) {}

  open(tag: SaxesTagPlain, position: number): void {
    this.lastEventAt = position;
    this.depth++;
    if (++this.elements > this.limits.maxElements) this.overLimit("maxElements", this.limits.maxElements, "elements");
    if (this.depth > this.limits.maxDepth) this.overLimit("maxDepth", this.limits.maxDepth, "levels of nesting");
    const name = localName(tag.name);
    if (this.depth === 1) {
      if (name !== "metadata") throw invalid(this.label, `the root element is <${tag.name}>, not <metadata>: this is not a primary.xml`);
      return;
    }
    if (name === "package" && this.draft === undefined) return this.openPackage(tag);
    if (this.draft && this.depth === this.packageDepth + 1) this.openField(this.draft, name, tag);
    else if (this.draft?.deps && this.depth > this.packageDepth + 1) this.openDependency(this.draft.deps, name, tag);
  }

  /** <format> children: rpm:provides / rpm:requires (their rpm:entry one level down) and <file>. */
  private openDependency(deps: PrimaryDeps, name: string, tag: SaxesTagPlain): void {
    const level = this.depth - this.packageDepth;
    if (level === 2 && this.formatOpen) {
      if (name === "provides" || name === "requires") this.depSection = name;
      else if (name === "file") {
        this.field = "file";
        this.text = "";
      }
    } else if (level === 3 && this.depSection && name === "entry") {
      const a = tag.attributes;
      if (a.name === undefined || a.name === "") throw invalid(this.label, `${describe(this.draft!)} has an rpm:entry without a name`);
      const entry: RpmEntry = { name: a.name };
      if (a.flags !== undefined) entry.flags = a.flags;
      if (a.epoch !== undefined) entry.epoch = a.epoch;
      if (a.ver !== undefined) entry.ver = a.ver;
      if (a.rel !== undefined) entry.rel = a.rel;
      deps[this.depSection].push(entry);
    }
  }

  private formatOpen = false;

  private openPackage(tag: SaxesTagPlain): void {
    if (++this.packages > this.limits.maxPackages) this.overLimit("maxPackages", this.limits.maxPackages, "packages");
    this.draft = this.withDependencies ? { deps: { provides: [], requires: [], files: [] } } : {};
    if (tag.attributes.type !== undefined) this.draft.type = tag.attributes.type;
    this.packageDepth = this.depth;
  }

  private openField(d: PackageDraft, name: string, tag: SaxesTagPlain): void {
    const a = tag.attributes;
    if (name === "version") {
      d.epoch = a.epoch;
      d.version = a.ver;
      d.release = a.rel;
    } else if (name === "size") {
      d.size = a.package;
    } else if (name === "location") {
      d.location = a.href;
      if (a["xml:base"] !== undefined) d.locationBase = a["xml:base"];
    } else if (name === "format") {
      this.formatOpen = true;
    } else if (TEXT_FIELDS.has(name)) {
      if (name === "checksum") d.checksumType = a.type;
      this.field = name as Field;
      this.text = "";
    }
  }

  addText(text: string): void {
    if (this.field === undefined) return;
    this.text += text;
    if (this.text.length > this.limits.maxTextLength) this.overLimit("maxTextLength", this.limits.maxTextLength, "characters of text in one element");
  }

  close(tag: SaxesTagPlain, position: number): void {
    this.lastEventAt = position;
    if (this.draft && this.depth === this.packageDepth) this.closePackage(this.draft, tag);
    else if (this.draft && this.field !== undefined && this.field !== "file" && this.depth === this.packageDepth + 1) this.closeField(this.draft, this.field);
    else if (this.draft?.deps) this.closeDependency(this.draft.deps);
    this.depth--;
  }

  private closeDependency(deps: PrimaryDeps): void {
    const level = this.depth - this.packageDepth;
    if (level === 1) this.formatOpen = false;
    else if (level === 2 && this.field === "file") {
      deps.files.push(this.text.trim());
      this.field = undefined;
      this.text = "";
    } else if (level === 2) this.depSection = undefined;
  }

  private closeField(d: PackageDraft, field: Exclude<Field, "file">): void {
    d[field] = this.text.trim();
    this.field = undefined;
    this.text = "";
  }

  private closePackage(d: PackageDraft, tag: SaxesTagPlain): void {
    this.draft = undefined;
    this.packageDepth = -1;
    this.formatOpen = false;
    this.depSection = undefined;
    if (localName(tag.name) !== "package") throw invalid(this.label, "unbalanced <package> element");
    // Only RPM packages live in primary.xml; a different type is skipped as dnf (libsolv) does.
    if (d.type !== undefined && d.type !== "rpm") return;
    this.ready.push(finishPackage(this.label, d));
  }

  /** Inside a <package> element. */
  get inPackage(): boolean {
    return this.draft !== undefined;
  }

  /** A <package> element an earlier parse read: counted against the limits as if it were read again. */
  reuse(r: MemoRecord): void {
    if (++this.packages > this.limits.maxPackages) this.overLimit("maxPackages", this.limits.maxPackages, "packages");
    this.elements += r[0];
    if (this.elements > this.limits.maxElements) this.overLimit("maxElements", this.limits.maxElements, "elements");
    const pkg = packageOf(r);
    if (pkg) this.ready.push(pkg);
  }

  overLimit(limit: keyof PrimaryLimits, max: number, what: string): never {
    throw new LimitExceededError(`${this.label}: more than ${max} ${what} (limit ${limit}); refusing the document`, { limit, max });
  }
}

function resolveLimits(opts: ParsePrimaryOptions): PrimaryLimits {
  return {
    maxPackages: opts.maxPackages ?? DEFAULT_PRIMARY_LIMITS.maxPackages,
    maxTextLength: opts.maxTextLength ?? DEFAULT_PRIMARY_LIMITS.maxTextLength,
    maxElements: opts.maxElements ?? DEFAULT_PRIMARY_LIMITS.maxElements,
    maxDepth: opts.maxDepth ?? DEFAULT_PRIMARY_LIMITS.maxDepth,
  };
}

function xmlError(label: string, err: unknown): unknown {
  if (err instanceof ChantalError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new PrimaryParseError(`${label}: not well-formed XML: ${detail}`, { cause: err });
}

/** Feeds text to saxes in bounded pieces and refuses any single token longer than the text limit. */
function feed(parser: SaxesParser<PlainXml>, reader: PrimaryReader, text: string, limits: PrimaryLimits): void {
  for (let i = 0; i < text.length; i += WRITE_PIECE) {
    parser.write(text.slice(i, i + WRITE_PIECE));
    // saxes buffers a token (text, tag, comment) until it ends: one without end must not grow without bound.
    if (parser.position - reader.lastEventAt > limits.maxTextLength + WRITE_PIECE) {
      reader.overLimit("maxTextLength", limits.maxTextLength, "characters without a tag (one text, tag or comment)");
    }
  }
}

/** Text held while looking for the end of a <package> element; a longer element is read without the memo. */
const MAX_ELEMENT_TEXT = 4 * 1024 * 1024;

const isXmlSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The newlines of `text`, so that saxes' line numbers in later errors stay those of the document. */
function newlinesOf(text: string): string {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return "\n".repeat(n);
}

/**
 * Feeds saxes like `feed`, except that each <package> element directly inside <metadata> whose exact text the memo
 * knows is taken from it instead of parsed again. The scan looks for the next "</package>"; each element parsed is
 * checked to have ended there, between packages, and anything else (a DTD, other content, an element the scan cut
 * wrongly) sends the rest of the document through saxes alone, so the packages are those a whole parse finds.
 */
class MemoFeeder {
  private mode: "prefix" | "packages" | "plain" = "prefix";
  private pending = "";
  /** Where in `pending` the search goes on: text already searched is not searched again with every piece. */
  private searched = 0;

  constructor(
    private readonly parser: SaxesParser<PlainXml>,
    private readonly reader: PrimaryReader,
    private readonly limits: PrimaryLimits,
    private readonly memo: ElementMemo,
  ) {}

  write(text: string): void {
    if (this.mode === "plain") return feed(this.parser, this.reader, text, this.limits);
    this.pending += text;
    if (this.mode === "prefix") this.prefix();
    if (this.mode === "packages") this.packages();
    if (this.pending.length > MAX_ELEMENT_TEXT) this.plain(); // (plain() empties it)
  }

  end(): void {
    if (this.mode !== "plain") this.plain();
  }

  private plain(): void {
    this.mode = "plain";
    const rest = this.pending;
    this.pending = "";
    feed(this.parser, this.reader, rest, this.limits);
  }

  /** Up to the first "<package": the XML declaration and <metadata>'s start tag, parsed. */
  private prefix(): void {
    const at = this.pending.indexOf("<package", this.searched);
    if (at === -1) {
      this.searched = Math.max(0, this.pending.length - "<package".length);
      return;
    }
    this.searched = 0;
    const head = this.pending.slice(0, at);
    this.pending = this.pending.slice(at);
    feed(this.parser, this.reader, head, this.limits);
    // Only under a plain <metadata>: entities a DTD declares would change what an element's text means.
    if (head.includes("<!") || this.reader.depth !== 1 || this.reader.elements !== 1) this.plain();
    else this.mode = "packages";
  }

  private packages(): void {
    const s = this.pending;
    let pos = 0;
    for (;;) {
      let start = pos;
      while (start < s.length && isXmlSpace(s.charCodeAt(start))) start++;
      if (s.length < start + 9) break; // more text needed to tell what comes next
      const c = s.charCodeAt(start + 8);
      if (!s.startsWith("<package", start) || !((isXmlSpace(c) || c === 0x3e) /* > */)) {
        this.pending = s.slice(pos);
        return this.plain(); // </metadata>, or anything else: saxes reads it as it is
      }
      const close = s.indexOf("</package>", Math.max(start, this.searched));
      if (close === -1) {
        this.searched = Math.max(0, s.length - "</package>".length - pos);
        break;
      }
      this.searched = 0;
      const stop = close + "</package>".length;
      if (start > pos) this.parser.write(s.slice(pos, start));
      pos = stop;
      if (!this.element(s.slice(start, stop))) {
        this.pending = s.slice(pos);
        return this.plain();
      }
    }
    this.pending = s.slice(pos);
  }

  /** One element; false when parsing it did not end between packages (the scan's "</package>" was not its end). */
  private element(text: string): boolean {
    const key = memoKey(text);
    const known = this.memo.get(key);
    if (known !== undefined) {
      this.reader.reuse(known);
      this.parser.write(newlinesOf(text));
      return true;
    }
    const before = { packages: this.reader.packages, ready: this.reader.ready.length, elements: this.reader.elements };
    feed(this.parser, this.reader, text, this.limits);
    if (this.reader.depth !== 1 || this.reader.inPackage) return false;
    const made = this.reader.ready.length - before.ready;
    if (this.reader.packages === before.packages + 1 && made <= 1) {
      this.memo.record(key, recordOf(made === 1 ? this.reader.ready.at(-1)! : null, this.reader.elements - before.elements));
    }
    return true;
  }
}

function createParser(label: string, reader: PrimaryReader): SaxesParser<PlainXml> {
  const parser = new SaxesParser<PlainXml>({ xmlns: false, fileName: label });
  parser.on("opentag", (tag) => reader.open(tag, parser.position));
  parser.on("closetag", (tag) => reader.close(tag, parser.position));
  parser.on("text", (text) => reader.addText(text));
  parser.on("cdata", (text) => reader.addText(text));
  return parser;
}

/**
 * Stream-parses primary.xml (decompressed bytes, e.g. from decompressIterable) and yields its packages.
 * The input is read only as fast as packages are consumed; limits throw LimitExceededError, malformed
 * XML or packages PrimaryParseError, an md5 or missing checksum ChecksumRefusedError.
 */
export async function* parsePrimary(input: AsyncIterable<Uint8Array | string>, opts: ParsePrimaryOptions = {}): AsyncGenerator<PrimaryPackage> {
  const label = opts.label ?? "primary.xml";
  const limits = resolveLimits(opts);
  const reader = new PrimaryReader(label, limits, opts.withDependencies);
  const parser = createParser(label, reader);
  const decoder = new StringDecoder("utf8");
  const memo = opts.memo && !opts.withDependencies ? new MemoFeeder(parser, reader, limits, opts.memo) : undefined;
  let first = true;
  for await (const chunk of input) {
    if (opts.signal?.aborted) throw new AbortedError(`${label}: parsing interrupted`);
    let text = typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
    if (first && text.length > 0) {
      text = withoutBom(text);
      first = false;
    }
    try {
      if (memo) memo.write(text);
      else feed(parser, reader, text, limits);
    } catch (err) {
      throw xmlError(label, err);
    }
    yield* reader.ready.splice(0);
  }
  try {
    if (memo) {
      memo.write(decoder.end());
      memo.end();
    } else feed(parser, reader, decoder.end(), limits);
    if (reader.elements === 0) throw invalid(label, "the document is empty: it has no root element");
    parser.close();
  } catch (err) {
    throw xmlError(label, err);
  }
  yield* reader.ready.splice(0);
}
