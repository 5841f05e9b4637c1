// Ctrl-C during a sync on a terminal: the bar is cleared first, the interruption logged once, exit 130, then silence.
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

/** The screen without colours and cursor movements. */
function plain(screen: string): string {
  // eslint-disable-next-line no-control-regex
  return screen.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "");
}

describeWithTools(["script", "bash"], "Ctrl-C on a terminal", () => {
  it("clears the bar before the one interruption line, exits 130, and writes nothing after", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 40, 16_384);
    env = await startSyncEnvironment({ upstream, faults: (req) => (req.path.endsWith(".rpm") ? { delayMs: 400 } : undefined) });
    // The shell after the CLI stands for the prompt: whatever the CLI writes late lands after EXIT=.
    const cli = `${process.execPath} ${cliPath} --config-dir ${env.configDir} repo sync --repo-id r1`;
    // script runs $SHELL: bash waits out a SIGINT its child handled, while dash (CI's /bin/sh when SHELL is unset) dies of it.
    const shellEnv = { ...process.env, CHANTAL_FROM_SOURCE: "1", SHELL: "/bin/bash" };
    const child = spawn("script", ["-qec", `${cli}; echo EXIT=$?; sleep 1; echo PROMPT`, "/dev/null"], { cwd: repoRoot, env: shellEnv });
    let screen = "";
    child.stdout.on("data", (d) => (screen += d));
    const end = Date.now() + 30_000;
    while (!/[1-9]\d*\/40 packages \|/.test(screen) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    child.stdin.write("\x03"); // typed into the pseudo-terminal: SIGINT to its foreground process group
    await new Promise((r) => child.on("close", r));

    const warnAt = screen.indexOf("interrupted: stopping cleanly");
    expect(warnAt, screen).toBeGreaterThan(0);
    // The bar's last drawing is erased (ESC[2K) before the message, and never drawn again after it.
    expect(screen.lastIndexOf("\x1b[2K", warnAt)).toBeGreaterThan(screen.lastIndexOf("packages |", warnAt));
    expect(screen.slice(warnAt)).not.toContain("packages |");
    const text = plain(screen);
    expect(text.match(/interrupt/gi), text).toHaveLength(2); // the one log line and the summary's status
    expect(text).toMatch(/^r1: interrupted in [\d.]+ s — \d+ packages downloaded \([\d.]+ MB\) are kept in the pool/m);
    expect(text).not.toMatch(/^error:/m);
    expect(text.endsWith("EXIT=130\r\nPROMPT\r\n"), JSON.stringify(text.slice(-200))).toBe(true);
    const cursorShown = screen.lastIndexOf("\x1b[?25h");
    expect(cursorShown).toBeGreaterThan(screen.lastIndexOf("\x1b[?25l"));
  });
});
