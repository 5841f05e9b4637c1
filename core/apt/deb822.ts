// deb822 (Debian control) text: "Field: value" lines, continuation lines starting with a space or tab,
// paragraphs separated by blank lines. Field names are case-insensitive; we key them in lower case.
import { StringDecoder } from "node:string_decoder";
import { AbortedError, ChantalError } from "../errors.js";
import { LimitExceededError } from "../compress/decompress.js";

export class Deb822Error extends ChantalError {}

/** One paragraph: lower-cased field name -> value (continuation lines joined with "\n", first line trimmed). */
export type Paragraph = Map<string, string>;

const FIELD = /^([!-9;-~][!-9;-~]*)[ \t]*:(.*)$/;

/** dpkg refuses a paragraph with a field twice ("duplicate value for 'Filename' field"): which one would count? */
function duplicateField(where: string, name: string, p: Paragraph, startLine: number): Deb822Error {
  const pkg = p.get("package");
  return new Deb822Error(
    `${where}: the paragraph at line ${startLine}${pkg ? ` (package ${pkg})` : ""} has the field "${name}" twice (duplicate fields are refused, as dpkg does)`,
  );
}

/** Adds one physical line to a paragraph being read; `last` is the field continuation lines belong to. */
function addLine(p: Paragraph, line: string, last: string | undefined, where: () => string, startLine: number): string | undefined {
  if (line.startsWith(" ") || line.startsWith("\t")) {
    if (last === undefined) throw new Deb822Error(`${where()}: a continuation line before any field`);
    p.set(last, `${p.get(last)}\n${line.slice(1)}`);
    return last;
  }
  if (line.startsWith("#")) return last;
  const m = FIELD.exec(line);
  if (!m) throw new Deb822Error(`${where()}: not a "Field: value" line: ${JSON.stringify(line.slice(0, 80))}`);
  const name = m[1]!.toLowerCase();
  if (p.has(name)) throw duplicateField(where(), m[1]!, p, startLine);
  p.set(name, m[2]!.trim());
  return name;
}

/** The paragraphs of a small document (a Release file), in memory. */
export function parseParagraphs(text: string, label: string): Paragraph[] {
  const out: Paragraph[] = [];
  let current: Paragraph | undefined;
  let last: string | undefined;
  let startLine = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "") {
      current = undefined;
      last = undefined;
      continue;
    }
    if (!current) {
      current = new Map();
      out.push(current);
      startLine = i + 1;
    }
    last = addLine(current, line, last, () => `${label} line ${i + 1}`, startLine);
  }
  return out;
}

export interface StanzaLimits {
  /** More paragraphs than this fail (a document built to exhaust memory). */
  maxStanzas: number;
  /** A paragraph longer than this, in characters, fails (an unterminated gigantic paragraph). */
  maxStanzaChars: number;
}

export interface StanzaOptions extends Partial<StanzaLimits> {
  /** Names the file in error messages. */
  label?: string;
  signal?: AbortSignal;
  /** Only these (lower-case) fields are kept; all fields when omitted. */
  fields?: ReadonlySet<string>;
  /** Also return each paragraph's lines as read (CR dropped), for metadata rewritten from kept paragraphs. */
  keepText?: boolean;
}

export const DEFAULT_STANZA_LIMITS: StanzaLimits = { maxStanzas: 2_000_000, maxStanzaChars: 8 * 1024 * 1024 };

/** A paragraph and the 1-based line it starts on (for error messages). */
export interface Stanza {
  fields: Paragraph;
  line: number;
  /** With keepText: the paragraph's lines, joined by "\n", without a final newline. */
  text?: string;
}

/** Space, tab, CR and LF: what a blank line (a paragraph separator) is made of. */
function isBlankChar(c: number): boolean {
  return c === 10 || c === 32 || c === 9 || c === 13;
}

