// The content-addressed pool: every blob lives once at <root>/<aa>/<bb>/<sha256>.
// Temp files live in tempDir (same filesystem, never inside the <aa>/<bb> tree) and are
// moved in by one atomic rename, so a reader or a crash never sees a half-written blob.
import { mkdir, readdir, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { isProcessAlive } from "../process.js";
import { ChantalError } from "../errors.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = "ct_";
const TEMP_SUFFIX = ".part";
/** ct_<host>_<pid>_<seq>_<key>.part */
const TEMP_NAME = /^ct_([A-Za-z0-9.-]*)_(\d+)_\d+_.*\.part$/;
const DEFAULT_STAT_CONCURRENCY = 64;

export class PoolError extends ChantalError {}

export class Pool {
  private tempSeq = 0;
  private tempDirReady: Promise<void> | undefined;
  /** <aa>/<bb> directories known to exist (at most 65,536 entries). */
  private readonly madeDirs = new Map<string, Promise<void>>();
  private readonly host = safeNamePart(hostname()).slice(0, 63);

  constructor(
    readonly root: string,
    readonly tempDir: string,
  ) {}

  /** Where a blob lives: <root>/<aa>/<bb>/<sha256>. */
  pathOf(sha256: string): string {
    const sha = normalizeSha256(sha256);
    return join(this.root, sha.slice(0, 2), sha.slice(2, 4), sha);
  }

  async has(sha256: string): Promise<boolean> {
    return isFile(this.pathOf(sha256));
  }

  /** The subset of `shas` already pooled; stats run in parallel, bounded so 100k shas don't open 100k requests at once. */
  async haveMany(shas: Iterable<string>, concurrency = DEFAULT_STAT_CONCURRENCY): Promise<Set<string>> {
    const unique = [...new Set([...shas].map(normalizeSha256))];
    const present = new Set<string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unique.length) {
        const sha = unique[next++]!;
        if (await isFile(this.pathOf(sha))) present.add(sha);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, unique.length)) }, worker));
    return present;
  }

  /**
   * Move a verified temp file into the pool under its sha256. No fsync (PERFORMANCE.md):
   * a crash can lose a recent blob, but the next sync re-plans from what is actually there.
   * A concurrent rename of identical content is harmless: rename(2) replaces atomically.
   */
  async adopt(tempFile: string, sha256: string): Promise<void> {
    const dest = this.pathOf(sha256);
    try {
      await this.ensureDir(dirname(dest));
      await rename(tempFile, dest).catch(async (err: unknown) => {
        if (errCode(err) !== "ENOENT" || !(await isFile(tempFile))) throw err;
        // The directory went away since we made it (pool cleanup): make it again.
        this.madeDirs.delete(dirname(dest));
        await this.ensureDir(dirname(dest));
        await rename(tempFile, dest);
      });
    } catch (err) {
      if (errCode(err) === "EXDEV") {
        throw new PoolError(`temp dir ${this.tempDir} and pool ${this.root} must be on the same filesystem (rename failed with EXDEV)`, { cause: err });
      }
      throw new PoolError(`cannot move ${tempFile} into the pool as ${dest}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** mkdir -p once per <aa>/<bb> directory: a fresh pool of 20,000 blobs would otherwise pay a syscall per file. */
  private ensureDir(dir: string): Promise<void> {
    let made = this.madeDirs.get(dir);
    if (!made) {
      made = mkdir(dir, { recursive: true }).then(() => undefined);
      made.catch(() => this.madeDirs.delete(dir));
      this.madeDirs.set(dir, made);
    }
    return made;
  }

  /** A fresh temp file name in tempDir, unique per call; host and pid let cleanStaleTemp tell dead writers. */
  tempPath(key: string): string {
    const seq = ++this.tempSeq;
    const safeKey = safeNamePart(key).slice(0, 80);
    return join(this.tempDir, `${TEMP_PREFIX}${this.host}_${process.pid}_${seq}_${safeKey}${TEMP_SUFFIX}`);
  }

  /** Create tempDir once per Pool (callers write temp files right after tempPath()). */
  ensureTempDir(): Promise<void> {
    this.tempDirReady ??= mkdir(this.tempDir, { recursive: true }).then(
      () => undefined,
      (err: unknown) => {
        this.tempDirReady = undefined;
        throw new PoolError(`cannot create temp dir ${this.tempDir}: ${(err as Error).message}`, { cause: err });
      },
    );
    return this.tempDirReady;
  }

  /**
   * Remove temp files left by dead writers (kill -9): ours whose pid is gone on this host,
   * and any file older than olderThanMs (another host's, a reused pid, a foreign file).
   * Returns how many files were removed.
   */
  async cleanStaleTemp(olderThanMs: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tempDir);
    } catch (err) {
      if (errCode(err) === "ENOENT") return 0;
      throw err;
    }
    const now = Date.now();
    let removed = 0;
    for (const name of names) {
      const path = join(this.tempDir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) continue;
      if (!this.isStaleTemp(name, now - info.mtimeMs, olderThanMs)) continue;
      try {
        await unlink(path);
        removed++;
      } catch (err) {
        if (errCode(err) !== "ENOENT") throw err;
      }
    }
    return removed;
  }

  private isStaleTemp(name: string, ageMs: number, olderThanMs: number): boolean {
    if (ageMs > olderThanMs) return true;
    const m = TEMP_NAME.exec(name);
    if (!m || m[1] !== this.host) return false;
    const pid = Number(m[2]);
    return pid !== process.pid && !isProcessAlive(pid);
  }
}

export function normalizeSha256(sha256: string): string {
  const sha = sha256.toLowerCase();
  if (!SHA256_HEX.test(sha)) throw new PoolError(`not a sha256 hex digest: ${JSON.stringify(sha256)}`);
  return sha;
}

function safeNamePart(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, "-");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (err) {
    if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return false;
    throw err;
  }
}


function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
