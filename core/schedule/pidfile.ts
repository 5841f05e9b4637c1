// The daemon's pid file and log file on this host: where they are, who is running, and stopping it.
import { readFileSync } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { DirMode, makeDirectory } from "../fs-dirs.js";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { LoadedConfig } from "../config/load.js";
import { sleep } from "../runtime/sleep.js";

export interface SchedulerPaths {
  pidFile: string;
  logFile: string;
}

/** scheduler.pid_file / scheduler.log_file (relative to the config directory), else <base_path>/scheduler.pid and .log. */
export function schedulerPaths(loaded: LoadedConfig): SchedulerPaths {
  const { scheduler, storage } = loaded.config;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(loaded.dir, p));
  return {
    pidFile: abs(scheduler.pid_file ?? join(storage.base_path, "scheduler.pid")),
    logFile: abs(scheduler.log_file ?? join(storage.base_path, "scheduler.log")),
  };
}

export async function readPidFile(path: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(path, "utf8")).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Written beside and renamed, so a reader never sees half a number. */
export async function writePidFile(path: string, pid: number): Promise<void> {
  await makeDirectory(dirname(path), { mode: DirMode.shared });
  const tmp = `${path}.${pid}.tmp`;
  await writeFile(tmp, `${pid}\n`, { mode: 0o644 });
  await rename(tmp, path);
}

/** Removes the pid file only if it still names `pid` (a newer daemon may have replaced it). */
export async function removePidFile(path: string, pid: number): Promise<void> {
  if ((await readPidFile(path).catch(() => null)) === pid) await rm(path, { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

/** An exited process its parent has not reaped yet still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false;
  }
}

/** Whether a live pid is a chantal scheduler (guards against a reused pid); true where /proc cannot tell. */
export function isSchedulerProcess(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return isAlive(pid);
  }
  const args = cmdline.split("\0");
  return args.includes("scheduler") && args.includes("start");
}

/** The pid of this host's running scheduler according to the pid file, or null (a stale file is ignored). */
export async function runningSchedulerPid(pidFile: string): Promise<number | null> {
  const pid = await readPidFile(pidFile);
  if (pid === null || pid === process.pid) return null;
  return isAlive(pid) && isSchedulerProcess(pid) ? pid : null;
}

/** Waits until `pid` has exited, polling; false when it is still alive after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= end) return false;
    await sleep(pollMs);
  }
  return true;
}
