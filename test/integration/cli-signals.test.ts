// SIGINT/SIGTERM at the edges of a CLI run: during start-up (before the command runs) and once the command has
// finished (the process about to exit): always handled, never the default action that kills the process. The same
// for the scheduler daemon, whose stop is exit 0 and whose SIGHUP is a reload.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../core/db/migrate.js";
import { repoRoot, spawnCli } from "../helpers/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

// On Node 24 the main thread waits for the module-hooks thread while an import resolves, so the "start" hold stops
// the CLI's event loop too and a signal is only handled after start-up: those tests need the loop to run (Node 20).
const startHoldWorks = Number(process.versions.node.split(".")[0]) < 24;
if (!startHoldWorks) console.warn(`SKIPPED the start-up hold tests: the module-hooks hold blocks the main thread on Node ${process.versions.node}`);

const holdDirs: string[] = [];
afterEach(() => {
  for (const d of holdDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The CLI with test/helpers/hold-process.mjs: it stops at `at` until go(). */
function heldCli(args: string[], at: "start" | "exit", env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "chantal-hold-"));
  holdDirs.push(dir);
  const preload = pathToFileURL(join(repoRoot, "test", "helpers", "hold-process.mjs")).href;
  const cmd = spawnCli(args, {
    env: { ...env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${preload}`.trim(), CHANTAL_TEST_HOLD_DIR: dir, CHANTAL_TEST_HOLD_AT: at },
  });
  return {
    ...cmd,
    held: () => until(`the CLI held at ${at}`, () => existsSync(join(dir, "held"))),
    /** Signal it where it is held, give the signal time to be handled (or to kill), then let it go on. */
    async signalHeld(signal: NodeJS.Signals) {
      cmd.child.kill(signal);
      await new Promise((r) => setTimeout(r, 200));
      writeFileSync(join(dir, "go"), "");
    },
  };
}

/** `config validate` held at `at`, signalled there, then let go. */
async function signalledAt(at: "start" | "exit", signal: NodeJS.Signals) {
  const cmd = heldCli(["config", "validate", "--config-dir", join(repoRoot, "examples/config")], at);
  await cmd.held();
  await cmd.signalHeld(signal);
  return cmd.result;
}

describe("a signal during start-up, before the command runs", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it.skipIf(!startHoldWorks)(`${signal}: the command does not run, exit ${code}`, async () => {
      const r = await signalledAt("start", signal);
      expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
      expect(r.stderr).toContain(`error: interrupted by ${signal} before the command started`);
      expect(r.stdout).not.toContain("configuration is valid");
    });
  }
});

it.skipIf(!startHoldWorks)("SIGHUP during start-up of a command that does not reload: it still ends the process, as by default", async () => {
  const r = await signalledAt("start", "SIGHUP");
  expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: "SIGHUP" });
  expect(r.stdout).not.toContain("configuration is valid");
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

describe("scheduler start", () => {
  let upstream: string;
  let env: SyncEnvironment;
  beforeAll(async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-sigs-up-")); // never read: nothing is scheduled
    env = await startSyncEnvironment({ upstream });
    await migrate(env.pg);
  });
  afterAll(async () => {
    await env?.close();
    rmSync(upstream, { recursive: true, force: true });
  });
  const daemon = (at: "start" | "exit") => heldCli(["--config-dir", env.configDir, "scheduler", "start"], at, { CHANTAL_LOG_LEVEL: "info" });
  const logged = (d: { output(): string }, msg: string) =>
    d
      .output()
      .split("\n")
      .some((l) => l.startsWith("{") && (JSON.parse(l) as { msg?: string }).msg === msg);

  it.skipIf(!startHoldWorks)("SIGHUP during start-up: applied as a reload once the scheduler runs, not the end of the process", async () => {
    const d = daemon("start");
    await d.held();
    await d.signalHeld("SIGHUP");
    await until("the reload after the start", () => {
      if (d.child.exitCode !== null || d.child.signalCode !== null) throw new Error(`the scheduler ended: ${d.child.exitCode ?? d.child.signalCode}`);
      return logged(d, "configuration reloaded");
    });
    expect(d.child.exitCode).toBeNull();
    d.child.kill("SIGTERM");
    const r = await d.result;
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
  });

  it.skipIf(!startHoldWorks)("SIGTERM during start-up: a clean stop before it runs, exit 0", async () => {
    const d = daemon("start");
    await d.held();
    await d.signalHeld("SIGTERM");
    const r = await d.result;
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    expect(logged(d, "stopped by SIGTERM before it started")).toBe(true);
    expect(logged(d, "scheduler started")).toBe(false);
  });

  it("SIGHUP and SIGTERM once it has stopped, while the process exits: ignored, exit 0", async () => {
    for (const late of ["SIGHUP", "SIGTERM"] as const) {
      const d = daemon("exit");
      await until("the scheduler started", () => logged(d, "scheduler started"));
      d.child.kill("SIGTERM");
      await d.held();
      await d.signalHeld(late);
      const r = await d.result;
      expect({ late, code: r.code, signal: r.signal }).toEqual({ late, code: 0, signal: null });
      expect(logged(d, "scheduler stopped")).toBe(true);
    }
  });
});
