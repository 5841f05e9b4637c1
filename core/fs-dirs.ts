// Directories Chantal creates under its storage paths: exact modes (not the umask's), traversable parents, concurrency-safe.
import { chmodSync, fchmodSync, fstatSync, mkdirSync, statSync } from "node:fs";
import { chmod, mkdir, stat, type FileHandle } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ChantalError } from "./errors.js";

/** Modes of what Chantal creates: parents any user (the database's, a web server's) can traverse; private leaves. */
export const DirMode = {
  /** Missing parents of base_path, the pool, published trees: traversable (and readable) by every user. */
  shared: 0o755,
  /** The embedded database's directory, temp downloads, backups: the owner only. */
  private: 0o700,
} as const;

/** A file a web server must read (published trees are hard links to the pool's blobs). */
export const SHARED_FILE_MODE = 0o644;

/**
 * Files created with SHARED_FILE_MODE get exactly that mode whatever the umask: the first file's mode is checked (one
 * fstat), later ones are chmodded only if the umask took bits from it. One per store or batch of downloads, not per
 * process: the umask is the process's, but a test (or an embedding program) may change it between them.
 */
export class SharedFileMode {
  private stripped: boolean | undefined;

  /** `fh` was just created with SHARED_FILE_MODE: make its mode exactly that. */
  async exact(fh: FileHandle): Promise<void> {
    if (this.stripped === undefined) this.stripped = ((await fh.stat()).mode & 0o777) !== SHARED_FILE_MODE;
    if (this.stripped) await fh.chmod(SHARED_FILE_MODE);
  }

  /** exact() for a file descriptor opened synchronously (small blobs written with synchronous calls). */
  exactSync(fd: number): void {
    if (this.stripped === undefined) this.stripped = (fstatSync(fd).mode & 0o777) !== SHARED_FILE_MODE;
    if (this.stripped) fchmodSync(fd, SHARED_FILE_MODE);
  }

  /** Whether a file created with SHARED_FILE_MODE without a handle to check (a write stream) needs a chmod. */
  get mayBeStripped(): boolean {
    return this.stripped !== false;
  }
}

export class DirectoryError extends ChantalError {
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface MakeDirectoryOptions {
  /** Of `path` itself when it is created (default DirMode.shared). */
  mode?: number;
  /** Of every missing parent (default DirMode.shared: a 0700 parent would hide everything below it from other users). */
  parentMode?: number;
}

/**
 * `mkdir -p path` where every directory it creates gets its mode exactly (chmod after mkdir, so a umask of 077 does
 * not make a parent untraversable); existing directories keep theirs. Another process creating the same path at the
 * same moment is fine (EEXIST of a directory counts as done). Returns the directories it created, top first.
 */
export async function makeDirectory(path: string, opts: MakeDirectoryOptions = {}): Promise<string[]> {
  const created: string[] = [];
  await create(resolve(path), opts.mode ?? DirMode.shared, opts.parentMode ?? DirMode.shared, created);
  return created;
}

/**
 * The common case of makeDirectory in one synchronous mkdir: `path` is created (exact `mode`, as makeDirectory) when
 * its parent exists. Returns false when it did not create it (its parent is missing, it exists, or mkdir failed):
 * the caller then runs makeDirectory, which explains or handles each. `modes` remembers per mode whether the umask
 * strips it (one stat for the first directory, a chmod after each mkdir only if it does).
 */
export function tryCreateDirectorySync(path: string, mode: number, modes: Map<number, boolean>): boolean {
  try {
    mkdirSync(path, { mode });
  } catch {
    return false;
  }
  let stripped = modes.get(mode);
  if (stripped === undefined) {
    stripped = (statSync(path).mode & 0o777) !== mode;
    modes.set(mode, stripped);
  }
  if (stripped) chmodSync(path, mode);
  return true;
}

async function create(dir: string, mode: number, parentMode: number, created: string[]): Promise<void> {
  let outcome = await tryMkdir(dir, mode);
  if (outcome === "missing-parent") {
    const parent = dirname(dir);
    if (parent === dir) throw new DirectoryError(`cannot create ${dir}: the root directory is missing`, dir);
    await create(parent, parentMode, parentMode, created);
    outcome = await tryMkdir(dir, mode);
    if (outcome === "missing-parent") throw new DirectoryError(`cannot create directory ${dir}: ${parent} vanished while it was being created`, dir);
  }
  if (outcome === "exists") return assertDirectory(dir); // made before, or by a concurrent creator
  await chmodCreated(dir, mode);
  created.push(dir);
}

async function tryMkdir(dir: string, mode: number): Promise<"created" | "missing-parent" | "exists"> {
  try {
    await mkdir(dir, { mode });
    return "created";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "missing-parent";
    if (code === "EEXIST") return "exists";
    throw explainMkdirError(dir, err);
  }
}

async function assertDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === "ENOENT" ? "it is a symbolic link to nothing (fix or remove the link)" : err.message;
    throw new DirectoryError(`cannot use directory ${dir}: ${why}`, dir, { cause: err });
  });
  if (!info.isDirectory()) throw new DirectoryError(`cannot create directory ${dir}: it exists and is not a directory; move it away`, dir);
}

async function chmodCreated(dir: string, mode: number): Promise<void> {
  try {
    await chmod(dir, mode);
  } catch (err) {
    throw new DirectoryError(`created ${dir} but cannot set its mode ${octal(mode)}: ${(err as Error).message}`, dir, { cause: err });
  }
}

// EACCES/EROFS/ENOTDIR of mkdir are about the parent: name it, and the fix, rather than the path we wanted.
function explainMkdirError(dir: string, err: unknown): DirectoryError {
  const code = (err as NodeJS.ErrnoException).code;
  const parent = dirname(dir);
  const uid = process.getuid?.();
  const who = uid === undefined ? "this user" : `uid ${uid}`;
  const why =
    code === "EACCES" || code === "EPERM"
      ? `${parent} is not writable by ${who} (${code}): create ${dir} yourself with the right owner, or let ${who} write to ${parent}`
      : code === "EROFS"
        ? `${parent} is on a read-only filesystem (EROFS)`
        : code === "ENOTDIR"
          ? `a component of ${parent} is not a directory (ENOTDIR)`
          : (err as Error).message;
  return new DirectoryError(`cannot create directory ${dir}: ${why}`, dir, { cause: err });
}

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}
