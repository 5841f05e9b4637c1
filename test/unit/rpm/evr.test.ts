// Tests of core/rpm/evr.ts.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareEvr, formatEvr, rpmvercmp, type Evr } from "../../../core/rpm/evr.js";
import { run } from "../../helpers/rpm-fixtures.js";
import { toolMissing } from "../../helpers/tools.js";

// rpm's own cases: tests/rpmvercmp.at in rpm 4.18.
const RPM_CASES: [string, string, -1 | 0 | 1][] = [
  ["1.0", "1.0", 0],
  ["1.0", "2.0", -1],
  ["2.0", "1.0", 1],
  ["2.0.1", "2.0.1", 0],
  ["2.0", "2.0.1", -1],
  ["2.0.1", "2.0", 1],
  ["2.0.1a", "2.0.1a", 0],
  ["2.0.1a", "2.0.1", 1],
  ["2.0.1", "2.0.1a", -1],
  ["5.5p1", "5.5p1", 0],
  ["5.5p1", "5.5p2", -1],
  ["5.5p2", "5.5p1", 1],
  ["5.5p10", "5.5p10", 0],
  ["5.5p1", "5.5p10", -1],
  ["5.5p10", "5.5p1", 1],
  ["10xyz", "10.1xyz", -1],
  ["10.1xyz", "10xyz", 1],
  ["xyz10", "xyz10", 0],
  ["xyz10", "xyz10.1", -1],
  ["xyz10.1", "xyz10", 1],
  ["xyz.4", "xyz.4", 0],
  ["xyz.4", "8", -1],
  ["8", "xyz.4", 1],
  ["xyz.4", "2", -1],
  ["2", "xyz.4", 1],
  ["5.5p2", "5.6p1", -1],
  ["5.6p1", "5.5p2", 1],
  ["5.6p1", "6.5p1", -1],
  ["6.5p1", "5.6p1", 1],
  ["6.0.rc1", "6.0", 1],
  ["6.0", "6.0.rc1", -1],
  ["10b2", "10a1", 1],
  ["10a2", "10b2", -1],
  ["1.0aa", "1.0aa", 0],
  ["1.0a", "1.0aa", -1],
  ["1.0aa", "1.0a", 1],
  ["10.0001", "10.0001", 0],
  ["10.0001", "10.1", 0],
  ["10.1", "10.0001", 0],
  ["10.0001", "10.0039", -1],
  ["10.0039", "10.0001", 1],
  ["4.999.9", "5.0", -1],
  ["5.0", "4.999.9", 1],
  ["20101121", "20101121", 0],
  ["20101121", "20101122", -1],
  ["20101122", "20101121", 1],
  ["2_0", "2_0", 0],
  ["2.0", "2_0", 0],
  ["2_0", "2.0", 0],
  // RhBug:178798
  ["a", "a", 0],
  ["a+", "a+", 0],
  ["a+", "a_", 0],
  ["a_", "a+", 0],
  ["+a", "+a", 0],
  ["+a", "_a", 0],
  ["_a", "+a", 0],
  ["+_", "+_", 0],
  ["_+", "+_", 0],
  ["_+", "_", 0],
  ["+", "_", 0],
  ["_", "+", 0],
  // tilde: sorts before everything
  ["1.0~rc1", "1.0~rc1", 0],
  ["1.0~rc1", "1.0", -1],
  ["1.0", "1.0~rc1", 1],
  ["1.0~rc1", "1.0~rc2", -1],
  ["1.0~rc2", "1.0~rc1", 1],
  ["1.0~rc1~git123", "1.0~rc1~git123", 0],
  ["1.0~rc1~git123", "1.0~rc1", -1],
  ["1.0~rc1", "1.0~rc1~git123", 1],
  // caret: sorts after the base version, before the next one
  ["1.0^", "1.0^", 0],
  ["1.0^", "1.0", 1],
  ["1.0", "1.0^", -1],
  ["1.0^git1", "1.0^git1", 0],
  ["1.0^git1", "1.0", 1],
  ["1.0", "1.0^git1", -1],
  ["1.0^git1", "1.0^git2", -1],
  ["1.0^git2", "1.0^git1", 1],
  ["1.0^git1", "1.01", -1],
  ["1.01", "1.0^git1", 1],
  ["1.0^20160101", "1.0^20160101", 0],
  ["1.0^20160101", "1.0.1", -1],
  ["1.0.1", "1.0^20160101", 1],
  ["1.0^20160101^git1", "1.0^20160101^git1", 0],
  ["1.0^20160102", "1.0^20160101^git1", 1],
  ["1.0^20160101^git1", "1.0^20160102", -1],
  // tilde and caret together
  ["1.0~rc1^git1", "1.0~rc1^git1", 0],
  ["1.0~rc1^git1", "1.0~rc1", 1],
  ["1.0~rc1", "1.0~rc1^git1", -1],
  ["1.0^git1~pre", "1.0^git1~pre", 0],
  ["1.0^git1", "1.0^git1~pre", 1],
  ["1.0^git1~pre", "1.0^git1", -1],
];

const MORE_CASES: [string, string, -1 | 0 | 1][] = [
  // alpha segment vs numeric segment: numeric is newer
  ["1.0a", "1.0.1", -1],
  ["1.0.1", "1.0a", 1],
  ["1.a", "1.1", -1],
  // numbers longer than any integer type
  ["1.123456789012345678901234567890", "1.123456789012345678901234567889", 1],
  ["00000000000000000000001", "1", 0],
  // empty strings and separators only
  ["", "", 0],
  ["", "1", -1],
  ["1", "", 1],
  ["~", "", -1],
  ["^", "", 1],
  // non-ASCII characters only separate, as rpm's risalnum is ASCII-only
  ["1é2", "1.2", 0],
  ["el9", "el10", -1],
  ["fc39", "fc40", -1],
];

