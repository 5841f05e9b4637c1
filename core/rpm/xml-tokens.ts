// A streaming XML tokenizer that keeps every token's exact text, so filtered metadata can copy elements verbatim.
// It only splits; well-formedness is checked by saxes beside it (rewrite-packages.ts). DOCTYPE is refused.
import { ChantalError } from "../errors.js";
import { LimitExceededError } from "../compress/decompress.js";

export class XmlRewriteError extends ChantalError {}

export type XmlTokenKind = "text" | "start" | "empty" | "end" | "comment" | "cdata" | "pi";

export interface XmlToken {
  kind: XmlTokenKind;
  /** The token exactly as it is in the document. */
  raw: string;
  /** Element name (start, empty, end), without a namespace prefix. */
  name?: string;
}

/** Whatever a token may be, it is never longer than this (a text node, a tag, a comment). */
export const DEFAULT_MAX_TOKEN_CHARS = 16 * 1024 * 1024;

function localName(qname: string): string {
  const colon = qname.indexOf(":");
  return colon === -1 ? qname : qname.slice(colon + 1);
}

const NAME_AT = /^<\/?([^\s/>]+)/;

/** The end of a tag starting at `from` (index of its `>`), skipping quoted attribute values; -1 when not in `s` yet. */
function tagEnd(s: string, from: number): number {
  let quote = "";
  for (let i = from; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") return i;
  }
  return -1;
}

export class XmlTokenizer {
  private buf = "";

  constructor(
    private readonly label: string,
    private readonly maxTokenChars = DEFAULT_MAX_TOKEN_CHARS,
  ) {}

  /** The complete tokens of what was fed so far; an unfinished one waits for the next chunk. */
  feed(chunk: string): XmlToken[] {
    this.buf += chunk;
    const out: XmlToken[] = [];
    let pos = 0;
    const s = this.buf;
    while (pos < s.length) {
      const next = this.tokenAt(s, pos);
      if (next === undefined) break;
      out.push(next.token);
      pos = next.end;
    }
    this.buf = s.slice(pos);
    if (this.buf.length > this.maxTokenChars) {
      throw new LimitExceededError(`${this.label}: a token longer than ${this.maxTokenChars} characters; refusing the document`, {
        limit: "maxTokenChars",
        max: this.maxTokenChars,
      });
    }
    return out;
  }

  /** The rest at the end of the input: only text may be left. */
  end(): XmlToken[] {
    const rest = this.buf;
    this.buf = "";
    if (rest === "") return [];
    if (rest.includes("<")) throw new XmlRewriteError(`${this.label}: the document ends inside a tag`);
    return [{ kind: "text", raw: rest }];
  }

  private tokenAt(s: string, pos: number): { token: XmlToken; end: number } | undefined {
    if (s[pos] !== "<") {
      const lt = s.indexOf("<", pos);
      // Text runs to the next tag; at the buffer's end it may continue in the next chunk.
      if (lt === -1) return undefined;
      return { token: { kind: "text", raw: s.slice(pos, lt) }, end: lt };
    }
    if (s.startsWith("<!--", pos)) return this.delimited(s, pos, "-->", "comment");
    if (s.startsWith("<![CDATA[", pos)) return this.delimited(s, pos, "]]>", "cdata");
    if (s.startsWith("<?", pos)) return this.delimited(s, pos, "?>", "pi");
    const rest = s.slice(pos, pos + 9);
    // "<!-" or "<![CDA" may become a comment or CDATA with the next chunk.
    if (rest.length < 9 && ("<![CDATA[".startsWith(rest) || "<!--".startsWith(rest))) return undefined;
    if (s.startsWith("<!", pos)) throw new XmlRewriteError(`${this.label}: a DOCTYPE or other declaration, which repository metadata never has; refusing it`);
    const gt = tagEnd(s, pos + 1);
    if (gt === -1) return undefined;
    const raw = s.slice(pos, gt + 1);
    const m = NAME_AT.exec(raw);
    if (!m) throw new XmlRewriteError(`${this.label}: malformed tag ${JSON.stringify(raw.slice(0, 60))}`);
    const name = localName(m[1]!);
    const kind: XmlTokenKind = raw.startsWith("</") ? "end" : raw.endsWith("/>") ? "empty" : "start";
    return { token: { kind, raw, name }, end: gt + 1 };
  }

  private delimited(s: string, pos: number, close: string, kind: XmlTokenKind): { token: XmlToken; end: number } | undefined {
    const at = s.indexOf(close, pos + 2);
    if (at === -1) return undefined;
    const end = at + close.length;
    return { token: { kind, raw: s.slice(pos, end) }, end };
  }
}

/** The attributes of a start or empty tag's raw text, values as written (entities not decoded). */
export function attributesOf(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  for (let m = re.exec(raw); m; m = re.exec(raw)) out.set(m[1]!, m[2] ?? m[3] ?? "");
  return out;
}

/** The predefined entities and character references of an attribute value or text. */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e === "amp") return "&";
    if (e === "lt") return "<";
    if (e === "gt") return ">";
    if (e === "quot") return '"';
    if (e === "apos") return "'";
    return String.fromCodePoint(e.startsWith("#x") ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

/** A start tag with one attribute set to `value` (replaced where it is, else added before the end). */
export function withAttribute(raw: string, name: string, value: string): string {
  const re = new RegExp(`(\\s${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*=\\s*)(?:"[^"]*"|'[^']*')`);
  if (re.test(raw)) return raw.replace(re, `$1"${value}"`);
  const end = raw.endsWith("/>") ? raw.length - 2 : raw.length - 1;
  return `${raw.slice(0, end)} ${name}="${value}"${raw.slice(end)}`;
}
