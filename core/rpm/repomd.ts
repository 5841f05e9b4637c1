// repomd.xml: the index of an RPM repository's metadata files (<data type="primary"> and friends).
import { SaxesParser, type SaxesTagPlain } from "saxes";
import { ChantalError } from "../errors.js";
import { LimitExceededError } from "../compress/decompress.js";
import { CHECKSUM_HEX_LENGTH, type ChecksumAlgo } from "../checksum.js";

export class RepomdError extends ChantalError {}

/** A checksum that is missing, malformed or of an algorithm we do not trust (md5). */
export class ChecksumRefusedError extends ChantalError {}

export interface Checksum {
  algo: ChecksumAlgo;
  /** Lower-case hex. */
  value: string;
}

export interface RepomdData {
  type: string;
  /** The href as upstream wrote it; pass it through safeLocation() before use. */
  location: string;
  /** xml:base of <location>, when present. */
  locationBase?: string;
  checksum: Checksum;
  openChecksum?: Checksum;
  size?: number;
  openSize?: number;
  timestamp?: number;
}

export interface Repomd {
  revision?: string;
  data: RepomdData[];
}

/** createrepo writes "sha" for sha1 in old repositories; md5 and unknown names are refused. */
const ALGO_BY_TYPE: Record<string, ChecksumAlgo> = {
  sha: "sha1",
  sha1: "sha1",
  sha256: "sha256",
  sha384: "sha384",
  sha512: "sha512",
};

/** repomd.xml is a few kilobytes; anything near this is not one. */
export const MAX_REPOMD_BYTES = 16 * 1024 * 1024;

/** The algorithm for a checksum type attribute, or undefined when it is not one we accept. */
export function checksumAlgo(type: string | undefined): ChecksumAlgo | undefined {
  return type === undefined ? undefined : ALGO_BY_TYPE[type.trim().toLowerCase()];
}

/** Validates a declared checksum; `subject` names where it is for the error message. */
export function parseChecksum(type: string | undefined, text: string, subject: string): Checksum {
  if (type === undefined) throw new ChecksumRefusedError(`${subject} has a checksum without a type attribute`);
  const algo = checksumAlgo(type);
  if (algo === undefined && type.trim().toLowerCase() === "md5") throw new ChecksumRefusedError(`${subject} has an md5 checksum, which is not accepted`);
  if (algo === undefined) {
    throw new ChecksumRefusedError(`${subject} has a checksum of type ${JSON.stringify(type)}, which is not supported (sha1, sha256, sha384 and sha512 are)`);
  }
  const value = text.trim().toLowerCase();
  if (value.length !== CHECKSUM_HEX_LENGTH[algo] || !/^[0-9a-f]+$/.test(value)) {
    throw new ChecksumRefusedError(`${subject} has a malformed ${algo} checksum ${JSON.stringify(value.slice(0, 140))}`);
  }
  return { algo, value };
}

/** saxes options without namespace processing: tags carry plain attribute maps. */
export type PlainXml = { xmlns: false; fileName?: string; position?: boolean };

/** Strips a namespace prefix: libsolv matches element names the same way. */
export function localName(name: string): string {
  const colon = name.indexOf(":");
  return colon === -1 ? name : name.slice(colon + 1);
}

function parseCount(text: string, what: string): number {
  const t = text.trim();
  if (!/^\d{1,15}$/.test(t)) throw new RepomdError(`repomd.xml: ${what} is not a non-negative integer: ${JSON.stringify(t.slice(0, 40))}`);
  return Number(t);
}

/** Fields of one <data> while it is being read. */
interface DataDraft {
  type: string;
  location?: string;
  locationBase?: string;
  checksumType?: string;
  checksumText?: string;
  sawChecksum: boolean;
  openChecksumType?: string;
  openChecksumText?: string;
  size?: string;
  openSize?: string;
  timestamp?: string;
}

function subjectOf(d: DataDraft): string {
  return `repomd.xml: <data type="${d.type}">`;
}

function optionalOpenChecksum(d: DataDraft): Checksum | undefined {
  if (d.openChecksumText === undefined) return undefined;
  try {
    return parseChecksum(d.openChecksumType, d.openChecksumText, `${subjectOf(d)} <open-checksum>`);
  } catch {
    // open-checksum only describes the uncompressed file; nothing is verified against it, so a weak one is dropped, not fatal.
    return undefined;
  }
}

