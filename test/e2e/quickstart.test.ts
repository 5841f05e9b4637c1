// The README's first command: a real (APT) sync with the real CLI on the embedded database, which stops afterwards.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, chmodSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "chantal-quickstart-"));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function quickstart(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, CHANTAL_QUICKSTART_DIR: dir, CHANTAL_FROM_SOURCE: "1" };
    delete env.CHANTAL_QUICKSTART_URL;
    delete env.DATABASE_URL;
    delete env.CHANTAL_DATABASE_URL;
    const child = spawn("npm", ["run", "-s", "quickstart"], { cwd: repoRoot, env });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("npm run quickstart", () => {
  it("syncs the signed demo APT suite twice (the second a no-op), publishes it, and leaves no server running", async () => {
    const r = await quickstart();
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/quickstart: success — 40 packages, 40 downloaded/);
    expect(r.output).toMatch(/quickstart: noop/);
    expect(readdirSync(join(dir, "published/quickstart/latest/dists/demo"))).toContain("InRelease");
    expect(r.output).toMatch(/deb \[signed-by=\S+demo-archive-keyring\.gpg\] file:\S+\/published\/quickstart\/latest demo main/);
    expect(existsSync(join(dir, "postgres/data/postmaster.pid"))).toBe(false);
  }, 180_000);
});
