// The content-addressed pool on a filesystem: every blob lives once at <root>/<aa>/<bb>/<sha256>.
// Temp files live in tempDir (same filesystem, never inside the <aa>/<bb> tree) and are
// moved in by one atomic rename, so a reader or a crash never sees a half-written blob; the file is flushed
// before the rename and its directory by flushAdopted(), before the database records the blob (putUnflushed: both by
// flushAdopted(), one syncfs for a whole import).
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, link, open, readdir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { adoptedByAlias, errCode, normalizeSha256, PoolError, TempArea, type BlobStore } from "./blob-store.js";
import { forEachLimited } from "../concurrency.js";
import { DirtyDirectories, fsyncPath, syncFilesystem } from "./durable.js";
import { DirMode, makeDirectory, SHARED_FILE_MODE } from "../fs-dirs.js";

export { normalizeSha256, PoolError } from "./blob-store.js";

const DEFAULT_STAT_CONCURRENCY = 64;
const READ_CHUNK_BYTES = 1 << 20;
const FSYNC_CONCURRENCY = 16;

export class FilesystemBlobStore implements BlobStore {
  private readonly temp: TempArea;
  /** <aa>/<bb> directories known to exist (at most 65,536 entries). */
  private readonly madeDirs = new Map<string, Promise<void>>();
  /** Directories a blob was renamed into (or made in) since the last flushAdopted(). */
  private readonly dirtyDirs = new DirtyDirectories();
  /** Blobs put by putUnflushed() since the last flushAdopted(): their data is not on disk yet. */
  private unflushed: string[] = [];
  /** Whether the umask takes bits from SHARED_FILE_MODE (learnt from the first file put): then each file is chmodded. */
  private umaskStrips: boolean | undefined;

  constructor(
    readonly root: string,
    readonly tempDir: string,
  ) {
    this.temp = new TempArea(tempDir);
  }

  get location(): string {
    return this.root;
  }

  /** Where a blob lives: <root>/<aa>/<bb>/<sha256>. */
  pathOf(sha256: string): string {
    const sha = normalizeSha256(sha256);
    return join(this.root, sha.slice(0, 2), sha.slice(2, 4), sha);
  }

