// Tests of core/schedule/systemd.ts.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { coveringDirectories, DEFAULT_UNIT_OPTIONS, renderSchedulerUnit, unitOptionsFor, unitWord } from "../../../core/schedule/systemd.js";
import { createUserCommand, directoriesToHandOver } from "../../../core/schedule/service-user.js";
import { schedulerHostName } from "../../../core/schedule/hosts.js";
import { UsageError } from "../../../core/errors.js";
import { makeConfigDir, repoRoot } from "../../helpers/cli.js";
import { describeWithTools } from "../../helpers/tools.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("the systemd unit", () => {
  it("rendered with the defaults is deploy/systemd/chantal-scheduler.service", () => {
    expect(renderSchedulerUnit(DEFAULT_UNIT_OPTIONS)).toBe(readFileSync(join(repoRoot, "deploy", "systemd", "chantal-scheduler.service"), "utf8"));
  });

  it("has the required settings", () => {
    const unit = renderSchedulerUnit(DEFAULT_UNIT_OPTIONS);
    for (const line of [
      "Type=simple",
      "After=network-online.target",
      "Wants=network-online.target",
      "NoNewPrivileges=yes",
      "PrivateTmp=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "ReadWritePaths=/var/lib/chantal",
      "Restart=on-failure",
      "WantedBy=multi-user.target",
      // The dedicated user, no capabilities, and the network families a sync needs.
      "User=chantal",
      "Group=chantal",
      "CapabilityBoundingSet=",
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
      "SystemCallFilter=@system-service",
      "SystemCallErrorNumber=EPERM",
      "ProtectKernelTunables=yes",
      "UMask=0022",
    ]) {
      expect(unit.split("\n")).toContain(line);
    }
    expect(unit).toMatch(/^ExecStart=\S+ --config-dir \/etc\/chantal scheduler start$/m);
    expect(unit).not.toMatch(/^ExecStart=.*--daemon/m);
    // Node's JIT needs writable executable memory.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
  });

  it.each([
    ["/usr/bin/node", "/usr/bin/node"],
    ["/srv/my repos", '"/srv/my repos"'],
    ["/data/100%", "/data/100%%"],
    ["/data/$HOME", "/data/$$HOME"],
    ['/a"b', '"/a\\"b"'],
  ])("unitWord(%s) = %s", (word, expected) => {
    expect(unitWord(word)).toBe(expected);
  });

  it("coveringDirectories keeps the outermost directories", () => {
    expect(coveringDirectories(["/var/lib/chantal", "/var/lib/chantal/pool", "/srv/published", "/var/lib/chantal-other", "/srv/published/"])).toEqual([
      "/srv/published",
      "/var/lib/chantal",
      "/var/lib/chantal-other",
    ]);
  });

  it("from a configuration: its paths, its grace period, ProtectHome read-only for paths under /root or /home", async () => {
    const configDir = makeConfigDir({
      "config.yaml":
        "storage:\n  base_path: /var/lib/chantal-test\n  published_path: /srv/www/mirror\nscheduler:\n  grace_period_seconds: 300\n  log_file: /var/log/chantal/scheduler.log\nbackup:\n  dir: /backup/chantal\n",
    });
    dirs.push(configDir);
    const loaded = await loadConfig({ configDir, env: {} });
    const o = unitOptionsFor(loaded, { nodePath: "/usr/bin/node", cliPath: "/opt/chantal/bin/chantal-run.js", user: "chantal" });
    expect(o.readWritePaths).toEqual(["/backup/chantal", "/srv/www/mirror", "/var/lib/chantal-test", "/var/log/chantal"]);
    expect(o.timeoutStopSec).toBe(330);
    expect(o.execStart).toEqual([
      "/usr/bin/node",
      "--max-old-space-size=1536",
      "/opt/chantal/bin/chantal-run.js",
      "--config-dir",
      configDir,
      "scheduler",
      "start",
    ]);
    expect(o.protectHome).toBe(configDir.startsWith("/root") || configDir.startsWith("/home") ? "read-only" : "yes");
    const unit = renderSchedulerUnit(o);
    expect(unit).toContain("User=chantal\nGroup=chantal\n");
    expect(unit).toContain("TimeoutStopSec=330\n");
    expect(o.privateTmp).toBe("no"); // this test's config directory is under /tmp
    const inHome = unitOptionsFor(loaded, { nodePath: "/root/.nvm/versions/node/v20/bin/node", cliPath: "/opt/chantal/bin/chantal-run.js" });
    expect(inHome.protectHome).toBe("read-only");
    expect(inHome.user).toBe("chantal");
    const tmpDir = makeConfigDir({ "config.yaml": "storage:\n  base_path: /tmp/chantal-data\n" });
    dirs.push(tmpDir);
    const inTmp = unitOptionsFor(await loadConfig({ configDir: tmpDir, env: {} }), { nodePath: "/usr/bin/node", cliPath: "/opt/chantal/bin/chantal-run.js" });
    expect(inTmp.privateTmp).toBe("no");
    const outside = unitOptionsFor({ ...loaded, dir: "/etc/chantal" }, { nodePath: "/usr/bin/node", cliPath: "/opt/chantal/bin/chantal-run.js" });
    expect(outside).toMatchObject({ privateTmp: "yes", protectHome: "yes" });
    expect(renderSchedulerUnit(inTmp)).toContain("\nPrivateTmp=no\n");
  });

  it("--host-name goes into ExecStart as scheduler start --host-name NAME; a name scheduler start refuses is refused", async () => {
    const configDir = makeConfigDir({ "config.yaml": "storage:\n  base_path: /var/lib/chantal-test\n" });
    dirs.push(configDir);
    const loaded = await loadConfig({ configDir, env: {} });
    const paths = { nodePath: "/usr/bin/node", cliPath: "/opt/chantal/bin/chantal-run.js" };
    expect(unitOptionsFor(loaded, { ...paths, hostName: "mirror-a.example" }).execStart.slice(-4)).toEqual([
      "scheduler",
      "start",
      "--host-name",
      "mirror-a.example",
    ]);
    expect(renderSchedulerUnit(unitOptionsFor(loaded, { ...paths, hostName: "mirror-a" }))).toMatch(/^ExecStart=.* scheduler start --host-name mirror-a$/m);
    expect(unitOptionsFor(loaded, paths).execStart.at(-1)).toBe("start");
    for (const bad of ["", "-x", "a b", "a/b", "é"]) {
      expect(() => unitOptionsFor(loaded, { ...paths, hostName: bad })).toThrow(UsageError);
      expect(() => unitOptionsFor(loaded, { ...paths, hostName: bad })).toThrow(
        (() => {
          try {
            schedulerHostName(bad);
          } catch (err) {
            return (err as Error).message;
          }
          throw new Error(`schedulerHostName accepts ${JSON.stringify(bad)}`);
        })(),
      );
    }
  });
});

