// SIGINT/SIGTERM at the edges of a CLI run: during start-up (before the command runs) and once the command has
// finished (the process about to exit): always handled, never the default action that kills the process.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot, spawnCli } from "../helpers/cli.js";
import { until } from "../helpers/wait.js";

const holdDirs: string[] = [];
afterEach(() => {
  for (const d of holdDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** `config validate` held at `at` (test/helpers/hold-process.mjs), signalled there, then let go. */
async function signalledAt(at: "start" | "exit", signal: NodeJS.Signals) {
  const dir = mkdtempSync(join(tmpdir(), "chantal-hold-"));
  holdDirs.push(dir);
  const preload = pathToFileURL(join(repoRoot, "test", "helpers", "hold-process.mjs")).href;
  const cmd = spawnCli(["config", "validate", "--config-dir", join(repoRoot, "examples/config")], {
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${preload}`.trim(), CHANTAL_TEST_HOLD_DIR: dir, CHANTAL_TEST_HOLD_AT: at },
  });
  await until(`the CLI held at ${at}`, () => existsSync(join(dir, "held")));
  cmd.child.kill(signal);
  await new Promise((r) => setTimeout(r, 200)); // the signal is handled (or kills) while still held
  writeFileSync(join(dir, "go"), "");
  return cmd.result;
}

describe("a signal during start-up, before the command runs", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${signal}: the command does not run, exit ${code}`, async () => {
      const r = await signalledAt("start", signal);
      expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
      expect(r.stderr).toContain(`error: interrupted by ${signal} before the command started`);
      expect(r.stdout).not.toContain("configuration is valid");
    });
  }
});

describe("a signal after the command finished, while the process exits", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal}: the command's own exit code stands`, async () => {
      const r = await signalledAt("exit", signal);
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
      expect(r.stdout).toContain("configuration is valid");
    });
  }
});
