// Every source file opens with its purpose line (docs/DESIGN.md, "Conventions"), so a new file cannot skip it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** The first line that says something, after an optional shebang: a comment, or undefined when the file has none. */
function purposeLine(text: string): string | undefined {
  const lines = text.split("\n");
  const first = lines[0]?.startsWith("#!") ? lines[1] : lines[0];
  return first !== undefined && /^\s*(\/\/|\/\*)\s*\S/.test(first) ? first : undefined;
}

describe("purpose lines", () => {
  it("reads a comment, after a shebang too, and refuses code or an empty comment", () => {
    expect(purposeLine("// Does X.\nimport y;\n")).toBe("// Does X.");
    expect(purposeLine("#!/usr/bin/env node\n// Runs X.\n")).toBe("// Runs X.");
    expect(purposeLine("/** Does Y. */\n")).toBe("/** Does Y. */");
    expect(purposeLine('import { x } from "y";\n// later\n')).toBeUndefined();
    expect(purposeLine("//\nimport y;\n")).toBeUndefined();
    expect(purposeLine("")).toBeUndefined();
  });

  it("every tracked TypeScript and JavaScript file has one", () => {
    const files = execFileSync("git", ["ls-files", "*.ts", "*.js", "*.cjs", "*.mjs"], { cwd: repoRoot, encoding: "utf8" })
      .split("\n")
      .filter((f) => f !== "");
    expect(files.length).toBeGreaterThan(100);
    const without = files.filter((f) => purposeLine(readFileSync(`${repoRoot}${f}`, "utf8")) === undefined);
    expect(without).toEqual([]);
  });
});