/** The unit's overall exposure as systemd-analyze security --offline=true rates it (0 = locked down, 10 = exposed). */
function exposure(file: string): number {
  const r = spawnSync("systemd-analyze", ["security", "--offline=true", file], { encoding: "utf8" });
  const m = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(r.stdout);
  if (!m) throw new Error(`no exposure level in systemd-analyze's output:\n${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

describeWithTools(["systemd-analyze"], "the systemd unit, checked by systemd", () => {
  const shipped = join(repoRoot, "deploy", "systemd", "chantal-scheduler.service");

  it("systemd-analyze security rates the shipped unit at most 4.0 (OK)", () => {
    expect(exposure(shipped)).toBeLessThanOrEqual(4.0);
  });

  it("systemd-analyze security rates a unit rendered from a configuration at most 4.0 (OK)", async () => {
    const configDir = makeConfigDir({
      "config.yaml":
        "storage:\n  base_path: /var/lib/chantal-test\n  published_path: /srv/www/mirror\nscheduler:\n  log_file: /var/log/chantal/scheduler.log\nbackup:\n  dir: /backup/chantal\n",
    });
    dirs.push(configDir);
    const loaded = await loadConfig({ configDir, env: {} });
    const file = join(configDir, "chantal-scheduler.service");
    writeFileSync(file, renderSchedulerUnit(unitOptionsFor(loaded, { nodePath: process.execPath, cliPath: join(repoRoot, "bin", "chantal-run.js") })));
    expect(exposure(file)).toBeLessThanOrEqual(4.0);
  });

  // verify checks that ExecStart exists: /usr/local/bin/chantal-run, where the README's install puts it, is
  // provided in a private mount namespace (root only), so nothing on the host changes.
  it.runIf(process.getuid?.() === 0 || process.env.CHANTAL_REQUIRE_TOOLS === "1")(
    "systemd-analyze verify accepts the shipped unit where chantal-run is in /usr/local/bin",
    () => {
      const script = `mount -t tmpfs tmpfs /usr/local/bin && ln -s "$1" /usr/local/bin/chantal-run && systemd-analyze verify "$2"`;
      const r = spawnSync("unshare", ["--mount", "sh", "-c", script, "sh", join(repoRoot, "bin", "chantal-run.js"), shipped], { encoding: "utf8" });
      expect(r.stderr.trim()).toBe("");
      expect(r.status).toBe(0);
    },
  );

  it.each([[[]], [["--host-name", "mirror-a.example"]]])("systemd-analyze verify accepts the unit that install-systemd renders (%j)", (extra) => {
    const dir = mkdtempSync(join(tmpdir(), "chantal-unit-"));
    dirs.push(dir);
    const unit = renderSchedulerUnit({
      ...DEFAULT_UNIT_OPTIONS,
      execStart: [process.execPath, join(repoRoot, "bin", "chantal-run.js"), "--config-dir", dir, "scheduler", "start", ...extra],
      readWritePaths: [dir],
    });
    expect(unit).toContain(`scheduler start${extra.length ? ` ${extra.join(" ")}` : ""}\n`);
    const file = join(dir, "chantal-scheduler.service");
    writeFileSync(file, unit);
    const r = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
    expect(r.stderr.trim()).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("the service user", () => {
  it("is created as a system user with its own group, no login shell, home at the data directory", () => {
    expect(createUserCommand("chantal", "/var/lib/chantal")).toEqual([
      "useradd",
      "--system",
      "--user-group",
      "--home-dir",
      "/var/lib/chantal",
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      "chantal",
    ]);
  });

  it.each<[string[], { chown: string[]; shared: string[] }]>([
    [["/var/lib/chantal"], { chown: ["/var/lib/chantal"], shared: [] }],
    [["/var/lib/chantal", "/var/log", "/srv/mirror"], { chown: ["/var/lib/chantal", "/srv/mirror"], shared: ["/var/log"] }],
    [["/run", "/tmp", "/var/lib/", "/srv"], { chown: [], shared: ["/run", "/tmp", "/var/lib/", "/srv"] }],
  ])("directoriesToHandOver(%j): chown -R only Chantal's own directories", (dirs, expected) => {
    expect(directoriesToHandOver(dirs)).toEqual(expected);
  });
});
