// Streaming rewrite of a repodata XML document: the root's direct children of one name are kept verbatim, changed or
// dropped one by one; everything else passes through. Memory holds one child at a time; saxes checks well-formedness.
import { StringDecoder } from "node:string_decoder";
import { SaxesParser } from "saxes";
import { LimitExceededError } from "../compress/decompress.js";
import { ChantalError } from "../errors.js";
import type { PlainXml } from "./repomd.js";
import { DEFAULT_MAX_TOKEN_CHARS, withAttribute, XmlRewriteError, XmlTokenizer, type XmlToken } from "./xml-tokens.js";

/** One child of the root, as upstream wrote it. */
export interface CapturedElement {
  /** The element's exact text, start tag to end tag. */
  raw: string;
  startTag: string;
  /** The text (CDATA included, entities as written) of the first direct child named `childText`, when asked. */
  childText?: string;
}

export interface RewriteLimits {
  /** Longest child element, in characters. */
  maxElementChars: number;
  maxDepth: number;
  maxChildren: number;
  maxTokenChars: number;
}

export const DEFAULT_REWRITE_LIMITS: RewriteLimits = {
  maxElementChars: 64 * 1024 * 1024,
  maxDepth: 64,
  maxChildren: 2_000_000,
  maxTokenChars: DEFAULT_MAX_TOKEN_CHARS,
};

export interface RewriteOptions extends Partial<RewriteLimits> {
  label: string;
  /** The root element's expected (local) name. */
  root: string;
  /** The children handled by `onChild`; other children pass through. */
  child: string;
  /** A direct child of `child` whose text `onChild` needs (primary's <checksum>). */
  childText?: string;
  /** The child's replacement text, or undefined to drop it (and the whitespace before it). */
  onChild: (el: CapturedElement) => string | undefined;
  /** Set on the root's start tag (packages="N"); called at the root, before any child. */
  rootAttribute?: () => [string, string];
}

function overLimit(label: string, limit: keyof RewriteLimits, max: number, what: string): never {
  throw new LimitExceededError(`${label}: more than ${max} ${what} (limit ${limit}); refusing the document`, { limit, max });
}

class Rewriter {
  private depth = 0;
  private pending = "";
  private children = 0;
  private el: { parts: string[]; chars: number; rel: number; startTag: string; text?: string; inText: boolean } | undefined;
  private sawRoot = false;
  private out: string[] = [];

  constructor(
    private readonly opts: RewriteOptions,
    private readonly limits: RewriteLimits,
  ) {}

  take(): string {
    const s = this.out.join("");
    this.out = [];
    return s;
  }

  token(t: XmlToken): void {
    if (this.el) return this.inChild(this.el, t);
    if (this.depth === 0) return this.outside(t);
    // depth 1: between the root's children.
    if (t.kind === "text" || t.kind === "comment" || t.kind === "pi" || t.kind === "cdata") {
      this.pending += t.raw;
      return;
    }
    if (t.kind === "end") {
      this.out.push(this.pending, t.raw);
      this.pending = "";
      this.depth = 0;
      return;
    }
    if (t.name !== this.opts.child) {
      // Not ours: copied as it is (its tokens pass through at depth > 1).
      this.out.push(this.pending, t.raw);
      this.pending = "";
      if (t.kind === "start") this.passThrough(t);
      return;
    }
    if (++this.children > this.limits.maxChildren) overLimit(this.opts.label, "maxChildren", this.limits.maxChildren, `<${this.opts.child}> elements`);
    this.el = { parts: [t.raw], chars: t.raw.length, rel: 1, startTag: t.raw, inText: false };
    if (t.kind === "empty") this.finishChild(this.el);
  }

  /** A foreign element inside the root: copied until it closes. */
  private foreignDepth = 0;
  private passThrough(_t: XmlToken): void {
    this.foreignDepth = 1;
  }

  private outside(t: XmlToken): void {
    if (t.kind !== "start" && t.kind !== "empty") {
      this.out.push(t.raw);
      return;
    }
    if (this.sawRoot) throw new XmlRewriteError(`${this.opts.label}: a second root element <${t.name}>`);
    this.sawRoot = true;
    if (t.name !== this.opts.root) throw new XmlRewriteError(`${this.opts.label}: the root element is <${t.name}>, not <${this.opts.root}>`);
    const attr = this.opts.rootAttribute?.();
    this.out.push(attr ? withAttribute(t.raw, attr[0], attr[1]) : t.raw);
    if (t.kind === "start") this.depth = 1;
  }

