// Tests of core/apt/depends.ts: Depends/Pre-Depends/Provides of Packages stanzas as the filter's requirements and capabilities.
import { describe, expect, it } from "vitest";
import { DependsError, MAX_RELATIONS_PER_FIELD, parseProvides, parseRelations, requirementsOf } from "../../../core/apt/depends.js";
import type { Capability, Requirement } from "../../../core/filter/types.js";

/** A capability as "name op epoch:version-release" for compact expectations. */
function show(c: Capability): string {
  if (!c.op) return c.name;
  const v = c.version!;
  return `${c.name} ${c.op} ${v.epoch}:${v.version}${v.release ? `-${v.release}` : ""}`;
}

function shown(reqs: Requirement[]): string[][] {
  return reqs.map((r) => r.alternatives.map(show));
}

describe("parseRelations", () => {
  const cases: [string, string, string[][]][] = [
    ["one name", "libc6", [["libc6"]]],
    ["versioned", "libc6 (>= 2.36)", [["libc6 >= 0:2.36"]]],
    ["no space before the paren", "libc6(>=2.36)", [["libc6 >= 0:2.36"]]],
    ["epoch and revision", "perl (>= 1:5.36.0-7)", [["perl >= 1:5.36.0-7"]]],
    ["strictly less", "a (<< 2)", [["a < 0:2"]]],
    ["strictly greater", "a (>> 2)", [["a > 0:2"]]],
    ["equal", "a (= 1.0-1)", [["a = 0:1.0-1"]]],
    ["less or equal", "a (<= 1.0)", [["a <= 0:1.0"]]],
    ["obsolete < means <=", "a (< 1.0)", [["a <= 0:1.0"]]],
    ["obsolete > means >=", "a (> 1.0)", [["a >= 0:1.0"]]],
    ["alternatives", "a (>= 1.2) | b:any", [["a >= 0:1.2", "b"]]],
    ["several relations", "a, b | c, d (= 1)", [["a"], ["b", "c"], ["d = 0:1"]]],
    ["arch qualifiers dropped", "python3:any, gcc:native, libfoo:amd64 (>= 1)", [["python3"], ["gcc"], ["libfoo >= 0:1"]]],
    ["arch restrictions stripped", "libc6 [amd64 i386] | libc6.1 [alpha]", [["libc6", "libc6.1"]]],
    ["build profiles stripped", "debhelper (>= 13) <!nocheck> <pkg.foo.bar>", [["debhelper >= 0:13"]]],
    ["restriction after a << constraint", "a (<< 2.0) <!stage1>", [["a < 0:2.0"]]],
    ["continuation lines and empty items", "a,\n b ,\n\tc,", [["a"], ["b"], ["c"]]],
    ["names with + . -", "g++-12, libstdc++6 (>= 12), lib.foo-1", [["g++-12"], ["libstdc++6 >= 0:12"], ["lib.foo-1"]]],
    ["empty", "", []],
  ];
  it.each(cases)("%s: %j", (_what, text, expected) => {
    expect(shown(parseRelations(text, "Depends", "pkg x"))).toEqual(expected);
  });

  it("keeps each relation's text for error messages", () => {
    expect(parseRelations("a (>= 1) | b, c", "Depends", "x").map((r) => r.text)).toEqual(["a (>= 1) | b", "c"]);
  });

  const bad: [string, string, RegExp][] = [
    ["an upper-case name", "Foo", /is not a package name/],
    ["an operator without parens", "a >= 1", /is not a package name/],
    ["an unknown operator", "a (~= 1)", /malformed version constraint/],
    ["a constraint without a version", "a (>=)", /malformed version constraint/],
    ["text after the constraint", "a (>= 1) b", /malformed version constraint/],
    ["an empty alternative", "a | ", /is not a package name/],
    ["a bad epoch", "a (>= x:1)", /epoch/],
    ["a control character in the name", "a\u0000b", /is not a package name/],
  ];
  it.each(bad)("refuses %s", (_what, text, message) => {
    expect(() => parseRelations(text, "Depends", "pkg x")).toThrow(DependsError);
    expect(() => parseRelations(text, "Depends", "pkg x")).toThrow(message);
  });

  it("refuses a field over the limits", () => {
    expect(() => parseRelations(Array.from({ length: MAX_RELATIONS_PER_FIELD + 1 }, (_, i) => `p${i}`).join(", "), "Depends", "x")).toThrow(/the limit/);
    expect(() => parseRelations("a".repeat(300_000), "Depends", "x")).toThrow(/longer than/);
    expect(() => parseRelations(Array.from({ length: 300 }, (_, i) => `p${i}`).join(" | "), "Depends", "x")).toThrow(/alternatives/);
  });
});

describe("parseProvides", () => {
  const cases: [string, string[]][] = [
    ["mail-transport-agent", ["mail-transport-agent"]],
    ["awk, c-compiler", ["awk", "c-compiler"]],
    ["libfoo-abi (= 1.2-3), bar:any", ["libfoo-abi = 0:1.2-3", "bar"]],
  ];
  it.each(cases)("%j", (text, expected) => {
    expect(parseProvides(text, "x").map(show)).toEqual(expected);
  });

  it.each([
    ["a | b", /alternatives/],
    ["a (>= 1)", /only "="/],
  ])("refuses %j", (text, message) => {
    expect(() => parseProvides(text, "x")).toThrow(message);
  });
});

describe("requirementsOf", () => {
  it("joins Pre-Depends and Depends", () => {
    expect(shown(requirementsOf({ preDepends: "dpkg (>= 1.15)", depends: "a | b" }, "x"))).toEqual([["dpkg >= 0:1.15"], ["a", "b"]]);
    expect(requirementsOf({}, "x")).toEqual([]);
  });
});