/** Reads paragraphs from a stream of bytes (UTF-8), holding one paragraph at a time. */
export async function* readStanzas(source: AsyncIterable<Buffer>, opts: StanzaOptions = {}): AsyncGenerator<Stanza> {
  const limits = { ...DEFAULT_STANZA_LIMITS, ...opts };
  const label = opts.label ?? "deb822 document";
  const decoder = new StringDecoder("utf8");
  let carry = "";
  let lineNo = 0;
  let stanzas = 0;
  let current: Paragraph | undefined;
  let startLine = 0;
  let chars = 0;
  let last: string | undefined;
  let keep = true;
  let lines: string[] = [];
  /** Field names of the current paragraph, dropped ones included: a duplicate is refused either way. */
  const dropped = new Set<string>();

  const where = () => `${label} line ${lineNo}`;
  const finish = (): Stanza | undefined => {
    if (!current) return undefined;
    const out: Stanza = { fields: current, line: startLine };
    if (opts.keepText) {
      out.text = lines.join("\n");
      lines = [];
    }
    current = undefined;
    last = undefined;
    dropped.clear();
    if (++stanzas > limits.maxStanzas) {
      throw new LimitExceededError(`${label}: more than ${limits.maxStanzas} paragraphs (the limit)`, { limit: "maxStanzas", max: limits.maxStanzas });
    }
    return out;
  };
  const take = (raw: string): Stanza | undefined => {
    lineNo++;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return finish();
    if (!current) {
      current = new Map();
      startLine = lineNo;
      chars = 0;
    }
    chars += line.length + 1;
    if (chars > limits.maxStanzaChars) {
      throw new LimitExceededError(`${label}: the paragraph at line ${startLine} is longer than ${limits.maxStanzaChars} characters (the limit)`, {
        limit: "maxStanzaChars",
        max: limits.maxStanzaChars,
      });
    }
    if (opts.keepText) lines.push(line);
    // A continuation of a field we drop is dropped with it.
    if (opts.fields && (line.startsWith(" ") || line.startsWith("\t"))) {
      if (keep) last = addLine(current, line, last, where, startLine);
      return undefined;
    }
    if (opts.fields && !line.startsWith("#")) {
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon).trimEnd() : "";
      keep = colon > 0 && opts.fields.has(name.toLowerCase());
      if (!keep) {
        if (colon <= 0) throw new Deb822Error(`${where()}: not a "Field: value" line: ${JSON.stringify(line.slice(0, 80))}`);
        const lower = name.toLowerCase();
        if (dropped.has(lower)) throw duplicateField(where(), name, current, startLine);
        dropped.add(lower);
        return undefined;
      }
    }
    last = addLine(current, line, last, where, startLine);
    return undefined;
  };

  // Where scanning of the carried (unfinished) line resumes, and whether it already has a non-blank character:
  // a long line or blank run cut across chunks is scanned once, not again with every chunk.
  let resume = 0;
  let inLine = false;
  for await (const chunk of source) {
    if (opts.signal?.aborted) throw new AbortedError();
    carry += decoder.write(chunk);
    let start = 0;
    for (;;) {
      let i = start + resume;
      resume = 0;
      if (!inLine) {
        // Runs of blank lines are skipped without a string per line: a document of nothing but newlines
        // (gigabytes from a small .gz) would otherwise cost a slice, a trim and a call for every byte.
        let lineStart = start;
        let blanks = 0;
        while (i < carry.length && isBlankChar(carry.charCodeAt(i))) {
          if (carry.charCodeAt(i++) === 10) {
            blanks++;
            lineStart = i;
          }
        }
        if (blanks > 0) {
          lineNo += blanks;
          const done = finish();
          if (done) yield done;
        }
        // A non-blank line may begin with whitespace (a continuation): it starts after the last newline.
        start = lineStart;
        if (i === carry.length) {
          resume = i - start;
          break;
        }
      }
      const nl = carry.indexOf("\n", i);
      if (nl === -1) {
        inLine = true;
        resume = carry.length - start;
        break;
      }
      inLine = false;
      const done = take(carry.slice(start, nl));
      if (done) yield done;
      start = nl + 1;
    }
    carry = carry.slice(start);
    if (carry.length > limits.maxStanzaChars) {
      throw new LimitExceededError(`${label}: a line longer than ${limits.maxStanzaChars} characters (the limit)`, {
        limit: "maxStanzaChars",
        max: limits.maxStanzaChars,
      });
    }
  }
  carry += decoder.end();
  if (carry.length > 0) {
    const done = take(carry);
    if (done) yield done;
  }
  const tail = finish();
  if (tail) yield tail;
}
