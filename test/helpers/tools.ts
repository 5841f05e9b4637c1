// End-to-end tests need real tools (dnf, createrepo_c, ...): skipped with a message locally, a failure in CI.
import { spawnSync } from "node:child_process";
import { describe, it } from "vitest";

export function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

/** For skipIf: true only when the tool is missing AND we are not in CI (where the test must run, and fail). */
export function toolMissing(name: string): boolean {
  if (hasTool(name) || process.env.CHANTAL_REQUIRE_TOOLS === "1") return false;
  console.warn(`SKIPPED a test that needs ${name} (apt-get install it)`);
  return true;
}

export function missingTools(names: readonly string[]): string[] {
  return names.filter((n) => !hasTool(n));
}

/** describe() when every tool is installed; otherwise a skip locally, or a failing test when CHANTAL_REQUIRE_TOOLS=1 (CI). */
export function describeWithTools(tools: readonly string[], title: string, body: () => void): void {
  const missing = missingTools(tools);
  if (missing.length === 0) {
    describe(title, body);
    return;
  }
  const message = `${title}: needs ${missing.join(", ")} (apt-get install ${missing.join(" ")})`;
  if (process.env.CHANTAL_REQUIRE_TOOLS === "1") {
    describe(title, () =>
      it("has the tools it needs", () => {
        throw new Error(`missing tools in CI: ${message}`);
      }),
    );
  } else {
    console.warn(`SKIPPED ${message}`);
    describe.skip(title, body);
  }
}
