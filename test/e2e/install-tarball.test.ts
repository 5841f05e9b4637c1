// Install like a user: npm pack, npm install -g of the tarball with --omit=dev into a scratch prefix, then the
// installed chantal-run from outside the checkout: --help, config validate, and db status on the embedded database.
import { spawn } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/cli.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 240_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("the packed tarball, installed with npm install -g --omit=dev", () => {
  let scratch: string;
  let prefix: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-install-"));
    chmodSync(scratch, 0o755);
    // Packed from a copy of the sources: "prepare" rebuilds dist/, which the checkout's other tests must keep.
    const source = join(scratch, "source");
    for (const entry of [
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "README.md",
      "bin",
      "core",
      "functions",
      "examples",
      "deploy",
      "scripts",
    ]) {
      cpSync(join(repoRoot, entry), join(source, entry), { recursive: true, filter: (from) => !from.startsWith(join(repoRoot, "dist")) });
    }
    symlinkSync(join(repoRoot, "node_modules"), join(source, "node_modules"));
    const pack = await run("npm", ["pack", "--pack-destination", scratch], { cwd: source });
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = readdirSync(scratch).find((n) => /^chantal-.*\.tgz$/.test(n));
    expect(tarball).toBeDefined();
    prefix = join(scratch, "prefix");
    // Never the real global prefix; the registry (or npm's cache) provides the production dependencies.
    const install = await run("npm", ["install", "-g", "--prefix", prefix, "--omit=dev", "--no-audit", "--no-fund", join(scratch, tarball!)], { cwd: scratch });
    expect(install.code, install.stderr).toBe(0);
    // Only what a user's shell has: the prefix's bin first, no checkout-specific variables.
    env = { PATH: `${join(prefix, "bin")}:${process.env.PATH}`, HOME: scratch, LANG: "C.UTF-8" };
  }, 300_000);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("puts chantal-run and chantal on the PATH, and --help works outside the checkout", async () => {
    for (const name of ["chantal-run", "chantal"]) {
      expect(existsSync(join(prefix, "bin", name))).toBe(true);
      const help = await run(name, ["--help"], { cwd: scratch, env });
      expect(help.stderr).toBe("");
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: chantal-run/);
    }
  });

  it("installs no build-only package (sst, typescript, tsx, vitest, esbuild) and runs from dist/", () => {
    const installed = join(prefix, "lib", "node_modules", "chantal");
    const modules = readdirSync(join(installed, "node_modules"));
    for (const buildOnly of ["sst", "typescript", "tsx", "vitest", "esbuild", "@types"]) expect(modules).not.toContain(buildOnly);
    expect(existsSync(join(installed, "dist", "bin", "main.js"))).toBe(true);
    expect(existsSync(join(installed, "core", "db", "migrations"))).toBe(true);
    expect(existsSync(join(installed, "test"))).toBe(false);
  });

  it("config validate and db status (embedded PostgreSQL, migrations from the package) work", async () => {
    const configDir = join(scratch, "etc");
    const base = join(scratch, "data");
    mkdirSync(configDir);
    mkdirSync(base);
    writeFileSync(
      join(configDir, "config.yaml"),
      `storage:\n  base_path: ${base}\nrepositories:\n  - id: r1\n    type: rpm\n    upstream_url: http://127.0.0.1:9/\n    enabled: false\n`,
    );
    const validate = await run("chantal-run", ["--config-dir", configDir, "config", "validate"], { cwd: scratch, env });
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/configuration is valid/);
    // As root the embedded PostgreSQL would run as 'postgres'; run as nobody, as a service user would.
    const asNobody = process.getuid?.() === 0;
    if (asNobody) {
      chownSync(base, 65534, 65534);
      chmodSync(configDir, 0o755);
    }
    const args = ["--config-dir", configDir, "db", "migrate"];
    const migrate = asNobody
      ? await run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", join(prefix, "bin", "chantal-run"), ...args], { cwd: scratch, env })
      : await run("chantal-run", args, { cwd: scratch, env });
    expect(migrate.code, migrate.stderr).toBe(0);
    const status = asNobody
      ? await run(
          "setpriv",
          ["--reuid=65534", "--regid=65534", "--clear-groups", join(prefix, "bin", "chantal-run"), "--config-dir", configDir, "db", "status"],
          { cwd: scratch, env },
        )
      : await run("chantal-run", ["--config-dir", configDir, "db", "status"], { cwd: scratch, env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/\(embedded\)/);
    expect(status.stdout).toMatch(/schema version:\s+0\d{3}_/);
  });
});
