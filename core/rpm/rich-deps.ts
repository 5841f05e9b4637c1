// rpm rich (boolean) dependencies, `(foo >= 1.0 or bar)`: parsed as untrusted data, with limits, into an approximate Requirement.
import { ChantalError } from "../errors.js";
import type { Capability, Requirement, VersionOp } from "../filter/types.js";
import type { VersionParts } from "../version-parts.js";

export class RichDependencyError extends ChantalError {}

/** Longer upstream text is refused: rpm's own are a few hundred characters. */
export const RICH_MAX_LENGTH = 4096;
/** Deeper nesting is refused (the parser recurses once per level). */
export const RICH_MAX_DEPTH = 32;

type BoolOp = "and" | "or" | "if" | "else" | "with" | "without" | "unless";
const BOOL_OPS = new Set<string>(["and", "or", "if", "else", "with", "without", "unless"]);
/** rpm's comparison spellings (rpmds.c): `=<` and `=>` too. */
const VERSION_OPS: Record<string, VersionOp> = { "<": "<", "<=": "<=", "=<": "<=", "=": "=", "==": "=", ">=": ">=", "=>": ">=", ">": ">" };

/** A rich dependency starts with "(" (a plain one never does). */
export function isRichDependency(text: string): boolean {
  return text.trimStart().startsWith("(");
}

/** "E:V-R" as rpm writes a dependency's version: the epoch before ':', the release after the last '-'. */
export function parseDependencyEvr(text: string): VersionParts | undefined {
  const colon = text.indexOf(":");
  let epoch = 0;
  if (colon !== -1) {
    const e = text.slice(0, colon);
    if (!/^\d{1,10}$/.test(e)) return undefined;
    epoch = Number(e);
  }
  const rest = text.slice(colon + 1);
  if (rest === "") return undefined;
  const dash = rest.lastIndexOf("-");
  return dash === -1 ? { epoch, version: rest, release: "" } : { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

class RichParser {
  private pos = 0;
  readonly names: Capability[] = [];

  constructor(private readonly text: string) {}

  fail(why: string): never {
    const shown = this.text.length > 120 ? `${this.text.slice(0, 120)}...` : this.text;
    throw new RichDependencyError(`rpm rich dependency ${JSON.stringify(shown)}: ${why} (at character ${this.pos + 1})`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  /** A word: up to whitespace or an unmatched ')'; parentheses inside it (perl(Foo), lib.so(GLIBC_2.34)) must balance. */
  private word(): string {
    this.skipSpace();
    const start = this.pos;
    let nesting = 0;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (/\s/.test(c) && nesting === 0) break;
      if (c === "(") nesting++;
      else if (c === ")") {
        if (nesting === 0) break;
        nesting--;
      }
      this.pos++;
    }
    if (nesting !== 0) this.fail("unbalanced parentheses in a name");
    return this.text.slice(start, this.pos);
  }

  private peekWord(): string {
    const save = this.pos;
    const w = this.word();
    this.pos = save;
    return w;
  }

  /** `( term op term ... )` at nesting `depth`. */
  expression(depth: number): void {
    if (depth > RICH_MAX_DEPTH) this.fail(`nested deeper than ${RICH_MAX_DEPTH} levels`);
    this.skipSpace();
    if (this.text[this.pos] !== "(") this.fail('expected "("');
    this.pos++;
    this.term(depth);
    let chain: BoolOp | undefined;
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) this.fail('unbalanced parentheses: missing ")"');
      if (this.text[this.pos] === ")") {
        this.pos++;
        return;
      }
      const op = this.word();
      if (!BOOL_OPS.has(op)) this.fail(`expected and, or, if, else, with, without, unless or ")", not ${JSON.stringify(op)}`);
      const bop = op as BoolOp;
      if (bop === "else") {
        if (chain !== "if" && chain !== "unless") this.fail('"else" only follows "if" or "unless"');
        chain = "else";
      } else if (chain === undefined) chain = bop;
      else if (chain !== bop || bop === "if" || bop === "unless" || bop === "without") this.fail(`"${bop}" cannot follow "${chain}" without parentheses`);
      this.term(depth);
    }
  }

  /** A nested expression or a simple dependency `name [op evr]`. */
  private term(depth: number): void {
    this.skipSpace();
    if (this.pos >= this.text.length) this.fail("expected a dependency, found the end");
    if (this.text[this.pos] === "(") {
      this.expression(depth + 1);
      return;
    }
    const name = this.word();
    if (name === "") this.fail("expected a dependency name");
    if (BOOL_OPS.has(name)) this.fail(`expected a dependency name, not the operator "${name}"`);
    const maybeOp = this.peekWord();
    const op = Object.hasOwn(VERSION_OPS, maybeOp) ? VERSION_OPS[maybeOp] : undefined;
    if (!op) {
      this.names.push({ name });
      return;
    }
    this.word();
    const evrText = this.word();
    if (evrText === "") this.fail(`"${name} ${maybeOp}" has no version`);
    const version = parseDependencyEvr(evrText);
    if (!version) this.fail(`${JSON.stringify(evrText)} is not a version`);
    this.names.push({ name, op, version });
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }
}

/** Parse a rich dependency into an approximate Requirement naming every capability it mentions (with its version). */
export function parseRichDependency(text: string): Requirement {
  if (text.length > RICH_MAX_LENGTH) throw new RichDependencyError(`rpm rich dependency of ${text.length} characters: longer than ${RICH_MAX_LENGTH}`);
  const parser = new RichParser(text);
  parser.expression(1);
  if (!parser.atEnd()) parser.fail('text after the closing ")"');
  // The same capability named twice (`(a if b) or (a if c)`) is one alternative.
  const seen = new Set<string>();
  const alternatives = parser.names.filter((c) => {
    const key = c.version ? `${c.name} ${c.op} ${c.version.epoch}:${c.version.version}-${c.version.release}` : c.name;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { text, approximate: true, alternatives };
}
