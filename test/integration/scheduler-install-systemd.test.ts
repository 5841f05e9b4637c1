// `scheduler install-systemd --write` through the real CLI, as root: the dedicated user (refused when missing, or
// --create-user), its directories, and a sync, publish and backup run as that user with no capabilities and
// no_new_privs (the unit's User=, CapabilityBoundingSet= and NoNewPrivileges=, applied with setpriv: this host
// has no systemd to start the unit), the embedded PostgreSQL included.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { cliPath, makeConfigDir, repoRoot, runCli } from "../helpers/cli.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { hasTool } from "../helpers/tools.js";
import { until } from "../helpers/wait.js";

const isRoot = process.getuid?.() === 0;
const user = `chtest${process.pid}`;

function idOf(name: string): { uid: number; gid: number } | undefined {
  const u = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", name], { encoding: "utf8" });
  return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) } : undefined;
}

describe("scheduler install-systemd --host-name", () => {
  const configDir = makeConfigDir({ "config.yaml": "storage:\n  base_path: /var/lib/chantal-unit-test\n" });
  afterAll(() => rmSync(configDir, { recursive: true, force: true }));
  const cli = (...args: string[]) => runCli(["--config-dir", configDir, "scheduler", "install-systemd", ...args], { env: { CHANTAL_LOG_LEVEL: "warn" } });

  it("writes scheduler start --host-name NAME into ExecStart; without it, none", async () => {
    const r = await cli("--host-name", "mirror-b.example");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ExecStart=.* --config-dir \S+ scheduler start --host-name mirror-b\.example$/m);
    const plain = await cli();
    expect(plain.stdout).toMatch(/^ExecStart=.* scheduler start$/m);
  });

  it("refuses a name scheduler start would refuse, with the same message, and writes nothing", async () => {
    const unitPath = join(configDir, "unit.service");
    const r = await cli("--host-name", "a b", "--write", "--unit-path", unitPath);
    const start = await runCli(["--config-dir", configDir, "scheduler", "start", "--host-name", "a b"], { env: { CHANTAL_LOG_LEVEL: "warn" } });
    expect(r.code).toBe(2);
    expect(start.code).toBe(2);
    expect(r.stderr).toContain(`--host-name "a b": use letters, digits`);
    expect(start.stderr).toContain(r.stderr.trim());
    expect(existsSync(unitPath)).toBe(false);
  });
});

describe.runIf(isRoot && hasTool("setpriv") && hasTool("useradd"))("scheduler install-systemd --write (as root)", () => {
  let upstream: string;
  let server: StaticServer;
  let base: string;
  let configDir: string;
  let unitPath: string;
  const cli = (...args: string[]) => runCli(["--config-dir", configDir, ...args], { env: { CHANTAL_LOG_LEVEL: "warn" } });

  /** The CLI as the service user, without any capability, like the unit runs it. */
  function asServiceUser(...args: string[]) {
    const id = idOf(user)!;
    const argv = [
      `--reuid=${id.uid}`,
      `--regid=${id.gid}`,
      "--clear-groups",
      "--no-new-privs",
      "--inh-caps=-all",
      "--bounding-set=-all",
      process.execPath,
      cliPath,
      "--config-dir",
      configDir,
      ...args,
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, CHANTAL_FROM_SOURCE: "1", CHANTAL_LOG_LEVEL: "warn", HOME: base };
    delete env.CHANTAL_EMBEDDED_KEEP;
    // Not spawnSync: the upstream server runs in this process and must keep answering.
    return new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
      // From the checkout: the TypeScript sources resolve tsx from the working directory.
      const child = spawn("setpriv", argv, { env, cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
      child.on("error", reject);
      child.on("close", (status) => {
        clearTimeout(timer);
        resolve({ status, stderr });
      });
    });
  }

  beforeAll(async () => {
    upstream = mkdtempSync("/var/tmp/chantal-up-");
    await generateRpmRepo(upstream, 5, 2_000);
    chmodSync(upstream, 0o755);
    server = await startStaticServer({ root: upstream });
    base = mkdtempSync("/var/tmp/chantal-svc-");
    configDir = makeConfigDir({
      "config.yaml": `storage:\n  base_path: ${base}/data\nrepositories:\n  - id: r1\n    type: rpm\n    upstream_url: ${server.url}/\n`,
    });
    // A configuration every user may read, as /etc/chantal usually is.
    chmodSync(configDir, 0o755);
    chmodSync(join(configDir, "config.yaml"), 0o644);
    unitPath = join(configDir, "chantal-scheduler.service");
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    // The embedded PostgreSQL stops with its last client; the user goes only after it.
    if (idOf(user)) {
      await until("the service user's processes to end", () => spawnSync("pgrep", ["-u", user]).status !== 0, 60_000).catch(() => undefined);
      spawnSync("userdel", [user]);
    }
    for (const d of [upstream, base, configDir]) if (d) rmSync(d, { recursive: true, force: true });
  }, 90_000);

  it("refuses root as the service user", async () => {
    const r = await cli("scheduler", "install-systemd", "--user", "root");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unprivileged/);
  });

  it("refuses a missing user, naming the command that creates it, and writes nothing", async () => {
    expect(idOf(user)).toBeUndefined();
    const r = await cli("scheduler", "install-systemd", "--write", "--unit-path", unitPath, "--user", user);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`useradd --system --user-group --home-dir ${base}/data --no-create-home --shell /usr/sbin/nologin ${user}`);
    expect(r.stderr).toContain("--create-user");
    expect(existsSync(unitPath)).toBe(false);
    expect(idOf(user)).toBeUndefined();
  });

  it("--create-user creates the user, gives it the data directory and writes the unit for it; refused while a parent is 0700", async () => {
    const hidden = await cli("scheduler", "install-systemd", "--write", "--unit-path", unitPath, "--user", user, "--create-user");
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toContain(`user '${user}' cannot reach (read, execute, or write a directory): ${base}/data`);
    expect(existsSync(unitPath)).toBe(false);
    chmodSync(base, 0o755);
    const r = await cli("scheduler", "install-systemd", "--write", "--unit-path", unitPath, "--user", user);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const id = idOf(user)!;
    expect(id).toBeDefined();
    expect(statSync(join(base, "data")).uid).toBe(id.uid);
    const unit = readFileSync(unitPath, "utf8");
    expect(unit).toContain(`\nUser=${user}\nGroup=${user}\n`);
    expect(unit).toContain(`\nReadWritePaths=${base}/data\n`);
    expect(r.stdout).toContain(`runs as ${user}`);
  });

  it("as that user, without capabilities: sync (embedded PostgreSQL as the same user), publish and backup work", async () => {
    const id = idOf(user)!;
    const sync = await asServiceUser("repo", "sync", "--repo-id", "r1");
    expect(sync.stderr).toBe("");
    expect(sync.status).toBe(0);
    expect(existsSync(join(base, "data", "published", "r1", "latest", "repodata", "repomd.xml"))).toBe(true);
    expect(statSync(join(base, "data", "postgres")).uid).toBe(id.uid);
    const publish = await asServiceUser("publish", "repo", "--repo-id", "r1");
    expect(publish.status, publish.stderr).toBe(0);
    const backup = await asServiceUser("db", "backup");
    expect(backup.status, backup.stderr).toBe(0);
    const archives = readdirSync(join(base, "data", "backups")).filter((n) => n.endsWith(".tar.gz"));
    expect(archives).toHaveLength(1);
    expect(statSync(join(base, "data", "backups", archives[0]!)).uid).toBe(id.uid);
  });
});
