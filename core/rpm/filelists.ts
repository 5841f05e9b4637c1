// filelists.xml read for file dependencies only: the paths some package requires, by the packages that ship them.
import { StringDecoder } from "node:string_decoder";
import { SaxesParser } from "saxes";
import { LimitExceededError } from "../compress/decompress.js";
import { ChantalError } from "../errors.js";
import { localName, withoutBom, type PlainXml } from "./repomd.js";

export class FilelistsParseError extends ChantalError {}

const MAX_PATH_CHARS = 64 * 1024;
const MAX_DEPTH = 64;

/**
 * A copy that shares no memory with `s`: saxes' attribute values and texts are slices of the chunk they were read
 * from, and a slice kept in the result would keep that whole chunk (64 KB of filelists) alive.
 */
function ownCopy(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}

/** For each pkgid (lower-case) the paths among `wanted` it ships; every other path is not kept. */
export async function filesProviding(input: AsyncIterable<Uint8Array | string>, wanted: ReadonlySet<string>, label: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const parser = new SaxesParser<PlainXml>({ xmlns: false, fileName: label });
  let depth = 0;
  let pkgid: string | undefined;
  let inFile = false;
  let text = "";
  parser.on("opentag", (tag) => {
    if (++depth > MAX_DEPTH)
      throw new LimitExceededError(`${label}: more than ${MAX_DEPTH} levels of nesting; refusing it`, { limit: "maxDepth", max: MAX_DEPTH });
    const name = localName(tag.name);
    if (depth === 1 && name !== "filelists") throw new FilelistsParseError(`${label}: the root element is <${tag.name}>, not <filelists>`);
    if (depth === 2 && name === "package") pkgid = tag.attributes.pkgid?.trim().toLowerCase();
    if (depth === 3 && name === "file" && pkgid) {
      inFile = true;
      text = "";
    }
  });
  parser.on("text", (t) => {
    if (!inFile) return;
    text += t;
    if (text.length > MAX_PATH_CHARS)
      throw new LimitExceededError(`${label}: a <file> longer than ${MAX_PATH_CHARS} characters`, { limit: "maxPath", max: MAX_PATH_CHARS });
  });
  parser.on("closetag", () => {
    if (inFile && depth === 3) {
      inFile = false;
      const path = text.trim();
      if (pkgid && wanted.has(path)) {
        const list = out.get(pkgid);
        if (list) list.push(ownCopy(path));
        else out.set(ownCopy(pkgid), [ownCopy(path)]);
      }
    }
    if (depth === 2) pkgid = undefined;
    depth--;
  });
  const decoder = new StringDecoder("utf8");
  let first = true;
  try {
    for await (const chunk of input) {
      let s = typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
      if (first && s) {
        s = withoutBom(s);
        first = false;
      }
      parser.write(s);
    }
    parser.write(decoder.end()).close();
  } catch (err) {
    if (err instanceof ChantalError) throw err;
    throw new FilelistsParseError(`${label}: not well-formed XML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return out;
}
