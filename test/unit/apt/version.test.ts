// Debian version order: a table checked against dpkg's rules, and against the real dpkg when it is installed.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { compareDebianVersions, formatDebianVersion, parseDebianVersion, verrevcmp } from "../../../core/apt/version.js";
import { diffPackageSets, versionComparator } from "../../../core/snapshots/snapshots.js";
import { hasTool } from "../../helpers/tools.js";

// [a, b, expected sign of compare(a, b)]
const CASES: [string, string, -1 | 0 | 1][] = [
  ["1.0", "1.0", 0],
  ["1.0", "1.00", 0],
  ["1.0", "1.1", -1],
  ["1.10", "1.9", 1],
  ["1.0~rc1", "1.0", -1],
  ["1.0~rc1", "1.0~rc2", -1],
  ["1.0~~", "1.0~", -1],
  ["1.0~", "1.0", -1],
  ["1.0", "1.0a", -1],
  ["1.0a", "1.0+", -1],
  ["1.0+1", "1.0.1", -1],
  ["1.0.1", "1.0+1", 1],
  ["1.0-1", "1.0-2", -1],
  ["1.0-10", "1.0-9", 1],
  ["1.0-1", "1.0", 1],
  ["1:0.1", "2.0", 1],
  ["0:2.0", "2.0", 0],
  ["2:1.0", "10:0.1", -1],
  ["1.0-1ubuntu1", "1.0-1", 1],
  ["1.0-1~bpo12+1", "1.0-1", -1],
  ["1.0-1+deb12u1", "1.0-1", 1],
  ["1.0-1+deb12u1", "1.0-1+deb12u2", -1],
  ["2.36-9+deb12u7", "2.36-9+deb12u10", -1],
  ["1.2.3-4-5", "1.2.3-4-6", -1],
  ["a", "b", -1],
  ["1.0^1", "1.0", 1],
  ["7.4.052", "7.4.52", 0],
];

describe("Debian version comparison", () => {
  it.each(CASES)("%s vs %s -> %i", (a, b, want) => {
    expect(compareDebianVersions(a, b)).toBe(want);
    expect(compareDebianVersions(b, a)).toBe((-want || 0) as -1 | 0 | 1);
  });

  it.runIf(hasTool("dpkg"))("agrees with dpkg --compare-versions on every case", () => {
    for (const [a, b, want] of CASES) {
      const op = want < 0 ? "lt" : want > 0 ? "gt" : "eq";
      const r = spawnSync("dpkg", ["--compare-versions", a, op, b]);
      expect(r.status, `${a} ${op} ${b}`).toBe(0);
    }
  });

  it("splits epoch, upstream version and revision at the last '-'", () => {
    expect(parseDebianVersion("1:2.36-9+deb12u7")).toEqual({ epoch: 1, version: "2.36", release: "9+deb12u7" });
    expect(parseDebianVersion("1.2.3-4-5")).toEqual({ epoch: 0, version: "1.2.3-4", release: "5" });
    expect(parseDebianVersion("0.1")).toEqual({ epoch: 0, version: "0.1", release: "" });
    expect(formatDebianVersion(parseDebianVersion("1:2.0-1"))).toBe("1:2.0-1");
    expect(formatDebianVersion(parseDebianVersion("0:2.0"))).toBe("2.0");
  });

  it.each([[""], ["a:1.0"], [":1.0"], ["1:-1"], ["1.0 2"]])("refuses %j", (v) => {
    expect(() => parseDebianVersion(v)).toThrow(/invalid Debian version/);
  });

  it("verrevcmp treats an empty revision like dpkg", () => {
    expect(verrevcmp("", "")).toBe(0);
    expect(verrevcmp("", "0")).toBe(0);
    expect(verrevcmp("", "~")).toBe(1);
  });

  it("snapshot diff uses Debian order for apt repositories and keeps RPM order for rpm", () => {
    const before = [{ name: "delta", arch: "all", epoch: 0, version: "1.0+1", release: "1" }];
    const after = [{ name: "delta", arch: "all", epoch: 0, version: "1.0.1", release: "1" }];
    expect(diffPackageSets(before, after, versionComparator("apt")).updated).toMatchObject([{ name: "delta", direction: "upgrade" }]);
    // rpm treats '+' and '.' alike: no update
    expect(diffPackageSets(before, after, versionComparator("rpm")).updated).toEqual([]);
    expect(diffPackageSets(before, after).updated).toEqual([]);
  });
});
