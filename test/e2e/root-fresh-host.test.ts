// As root on a fresh host: the real CLI creates a missing base_path and its parents, starts its own embedded
// PostgreSQL (as 'postgres') under it, syncs from 127.0.0.1, and leaves a published tree a web server user can read.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli, type CliResult } from "../helpers/cli.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";

const asRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const modeOf = (p: string) => statSync(p).mode & 0o7777;
const ownerOf = (p: string) => statSync(p).uid;

/** A fresh /tmp/<random> (0755, as /var/lib is) that holds nothing yet. */
function freshTop(): string {
  const top = mkdtempSync(join(tmpdir(), "chantal-fresh-"));
  chmodSync(top, 0o755);
  cleanups.push(() => rmSync(top, { recursive: true, force: true }));
  return top;
}

// The CLI stops its server when the last command ends; should a test fail before that, stop it here.
function stopLeftoverServer(base: string): void {
  const pidFile = join(base, "postgres", "data", "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, "SIGINT"); // fast shutdown
    } catch {
      /* already gone */
    }
  }
}

/** Processes whose command line names `path`: a postmaster or backend of this base path still running. */
function processesUsing(path: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmdline.includes(path)) found.push(`${pid}: ${cmdline}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

// No database.url and no DATABASE_URL: the CLI must start its own embedded server under the new base path.
function cli(configDir: string, ...args: string[]): Promise<CliResult> {
  return runCli(["--config-dir", configDir, ...args], {
    env: { DATABASE_URL: undefined, CHANTAL_DATABASE_URL: undefined, CHANTAL_EMBEDDED_KEEP: undefined, CHANTAL_LOG_LEVEL: "warn" },
    timeoutMs: 180_000,
  });
}

/** Reads `file` as an unprivileged user (what nginx's worker is), through every directory above it. */
function readAs(uid: number, file: string): Promise<{ code: number | null; bytes: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("cat", [file], { uid, gid: uid, cwd: "/" });
    let bytes = 0;
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (bytes += d.length));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, bytes, stderr }));
  });
}

function walk(dir: string): { dirs: string[]; files: string[] } {
  const dirs: string[] = [dir];
  const files: string[] = [];
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    if (e.isDirectory()) dirs.push(p);
    else if (e.isFile()) files.push(p);
  }
  return { dirs, files };
}

describe.skipIf(!asRoot)("as root, with a storage.base_path that does not exist yet", () => {
  let server: StaticServer;

  it("two concurrent first syncs both succeed; parents are 0755, only postgres/ is private, the tree is web-readable, no server is left", async () => {
    const upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    cleanups.push(() => rmSync(upstream, { recursive: true, force: true }));
    await generateRpmRepo(upstream, 6, 2_000);
    server = await startStaticServer({ root: upstream });
    cleanups.push(() => server.close());

    const top = freshTop();
    const base = join(top, "a", "b", "chantal");
    cleanups.push(() => stopLeftoverServer(base));
    const repos = ["r1", "r2"].map((id) => `  - id: ${id}\n    type: rpm\n    upstream_url: ${server.url}/\n`).join("");
    const configDir = makeConfigDir({ "config.yaml": `storage:\n  base_path: ${base}\nrepositories:\n${repos}` });
    cleanups.push(() => rmSync(configDir, { recursive: true, force: true }));

    // A hardened root umask: the modes must come from Chantal, not from the umask.
    const savedUmask = process.umask(0o077);
    let results: CliResult[];
    try {
      results = await Promise.all([cli(configDir, "repo", "sync", "--repo-id", "r1"), cli(configDir, "repo", "sync", "--repo-id", "r2")]);
    } finally {
      process.umask(savedUmask);
    }
    for (const r of results) expect(r.code, r.stdout + r.stderr).toBe(0);
    // One shared pool: whichever sync is second may find the blobs already there.
    expect(results[0]!.stdout).toMatch(/r1: success — 6 packages/);
    expect(results[1]!.stdout).toMatch(/r2: success — 6 packages/);

    for (const p of [join(top, "a"), join(top, "a", "b"), base]) {
      expect(modeOf(p), p).toBe(0o755);
      expect(ownerOf(p), p).toBe(0);
    }
    const pgUid = Number(
      await new Promise<string>((resolve) => {
        const id = spawn("id", ["-u", "postgres"]);
        let out = "";
        id.stdout.on("data", (d: Buffer) => (out += d.toString()));
        id.on("close", () => resolve(out.trim()));
      }),
    );
    expect(modeOf(join(base, "postgres"))).toBe(0o700);
    expect(ownerOf(join(base, "postgres"))).toBe(pgUid);
    expect(modeOf(join(base, "pool"))).toBe(0o755);
    expect(modeOf(join(base, "pool", ".tmp"))).toBe(0o700);
    expect(modeOf(join(base, "published"))).toBe(0o755);

    for (const id of ["r1", "r2"]) {
      const tree = walk(join(base, "published", id));
      expect(tree.files.length).toBeGreaterThanOrEqual(6 + 1);
      for (const d of tree.dirs) expect(modeOf(d), d).toBe(0o755);
      for (const f of tree.files) expect(modeOf(f), f).toBe(0o644);
      // What a web server worker sees, through the `latest` symlink.
      const repomd = await readAs(65534, join(base, "published", id, "latest", "repodata", "repomd.xml"));
      expect(repomd.code, repomd.stderr).toBe(0);
      expect(repomd.bytes).toBeGreaterThan(0);
    }

    // The last command stopped the server it started: nothing of this base path runs any more.
    expect(existsSync(join(base, "postgres", "data", "postmaster.pid"))).toBe(false);
    expect(processesUsing(base)).toEqual([]);
  }, 240_000);

  it("names the 0700 parent that keeps the postgres user out, and a fix that is not the failing path", async () => {
    const top = freshTop();
    const locked = join(top, "locked");
    mkdirSync(locked, { mode: 0o700 });
    chmodSync(locked, 0o700);
    const base = join(locked, "srv", "chantal");
    cleanups.push(() => stopLeftoverServer(base));
    const configDir = makeConfigDir({
      "config.yaml": `storage:\n  base_path: ${base}\nrepositories:\n  - id: r1\n    type: rpm\n    upstream_url: http://127.0.0.1:9/\n`,
    });
    cleanups.push(() => rmSync(configDir, { recursive: true, force: true }));

    const r = await cli(configDir, "repo", "sync", "--repo-id", "r1");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${locked} (mode 0700, owner root) is not searchable by it`);
    expect(r.stderr).toContain(`chmod o+x ${locked}"`);
    expect(r.stderr).not.toContain(`chmod o+x ${base}`);
    expect(r.stderr).not.toMatch(/such as \/var\/lib\/chantal/);
    // What Chantal created below the blocker is traversable, so chmod o+x on the blocker is the whole fix.
    expect([join(locked, "srv"), base].map(modeOf)).toEqual([0o755, 0o755]);

    chmodSync(locked, 0o711);
    const again = await cli(configDir, "db", "status");
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(existsSync(join(base, "postgres", "data", "postmaster.pid"))).toBe(false);
    expect(processesUsing(base)).toEqual([]);
  }, 240_000);
});