  locationOf(sha256: string): string {
    return this.pathOf(sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return isFile(this.pathOf(sha256));
  }

  /**
   * The subset of `shas` already pooled. The <aa> directories are listed first (at most 256), so that a blob
   * whose <aa>/<bb> directory does not exist costs nothing: a first sync into a fresh pool stats no file.
   * The stats that remain run in parallel, bounded so 100k shas don't open 100k requests at once.
   */
  async haveMany(shas: Iterable<string>, concurrency = DEFAULT_STAT_CONCURRENCY): Promise<Set<string>> {
    const unique = new Set<string>();
    for (const s of shas) unique.add(normalizeSha256(s));
    const dirs = await this.fanoutDirs(new Set([...unique].map((s) => s.slice(0, 2))));
    const candidates = [...unique].filter((s) => dirs.has(s.slice(0, 4)));
    const present = new Set<string>();
    await forEachLimited(candidates, concurrency, async (sha) => {
      if (await isFile(this.pathOf(sha))) present.add(sha);
    });
    return present;
  }

  /** Which <aa>/<bb> directories exist under the given <aa> prefixes, as "aabb". */
  private async fanoutDirs(prefixes: Set<string>): Promise<Set<string>> {
    const out = new Set<string>();
    for (const aa of prefixes) {
      const names = await readdir(join(this.root, aa)).catch((err: unknown) => {
        if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return [] as string[];
        throw err;
      });
      for (const bb of names) out.add(aa + bb);
    }
    return out;
  }

  async sizeOf(sha256: string): Promise<number | undefined> {
    const info = await stat(this.pathOf(sha256)).catch((err: unknown) => {
      if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return undefined;
      throw err;
    });
    return info?.isFile() ? info.size : undefined;
  }

  /**
   * Move a verified temp file into the pool under its sha256: its data is flushed first, so that a power loss
   * never leaves an empty blob under a name; the directory entry is flushed by flushAdopted().
   * A concurrent rename of identical content is harmless: rename(2) replaces atomically.
   */
  async adopt(tempFile: string, sha256: string, _signal?: AbortSignal, alias?: string, opts?: { synced?: boolean }): Promise<void> {
    const dest = this.pathOf(sha256);
    try {
      await chmod(tempFile, SHARED_FILE_MODE); // published trees are hard links to this inode: a web server reads it
      if (!opts?.synced) await fsyncPath(tempFile);
      if (alias) await this.temp.journalAlias(alias, sha256);
      await this.ensureDir(dirname(dest));
      await rename(tempFile, dest).catch(async (err: unknown) => {
        if (errCode(err) !== "ENOENT" || !(await isFile(tempFile))) throw err;
        // The directory went away since we made it (pool cleanup): make it again.
        this.madeDirs.delete(dirname(dest));
        await this.ensureDir(dirname(dest));
        await rename(tempFile, dest);
      });
      this.dirtyDirs.add(dirname(dest));
    } catch (err) {
      if (errCode(err) === "EXDEV") {
        throw new PoolError(`temp dir ${this.tempDir} and pool ${this.root} must be on the same filesystem (rename failed with EXDEV)`, { cause: err });
      }
      throw new PoolError(`cannot move ${tempFile} into the pool as ${dest}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * A verified blob into the pool without a fsync of its own: a temp file created with its final mode, then linked
   * under its name (link(2), not rename(2): a blob already there, maybe recorded and durable, is never replaced by
   * this unflushed copy). flushAdopted() makes it durable.
   */
  async putUnflushed(sha256: string, data: Buffer | Readable, signal?: AbortSignal): Promise<void> {
    const dest = this.pathOf(sha256);
    const tmp = this.tempPath(sha256);
    try {
      if (Buffer.isBuffer(data)) {
        const fh = await open(tmp, "wx", SHARED_FILE_MODE);
        try {
          let off = 0;
          while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
          await this.exactMode(fh);
        } finally {
          await fh.close();
        }
      } else {
        await pipeline(data, createWriteStream(tmp, { flags: "wx", mode: SHARED_FILE_MODE }), signal ? { signal } : {});
        if (this.umaskStrips !== false) await chmod(tmp, SHARED_FILE_MODE);
      }
      await this.ensureDir(dirname(dest));
      await link(tmp, dest).catch(async (err: unknown) => {
        if (errCode(err) === "EEXIST") return;
        if (errCode(err) !== "ENOENT") throw err;
        // The directory went away since we made it (pool cleanup): make it again.
        this.madeDirs.delete(dirname(dest));
        await this.ensureDir(dirname(dest));
        await link(tmp, dest);
      });
      this.unflushed.push(dest);
      this.dirtyDirs.add(dirname(dest));
    } catch (err) {
      if (errCode(err) === "EXDEV") {
        throw new PoolError(`temp dir ${this.tempDir} and pool ${this.root} must be on the same filesystem (link failed with EXDEV)`, { cause: err });
      }
      throw new PoolError(`cannot put blob ${sha256} into the pool as ${dest}: ${(err as Error).message}`, { cause: err });
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /** SHARED_FILE_MODE exactly, whatever the umask: the first file is checked (one fstat), later ones chmodded only if it had to be. */
  private async exactMode(fh: FileHandle): Promise<void> {
    if (this.umaskStrips === undefined) this.umaskStrips = ((await fh.stat()).mode & 0o777) !== SHARED_FILE_MODE;
    if (this.umaskStrips) await fh.chmod(SHARED_FILE_MODE);
  }

  /**
   * Make every blob adopted or put so far durable: call before recording them. After blobs were put: one syncfs of
   * the pool's filesystem, which commits their data and every directory entry changed before it started (so the
   * directories are not fsynced again: 17,000 clean directory fsyncs after 20,000 blobs cost a second); where that
   * fails, a fsync per file and per directory. Otherwise (adopted blobs, already fsynced): one fsync per directory.
   */
  async flushAdopted(): Promise<void> {
    const files = this.unflushed;
    this.unflushed = [];
    try {
      if (files.length > 0) {
        const dirs = this.dirtyDirs.take();
        if (await syncFilesystem(this.root)) return;
        for (const d of dirs) this.dirtyDirs.add(d);
        await forEachLimited(files, FSYNC_CONCURRENCY, fsyncPath);
      }
      await this.dirtyDirs.flush();
    } catch (err) {
      this.unflushed.push(...files);
      throw new PoolError(`cannot flush pool blobs under ${this.root} to disk: ${(err as Error).message}`, { cause: err });
    }
  }

  adoptedByAlias(aliases: readonly string[]): Promise<Map<string, string>> {
    return adoptedByAlias(this.temp, aliases);
  }

  pruneAliasJournals(recorded: (sha256s: string[]) => Promise<Set<string>>): Promise<void> {
    return this.temp.pruneJournals(recorded);
  }

  /** 1 MiB reads: hashing a whole pool (pool verify --deep) is ~40% faster than with the 64 KiB default. */
  openRead(sha256: string): Readable {
    return createReadStream(this.pathOf(sha256), { highWaterMark: READ_CHUNK_BYTES });
  }

  async remove(sha256: string): Promise<void> {
    await unlink(this.pathOf(sha256)).catch((err: unknown) => {
      if (errCode(err) !== "ENOENT") throw err;
    });
  }

  /** mkdir -p once per <aa>/<bb> directory: a fresh pool of 20,000 blobs would otherwise pay a syscall per file. */
  private ensureDir(dir: string): Promise<void> {
    let made = this.madeDirs.get(dir);
    if (!made) {
      made = makeDirectory(dir, { mode: DirMode.shared }).then((created) => {
        // Each new directory is an entry of its parent: flush the parents of those made.
        for (const d of created) this.dirtyDirs.add(dirname(d));
      });
      made.catch(() => this.madeDirs.delete(dir));
      this.madeDirs.set(dir, made);
    }
    return made;
  }

  /** A fresh temp file name in tempDir, unique per call; host and pid let cleanStaleTemp tell dead writers. */
  tempPath(key: string): string {
    return this.temp.path(key);
  }

  /** Create tempDir once per store (callers write temp files right after tempPath()). */
  ensureTempDir(): Promise<void> {
    return this.temp.ensure();
  }

  /**
   * Remove temp files left by dead writers (kill -9): ours whose pid is gone on this host,
   * and any file older than olderThanMs (another host's, a reused pid, a foreign file).
   * Returns how many files were removed.
   */
  cleanStaleTemp(olderThanMs: number): Promise<number> {
    return this.temp.cleanStale(olderThanMs);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (err) {
    if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return false;
    throw err;
  }
}
