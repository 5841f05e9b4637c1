// The unprivileged system user the systemd unit runs as: look it up, create it, hand it its directories.
import { execFile, spawn } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { ChantalError, errorMessage } from "../errors.js";

const execFileAsync = promisify(execFile);

/** The service user is missing, cannot be created, or cannot reach what the service needs. */
export class ServiceUserError extends ChantalError {}

export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
}

/** useradd for a system user with its own group, no login shell, home at the data directory (not created by useradd). */
export function createUserCommand(name: string, home: string): string[] {
  return ["useradd", "--system", "--user-group", "--home-dir", home, "--no-create-home", "--shell", "/usr/sbin/nologin", name];
}

export async function lookupServiceUser(name: string): Promise<ServiceUser | undefined> {
  try {
    const uid = Number((await execFileAsync("id", ["-u", name])).stdout.trim());
    const gid = Number((await execFileAsync("id", ["-g", name])).stdout.trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

export async function createServiceUser(name: string, home: string): Promise<ServiceUser> {
  const [file, ...args] = createUserCommand(name, home);
  try {
    await execFileAsync(file!, args);
  } catch (err) {
    throw new ServiceUserError(`creating the service user '${name}' failed (${createUserCommand(name, home).join(" ")}): ${errorMessage(err)}`, { cause: err });
  }
  const user = await lookupServiceUser(name);
  if (!user) throw new ServiceUserError(`user '${name}' is still missing after ${file}`);
  return user;
}

/** Directories that hold more than Chantal's data: the service gets write access there, but never a chown -R. */
const SHARED_DIRS = [
  "/",
  "/etc",
  "/home",
  "/opt",
  "/root",
  "/run",
  "/srv",
  "/tmp",
  "/usr",
  "/var",
  "/var/lib",
  "/var/log",
  "/var/tmp",
  "/var/cache",
  "/var/spool",
  "/var/www",
];

/** Splits the writable directories into those --write gives to the user (chown -R) and shared ones it must not. */
export function directoriesToHandOver(readWritePaths: readonly string[]): { chown: string[]; shared: string[] } {
  const chown: string[] = [];
  const shared: string[] = [];
  for (const dir of readWritePaths) (SHARED_DIRS.includes(resolve(dir)) ? shared : chown).push(dir);
  return { chown, shared };
}

export async function chownRecursive(dirs: readonly string[], user: ServiceUser): Promise<void> {
  for (const dir of dirs) {
    try {
      await execFileAsync("chown", ["-R", `${user.uid}:${user.gid}`, dir]);
    } catch (err) {
      throw new ServiceUserError(`giving ${dir} to user '${user.name}' failed (chown -R ${user.name}: ${dir}): ${errorMessage(err)}`, { cause: err });
    }
  }
}

/**
 * The paths the user cannot use, checked as that user (needs root): `x` must be executable, `r` readable, `w` a
 * writable, searchable directory; every parent must be searchable. Empty when all is well.
 */
export async function unreachablePaths(user: ServiceUser, paths: readonly { path: string; need: "r" | "w" | "x" }[]): Promise<string[]> {
  const script =
    'for a; do p=${a#?:}; case "$a" in x:*) test -x "$p" || echo "$p";; w:*) { test -w "$p" && test -x "$p"; } || echo "$p";; *) test -r "$p" || echo "$p";; esac; done';
  const args = ["-c", script, "sh", ...paths.map((p) => `${p.need}:${p.path}`)];
  return new Promise((resolvePromise, reject) => {
    const child = spawn("/bin/sh", args, { uid: user.uid, gid: user.gid, cwd: "/", stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", () => resolvePromise(out.split("\n").filter((l) => l !== "")));
  });
}