describe("rpmvercmp", () => {
  it.each([...RPM_CASES, ...MORE_CASES])("rpmvercmp(%j, %j) = %i", (a, b, expected) => {
    expect(rpmvercmp(a, b)).toBe(expected);
  });

  it("is antisymmetric on every case", () => {
    for (const [a, b] of [...RPM_CASES, ...MORE_CASES]) expect(rpmvercmp(b, a)).toBe(-rpmvercmp(a, b) || 0);
  });
});

describe("compareEvr", () => {
  const cases: [Evr, Evr, -1 | 0 | 1][] = [
    [{ epoch: 0, version: "1.0", release: "1" }, { epoch: 0, version: "1.0", release: "1" }, 0],
    [{ version: "1.0", release: "1" }, { epoch: 0, version: "1.0", release: "1" }, 0],
    [{ epoch: null, version: "1.0", release: "1" }, { epoch: 0, version: "1.0", release: "1" }, 0],
    // epoch wins over everything
    [{ epoch: 1, version: "1.0", release: "1" }, { epoch: 0, version: "9.9", release: "99" }, 1],
    [{ epoch: 0, version: "9.9", release: "99" }, { epoch: 2, version: "0.1", release: "1" }, -1],
    // then version
    [{ epoch: 0, version: "1.10", release: "1" }, { epoch: 0, version: "1.9", release: "5" }, 1],
    [{ epoch: 0, version: "1.0~rc1", release: "9" }, { epoch: 0, version: "1.0", release: "1" }, -1],
    // then release
    [{ epoch: 0, version: "1.0", release: "1.el9" }, { epoch: 0, version: "1.0", release: "1.el9_1" }, -1],
    [{ epoch: 0, version: "1.0", release: "10.fc40" }, { epoch: 0, version: "1.0", release: "9.fc40" }, 1],
    [{ epoch: 0, version: "1.0", release: "" }, { epoch: 0, version: "1.0", release: "1" }, -1],
  ];
  it.each(cases)("compareEvr(%j, %j) = %i", (a, b, expected) => {
    expect(compareEvr(a, b)).toBe(expected);
    expect(compareEvr(b, a)).toBe(-expected || 0);
  });

  it("sorts a list the way rpm does", () => {
    const list: Evr[] = [
      { epoch: 1, version: "0.1", release: "1" },
      { epoch: 0, version: "1.0", release: "2" },
      { epoch: 0, version: "1.0^git1", release: "1" },
      { epoch: 0, version: "1.0~rc2", release: "1" },
      { epoch: 0, version: "1.0", release: "10" },
      { epoch: 0, version: "1.0~rc1", release: "1" },
    ];
    expect([...list].sort(compareEvr).map(formatEvr)).toEqual(["1.0~rc1-1", "1.0~rc2-1", "1.0-2", "1.0-10", "1.0^git1-1", "1:0.1-1"]);
  });
});

/** Random versions from the characters that matter to the algorithm. */
function randomVersion(rand: () => number): string {
  // No "-" or ":": rpm.vercmp parses its arguments as E:V-R strings.
  const parts = ["0", "1", "2", "9", "10", "01", "a", "b", "rc", "Z", ".", ".", "_", "+", "~", "^"];
  const n = 1 + Math.floor(rand() * 6);
  let s = "";
  for (let i = 0; i < n; i++) s += parts[Math.floor(rand() * parts.length)];
  return s;
}

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function seededRandom(seed: number): () => number {
  let t = seed;
  return () => {
    t = (t + 0x6d2b79f5) | 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** rpm.vercmp (rpm's Lua API, which parses E:V-R strings) for each pair, in one rpm run. */
async function rpmLuaVercmp(pairs: (readonly [string, string])[]): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), "chantal-evr-"));
  try {
    const script = join(dir, "cmp.lua");
    const lines = pairs.map(([a, b]) => `io.write(rpm.vercmp([[${a}]], [[${b}]]), "\\n")`);
    await writeFile(script, lines.join("\n"));
    const out = await run("rpm", ["--eval", `%{lua: dofile("${script}")}`]);
    return out
      .trim()
      .split("\n")
      .map((n) => Math.sign(Number(n)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe.skipIf(toolMissing("rpm"))("against the installed rpm", () => {
  it("rpmvercmp agrees with rpm on 3000 random version pairs", async () => {
    const rand = seededRandom(42);
    const pairs = Array.from({ length: 3000 }, () => [randomVersion(rand), randomVersion(rand)] as const);
    const expected = await rpmLuaVercmp(pairs);
    expect(expected).toHaveLength(pairs.length);
    const mismatches = pairs.filter(([a, b], i) => rpmvercmp(a, b) !== expected[i]).slice(0, 10);
    expect(mismatches).toEqual([]);
  });

  it("compareEvr agrees with rpm on 2000 random E:V-R pairs", async () => {
    const rand = seededRandom(7);
    const randomEvr = (): Evr => ({ epoch: Math.floor(rand() * 3), version: `1${randomVersion(rand)}`, release: `1${randomVersion(rand)}` });
    const pairs = Array.from({ length: 2000 }, () => [randomEvr(), randomEvr()] as const);
    const asText = (e: Evr): string => `${e.epoch}:${e.version}-${e.release}`;
    const expected = await rpmLuaVercmp(pairs.map(([a, b]) => [asText(a), asText(b)] as const));
    const mismatches = pairs
      .filter(([a, b], i) => compareEvr(a, b) !== expected[i])
      .map(([a, b]) => [asText(a), asText(b)])
      .slice(0, 10);
    expect(mismatches).toEqual([]);
  });
});