  private inChild(el: NonNullable<Rewriter["el"]>, t: XmlToken): void {
    el.parts.push(t.raw);
    el.chars += t.raw.length;
    if (el.chars > this.limits.maxElementChars)
      overLimit(this.opts.label, "maxElementChars", this.limits.maxElementChars, `characters in one <${this.opts.child}>`);
    if (t.kind === "start") {
      el.rel++;
      if (el.rel + 1 > this.limits.maxDepth) overLimit(this.opts.label, "maxDepth", this.limits.maxDepth, "levels of nesting");
      if (el.rel === 2 && el.text === undefined && t.name === this.opts.childText) {
        el.inText = true;
        el.text = "";
      }
    } else if (t.kind === "end") {
      el.rel--;
      if (el.inText && el.rel === 1) el.inText = false;
      if (el.rel === 0) this.finishChild(el);
    } else if (el.inText && (t.kind === "text" || t.kind === "cdata")) {
      el.text += t.kind === "cdata" ? t.raw.slice(9, -3) : t.raw;
    }
  }

  private finishChild(el: NonNullable<Rewriter["el"]>): void {
    this.el = undefined;
    const captured: CapturedElement = { raw: el.parts.join(""), startTag: el.startTag };
    if (el.text !== undefined) captured.childText = el.text;
    const replacement = this.opts.onChild(captured);
    if (replacement !== undefined) this.out.push(this.pending, replacement);
    this.pending = "";
  }

  /** Tokens of a foreign child of the root (depth tracked so its end is found). */
  foreign(t: XmlToken): boolean {
    if (this.foreignDepth === 0) return false;
    this.out.push(t.raw);
    if (t.kind === "start") {
      this.foreignDepth++;
      if (this.foreignDepth + 1 > this.limits.maxDepth) overLimit(this.opts.label, "maxDepth", this.limits.maxDepth, "levels of nesting");
    } else if (t.kind === "end") this.foreignDepth--;
    return true;
  }

  finish(): void {
    if (!this.sawRoot) throw new XmlRewriteError(`${this.opts.label}: the document is empty: it has no root element`);
    if (this.depth !== 0 || this.el) throw new XmlRewriteError(`${this.opts.label}: the document ends before its root element closes`);
  }
}

function notWellFormed(label: string, err: unknown): unknown {
  if (err instanceof ChantalError) return err;
  return new XmlRewriteError(`${label}: not well-formed XML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** The rewritten document, in pieces; refuses malformed XML, a DOCTYPE, and inputs past the limits. */
export async function* rewriteXml(input: AsyncIterable<Uint8Array | string>, opts: RewriteOptions): AsyncGenerator<string> {
  const limits: RewriteLimits = { ...DEFAULT_REWRITE_LIMITS, ...Object.fromEntries(Object.entries(opts).filter(([k]) => k in DEFAULT_REWRITE_LIMITS)) };
  const tokenizer = new XmlTokenizer(opts.label, limits.maxTokenChars);
  const validator = new SaxesParser<PlainXml>({ xmlns: false, fileName: opts.label });
  const rewriter = new Rewriter(opts, limits);
  const decoder = new StringDecoder("utf8");
  const step = (text: string, last: boolean): string => {
    try {
      const tokens = tokenizer.feed(text);
      if (last) tokens.push(...tokenizer.end());
      for (const t of tokens) if (!rewriter.foreign(t)) rewriter.token(t);
      validator.write(text);
      if (last) {
        rewriter.finish();
        validator.close();
      }
    } catch (err) {
      throw notWellFormed(opts.label, err);
    }
    return rewriter.take();
  };
  let first = true;
  for await (const chunk of input) {
    let text = typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
    if (first && text.length > 0) {
      // A BOM is not part of the document we write.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    const out = step(text, false);
    if (out) yield out;
  }
  const out = step(decoder.end(), true);
  if (out) yield out;
}