function finishData(d: DataDraft): RepomdData {
  const subject = subjectOf(d);
  if (!d.sawChecksum) throw new ChecksumRefusedError(`${subject} has no checksum, which is not accepted`);
  const checksum = parseChecksum(d.checksumType, d.checksumText ?? "", subject);
  if (d.location === undefined || d.location === "") throw new RepomdError(`${subject} has no <location href>`);
  const out: RepomdData = { type: d.type, location: d.location, checksum };
  if (d.locationBase !== undefined) out.locationBase = d.locationBase;
  const openChecksum = optionalOpenChecksum(d);
  if (openChecksum) out.openChecksum = openChecksum;
  if (d.size !== undefined) out.size = parseCount(d.size, `${subject} <size>`);
  if (d.openSize !== undefined) out.openSize = parseCount(d.openSize, `${subject} <open-size>`);
  if (d.timestamp !== undefined) out.timestamp = parseCount(d.timestamp.split(".")[0] ?? "", `${subject} <timestamp>`);
  return out;
}

/** Elements inside <data> whose text we keep. */
const TEXT_FIELDS = new Set(["checksum", "open-checksum", "size", "open-size", "timestamp"]);

class RepomdReader {
  readonly result: Repomd = { data: [] };
  private depth = 0;
  private draft: DataDraft | undefined;
  private field: string | undefined;
  private text = "";
  private inRevision = false;

  open(tag: SaxesTagPlain): void {
    this.depth++;
    const name = localName(tag.name);
    if (this.depth === 1 && name !== "repomd") throw new RepomdError(`repomd.xml: the root element is <${tag.name}>, not <repomd>`);
    if (this.depth === 2) this.openTopLevel(name, tag);
    else if (this.depth === 3 && this.draft) this.openDataField(name, tag);
  }

  private openTopLevel(name: string, tag: SaxesTagPlain): void {
    if (name === "revision") {
      this.inRevision = true;
      this.text = "";
    } else if (name === "data") {
      const type = tag.attributes.type;
      if (!type) throw new RepomdError("repomd.xml: a <data> element has no type attribute");
      if (this.result.data.some((d) => d.type === type)) throw new RepomdError(`repomd.xml: <data type="${type}"> appears twice`);
      this.draft = { type, sawChecksum: false };
    }
  }

  private openDataField(name: string, tag: SaxesTagPlain): void {
    const d = this.draft!;
    if (name === "location") {
      d.location = tag.attributes.href;
      if (tag.attributes["xml:base"] !== undefined) d.locationBase = tag.attributes["xml:base"];
      return;
    }
    if (name === "checksum") {
      d.sawChecksum = true;
      d.checksumType = tag.attributes.type;
    } else if (name === "open-checksum") {
      d.openChecksumType = tag.attributes.type;
    }
    if (TEXT_FIELDS.has(name)) {
      this.field = name;
      this.text = "";
    }
  }

  addText(text: string): void {
    if (this.field !== undefined || this.inRevision) this.text += text;
  }

  close(tag: SaxesTagPlain): void {
    const name = localName(tag.name);
    if (this.depth === 2 && name === "revision" && this.inRevision) {
      this.result.revision = this.text.trim();
      this.inRevision = false;
    } else if (this.depth === 2 && name === "data" && this.draft) {
      this.result.data.push(finishData(this.draft));
      this.draft = undefined;
    } else if (this.depth === 3 && this.field !== undefined && this.draft) {
      this.storeField(this.draft, this.field, this.text);
      this.field = undefined;
    }
    this.depth--;
  }

  private storeField(d: DataDraft, field: string, text: string): void {
    if (field === "checksum") d.checksumText = text;
    else if (field === "open-checksum") d.openChecksumText = text;
    else if (field === "size") d.size = text;
    else if (field === "open-size") d.openSize = text;
    else if (field === "timestamp") d.timestamp = text;
  }
}

export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Parses repomd.xml; refuses md5 or missing checksums, naming the <data> type. */
export function parseRepomd(xml: string | Buffer): Repomd {
  if (xml.length > MAX_REPOMD_BYTES) {
    throw new LimitExceededError(`repomd.xml is larger than ${MAX_REPOMD_BYTES} bytes`, { limit: "maxRepomdBytes", max: MAX_REPOMD_BYTES });
  }
  const reader = new RepomdReader();
  const parser = new SaxesParser<PlainXml>({ xmlns: false, fileName: "repomd.xml" });
  parser.on("opentag", (tag) => reader.open(tag));
  parser.on("closetag", (tag) => reader.close(tag));
  parser.on("text", (text) => reader.addText(text));
  parser.on("cdata", (text) => reader.addText(text));
  try {
    parser.write(withoutBom(typeof xml === "string" ? xml : xml.toString("utf8"))).close();
  } catch (err) {
    if (err instanceof ChantalError) throw err;
    throw new RepomdError(`repomd.xml is not well-formed XML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return reader.result;
}
