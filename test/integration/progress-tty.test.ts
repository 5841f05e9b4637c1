// On a terminal, repo sync shows a progress bar (packages, MB, rate) instead of JSON progress lines.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { cliPath, repoRoot } from "../helpers/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let env: SyncEnvironment | undefined;
let upstream: string | undefined;
afterAll(async () => {
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

/** Runs a command under `script`, which gives it a pseudo-terminal, and returns what the terminal showed. */
function onTerminal(command: string): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], { cwd: repoRoot, env: { ...process.env, CHANTAL_FROM_SOURCE: "1" } });
    let screen = "";
    child.stdout.on("data", (d) => (screen += d));
    child.on("close", (code) => resolve({ code, screen }));
  });
}

/** The screen without colours and cursor movements. */
function plain(screen: string): string {
  // eslint-disable-next-line no-control-regex
  return screen.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "");
}

describeWithTools(["script"], "progress on a terminal", () => {
  it("draws a bar with packages, megabytes and rate, and no JSON progress lines", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 30, 16_384);
    env = await startSyncEnvironment({ upstream, faults: (req) => (req.path.endsWith(".rpm") ? { delayMs: 40 } : undefined) });
    const r = await onTerminal(`${process.execPath} ${cliPath} --config-dir ${env.configDir} repo sync --repo-id r1`);
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).toMatch(/r1 \[[^\]]+\] \d+\/30 packages \| [\d.]+\/0\.5 MB \| [\d.]+ MB\/s/);
    expect(r.screen).not.toContain('"msg":"download progress"');
    expect(r.screen).toMatch(/r1: success — 30 packages, 30 downloaded/);
    // The bar and the summary only: no migration, plan or structured result blocks, no unfilled bar placeholders.
    expect(plain(r.screen)).not.toMatch(/INFO|WARN|database migrated|\bplan\b|sync success|packagesTotal/);
    expect(r.screen).not.toContain("{mbDone}");
  });

  it("-q draws no bar and logs nothing below error; the summary stays on stdout", async () => {
    const r = await onTerminal(`${process.execPath} ${cliPath} -q --config-dir ${env!.configDir} repo sync --repo-id r1 --full`);
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).not.toContain("packages |");
    expect(plain(r.screen)).not.toMatch(/INFO|WARN/);
    expect(r.screen).toMatch(/r1: (success|noop) — 30 packages/);
  });

  it("--verbose (and --log-level debug) still shows the structured blocks", async () => {
    const r = await onTerminal(`${process.execPath} ${cliPath} --log-level debug --config-dir ${env!.configDir} repo sync --repo-id r1`);
    expect(r.code, r.screen).toBe(0);
    expect(plain(r.screen)).toMatch(/DEBUG: sync noop/);
  });
});
