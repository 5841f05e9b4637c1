// Tests of core/rpm/rich-deps.ts: rpm boolean dependencies become approximate Requirements; garbage is refused clearly.
import { describe, expect, it } from "vitest";
import { isRichDependency, parseDependencyEvr, parseRichDependency, RichDependencyError } from "../../../core/rpm/rich-deps.js";

/** The alternatives as "name", or "name op E:V-R". */
function names(text: string): string[] {
  const r = parseRichDependency(text);
  expect(r.approximate).toBe(true);
  expect(r.text).toBe(text);
  return r.alternatives.map((c) => (c.version ? `${c.name} ${c.op} ${c.version.epoch}:${c.version.version}-${c.version.release}` : c.name));
}

describe("parseRichDependency", () => {
  const cases: [string, string[]][] = [
    ["(foo >= 1.0 or bar)", ["foo >= 0:1.0-", "bar"]],
    ["(pkgA if pkgB)", ["pkgA", "pkgB"]],
    ["(a and (b or c))", ["a", "b", "c"]],
    ["(foo with bar)", ["foo", "bar"]],
    ["(x unless y)", ["x", "y"]],
    ["(x without y)", ["x", "y"]],
    ["(a if b else c)", ["a", "b", "c"]],
    ["(a unless b else c)", ["a", "b", "c"]],
    ["(a and b and c)", ["a", "b", "c"]],
    ["(a or b or c)", ["a", "b", "c"]],
    ["(kernel-core = 2:6.1-3.el9 or kernel-rt < 6)", ["kernel-core = 2:6.1-3.el9", "kernel-rt < 0:6-"]],
    ["(a => 1 and b =< 2 and c == 3)", ["a >= 0:1-", "b <= 0:2-", "c = 0:3-"]],
    ["(perl(Foo::Bar) >= 1.2 or libc.so.6(GLIBC_2.34)(64bit))", ["perl(Foo::Bar) >= 0:1.2-", "libc.so.6(GLIBC_2.34)(64bit)"]],
    ["(/usr/bin/python3 if python3)", ["/usr/bin/python3", "python3"]],
    ["  ( a   or\tb )  ", ["a", "b"]],
    ["((a or b) and (a or c))", ["a", "b", "c"]],
    ["(a)", ["a"]],
    ["(((((a)))))", ["a"]],
    ["(foo-langpack-de if (foo and langpacks-de))", ["foo-langpack-de", "foo", "langpacks-de"]],
  ];
  it.each(cases)("%s", (text, expected) => {
    expect(names(text)).toEqual(expected);
  });

  const garbage: [string, string, RegExp][] = [
    ["unbalanced: missing )", "(a or b", /missing "\)"/],
    ["unbalanced: extra )", "(a or b))", /text after the closing/],
    ["unbalanced inside a name", "(perl(Foo or b)", /unbalanced|missing/],
    ["not rich", "foo >= 1", /expected "\("/],
    ["empty", "()", /expected a dependency name/],
    ["empty text", "", /expected "\("/],
    ["operator without operand", "(a or)", /expected a dependency name/],
    ["operator first", "(or a)", /not the operator "or"/],
    ["unknown operator", "(a xor b)", /not "xor"/],
    ["two names", "(a b)", /not "b"/],
    ["mixed ops without parentheses", "(a and b or c)", /"or" cannot follow "and"/],
    ["chained if", "(a if b if c)", /"if" cannot follow "if"/],
    ["else without if", "(a or b else c)", /"else" only follows/],
    ["a version op without a version", "(a >= )", /has no version/],
    ["a bad epoch", "(a >= x:1)", /is not a version/],
    ["trailing text", "(a) b", /text after the closing/],
  ];
  it.each(garbage)("refuses %s", (_name, text, why) => {
    expect(() => parseRichDependency(text)).toThrowError(RichDependencyError);
    expect(() => parseRichDependency(text)).toThrowError(why);
  });

  it("refuses nesting deeper than 32 and accepts 32", () => {
    expect(names(`${"(".repeat(32)}a${")".repeat(32)}`)).toEqual(["a"]);
    expect(() => parseRichDependency(`${"(".repeat(33)}a${")".repeat(33)}`)).toThrowError(/nested deeper than 32/);
    // A hostile depth fails at the limit, not by exhausting the stack.
    expect(() => parseRichDependency(`${"(".repeat(2000)}a${")".repeat(2000)}`)).toThrowError(/longer than 4096|nested deeper/);
    expect(() => parseRichDependency(`${"(".repeat(1000)}a${")".repeat(1000)}`)).toThrowError(/nested deeper than 32/);
  });

  it("refuses text longer than 4096 characters", () => {
    const long = `(${Array.from({ length: 1000 }, (_, i) => `n${i}`).join(" or ")})`;
    expect(long.length).toBeGreaterThan(4096);
    expect(() => parseRichDependency(long)).toThrowError(/longer than 4096/);
  });

  it("names the same capability once", () => {
    expect(names("((a if b) or (a if c))")).toEqual(["a", "b", "c"]);
  });

  it("quotes a long offending text shortened", () => {
    const text = `(${"x".repeat(300)} xor y)`;
    expect(() => parseRichDependency(text)).toThrowError(/\.\.\."/);
  });
});

describe("isRichDependency and parseDependencyEvr", () => {
  it("tells rich from plain", () => {
    expect(isRichDependency("(a or b)")).toBe(true);
    expect(isRichDependency("perl(Foo)")).toBe(false);
  });
  it.each([
    ["1.0", { epoch: 0, version: "1.0", release: "" }],
    ["2:1.0-3.el9", { epoch: 2, version: "1.0", release: "3.el9" }],
    ["1.0-1-2", { epoch: 0, version: "1.0-1", release: "2" }],
  ])("%s", (text, expected) => {
    expect(parseDependencyEvr(text)).toEqual(expected);
  });
  it.each(["", "x:1", "1:"])("refuses %j", (text) => {
    expect(parseDependencyEvr(text)).toBeUndefined();
  });
});
