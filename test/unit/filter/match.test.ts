// Tests of core/filter/match.ts: globs and re: patterns, whole-name matching.
import { describe, expect, it } from "vitest";
import { compilePatterns } from "../../../core/filter/match.js";

describe("compilePatterns", () => {
  const cases: [string[], string, boolean][] = [
    [["kernel*"], "kernel", true],
    [["kernel*"], "kernel-core", true],
    [["kernel*"], "akernel", false],
    [["*-debuginfo"], "bash-debuginfo", true],
    [["*-debuginfo"], "bash-debuginfo-common", false],
    [["python3-?"], "python3-a", true],
    [["python3-?"], "python3-ab", false],
    [["g++"], "g++", true],
    [["g++"], "gg", false],
    [["lib.so"], "libxso", false],
    [["re:^python3-(requests|urllib3)$"], "python3-requests", true],
    [["re:python3-(requests|urllib3)"], "python3-requests-toolbelt", false],
    [["re:open.*"], "openssh", true],
    [["aircrack*", "re:^nmap$"], "nmap", true],
    [["aircrack*", "re:^nmap$"], "nmap-ncat", false],
    [[], "anything", false],
  ];
  it.each(cases)("%j on %s is %s", (patterns, name, expected) => {
    expect(compilePatterns(patterns)(name)).toBe(expected);
  });
});
