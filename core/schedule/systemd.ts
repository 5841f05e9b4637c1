// The systemd unit of the scheduler: rendered from the configuration by `scheduler install-systemd`; with the
// defaults it is byte for byte deploy/systemd/chantal-scheduler.service (a unit test keeps the two in step).
import { dirname, resolve, sep } from "node:path";
import type { LoadedConfig } from "../config/load.js";
import { schedulerHostName } from "./hosts.js";
import { schedulerPaths } from "./pidfile.js";
import { NODE_FLAGS } from "../node-flags.js";

export interface UnitOptions {
  /** The foreground command, as argv. */
  execStart: string[];
  /** Directories the service may write (everything else is read-only under ProtectSystem=strict). */
  readWritePaths: string[];
  /** Above scheduler.grace_period_seconds, so that systemd never kills a shutdown that is still within its grace. */
  timeoutStopSec: number;
  /** "read-only" when something the service needs lives under /home, /root or /run/user. */
  protectHome: "yes" | "read-only";
  /** "no" only when data or configuration lives under /tmp or /var/tmp, which a private /tmp would hide. */
  privateTmp: "yes" | "no";
  /** The unprivileged user (and its group) the service runs as; never root. */
  user: string;
}

/** The dedicated system user the unit runs as unless --user names another. */
export const DEFAULT_SERVICE_USER = "chantal";

export const DEFAULT_UNIT_OPTIONS: UnitOptions = {
  execStart: ["/usr/local/bin/chantal-run", "--config-dir", "/etc/chantal", "scheduler", "start"],
  readWritePaths: ["/var/lib/chantal"],
  timeoutStopSec: 90,
  protectHome: "yes",
  privateTmp: "yes",
  user: DEFAULT_SERVICE_USER,
};

export const UNIT_NAME = "chantal-scheduler.service";
export const DEFAULT_UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;

/** One word of a unit line: % and $ escaped, quoted when it has blanks, quotes or backslashes. */
export function unitWord(word: string): string {
  const escaped = word.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"` : escaped;
}

export function renderSchedulerUnit(o: UnitOptions): string {
  return `# Chantal scheduler: runs the scheduled repository syncs in the foreground (Type=simple; never --daemon here).
# Install: chantal-run scheduler install-systemd --write, then systemctl daemon-reload && systemctl enable --now chantal-scheduler
[Unit]
Description=Chantal repository mirror scheduler
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${o.execStart.map(unitWord).join(" ")}
# systemctl reload re-reads the configuration (SIGHUP); an invalid one is logged and the old one kept.
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM stops new runs and gives running syncs scheduler.grace_period_seconds before aborting them cleanly.
TimeoutStopSec=${o.timeoutStopSec}
# Only the daemon gets SIGTERM: an embedded PostgreSQL it started may still serve other chantal commands,
# and stops by itself when its last client is gone.
KillMode=process
Restart=on-failure
RestartSec=10
# Unprivileged: the embedded PostgreSQL runs as this user too, and every directory below ReadWritePaths is its own.
User=${o.user}
Group=${o.user}
# The pool and published trees stay readable by the web server that serves them.
UMask=0022
# Parallel downloads plus an embedded PostgreSQL need more than the default 1024 descriptors.
LimitNOFILE=65536
# Hardening: systemd-analyze security rates this 1.3 "OK" (a test keeps it at most 4.0). The service needs
# the network (upstreams, proxies, PostgreSQL) and ReadWritePaths, and no capability at all.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
PrivateTmp=${o.privateTmp}
PrivateDevices=yes
DevicePolicy=closed
PrivateMounts=yes
ProtectSystem=strict
ProtectHome=${o.protectHome}
ReadWritePaths=${o.readWritePaths.map(unitWord).join(" ")}
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
# Netlink: glibc's getaddrinfo asks it which address families the host has.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
# No MemoryDenyWriteExecute: Node's JIT compiler needs writable executable memory.
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
# A filtered call fails with EPERM (Node and PostgreSQL fall back) instead of killing the process.
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`;
}

const isUnder = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** The smallest set of directories that covers every path (a directory inside another listed one is dropped). */
export function coveringDirectories(paths: readonly string[]): string[] {
  const unique = [...new Set(paths.map((p) => resolve(p)))].sort();
  return unique.filter((p) => !unique.some((q) => q !== p && isUnder(p, q)));
}

/** Every directory the scheduler writes: storage paths, backups, and the directories of its pid and log files. */
export function schedulerWritableDirectories(loaded: LoadedConfig): string[] {
  const { storage, backup } = loaded.config;
  const { pidFile, logFile } = schedulerPaths(loaded);
  const paths = [storage.base_path, storage.pool_path, storage.published_path, storage.temp_path, backup.dir, dirname(pidFile), dirname(logFile)];
  return coveringDirectories(paths.filter((p): p is string => typeof p === "string"));
}

const HOME_DIRS = ["/home", "/root", "/run/user"];
const TMP_DIRS = ["/tmp", "/var/tmp"];

/** `hostName`: --host-name of `scheduler start` in ExecStart (validated like it), for several hosts on one database. */
export function unitOptionsFor(loaded: LoadedConfig, opts: { nodePath: string; cliPath: string; user?: string; hostName?: string }): UnitOptions {
  const readWritePaths = schedulerWritableDirectories(loaded);
  const needed = [...readWritePaths, loaded.dir, opts.nodePath, opts.cliPath];
  const inHome = needed.some((p) => HOME_DIRS.some((h) => isUnder(resolve(p), h)));
  return {
    execStart: [
      opts.nodePath,
      ...NODE_FLAGS,
      opts.cliPath,
      "--config-dir",
      loaded.dir,
      "scheduler",
      "start",
      ...(opts.hostName === undefined ? [] : ["--host-name", schedulerHostName(opts.hostName)]),
    ],
    readWritePaths,
    timeoutStopSec: loaded.config.scheduler.grace_period_seconds + 30,
    protectHome: inHome ? "read-only" : "yes",
    privateTmp: needed.some((p) => TMP_DIRS.some((t) => isUnder(resolve(p), t))) ? "no" : "yes",
    user: opts.user ?? DEFAULT_SERVICE_USER,
  };
}
