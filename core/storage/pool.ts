// The content-addressed pool on a filesystem: every blob lives once at <root>/<aa>/<sha256> (a pool made before
// 2026-12: <root>/<aa>/<bb>/<sha256>; pool-layout.ts). Temp files live in tempDir (same filesystem, never inside the
// <aa> tree) and are
// moved in by one atomic rename, so a reader or a crash never sees a half-written blob; the file is flushed
// before the rename and its directory by flushAdopted(), before the database records the blob. Staged downloads
// (adoptStaged) are flushed a batch at a time: one syncfs for their data, the renames, one syncfs for the directories.
// putUnflushed (an import): both by flushAdopted(), one syncfs for a whole import.
import { closeSync, createReadStream, createWriteStream, type Dirent, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { chmod, link, open, readdir, rename, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { adoptedByAlias, errCode, isMissingPath, normalizeSha256, SHA256_HEX, PoolError, TempArea, type AdoptOptions, type BlobStore } from "./blob-store.js";
import { forEachLimited } from "../concurrency.js";
import { DirtyDirectories, fsyncPath, isFsyncEnabled, syncFilesystem } from "./durable.js";
import { DirMode, makeDirectory, SHARED_FILE_MODE, SharedFileMode, tryCreateDirectorySync } from "../fs-dirs.js";
import { blobDirectory, detectPoolLayout, writeLayoutFile, type LayoutSeen, type PoolLayout } from "./pool-layout.js";

export { normalizeSha256, PoolError } from "./blob-store.js";

const DEFAULT_STAT_CONCURRENCY = 64;
const READ_CHUNK_BYTES = 1 << 20;
const FSYNC_CONCURRENCY = 16;
/** haveMany lists a blob directory holding at least this many of the blobs asked for, rather than stat each. */
const LIST_DIRECTORY_AT = 16;
/**
 * Blobs up to this size are put with synchronous calls (open, write, close, link, unlink; mkdir of a new directory):
 * for a 20 KB blob in the page cache each call takes microseconds, where each thread-pool hop and its promise cost more.
 */
const SYNC_PUT_BYTES = 1 << 20;
/** Staged blobs renamed into the pool per turn of the event loop (synchronous renames: no thread-pool hop, no promise each). */
const RENAMES_PER_TURN = 256;

/** A verified download waiting for flushAdopted(): its temp file, its name in the pool, upstream's checksum when not sha256. */
interface Staged {
  temp: string;
  sha256: string;
  alias: string | undefined;
}

export class FilesystemBlobStore implements BlobStore {
  private readonly temp: TempArea;
  /** Blob directories known to exist (at most 256, or 65,536 in an <aa>/<bb> pool). */
  private readonly madeDirs = new Map<string, Promise<void>>();
  /** Directories a blob was renamed into (or made in) since the last flushAdopted(). */
  private readonly dirtyDirs = new DirtyDirectories();
  /** Blobs put by putUnflushed() since the last flushAdopted(): their data is not on disk yet. */
  private unflushed: string[] = [];
  /** Downloads staged by adoptStaged() since the last flushAdopted(): verified, not flushed, not in the pool yet. */
  private staged: Staged[] = [];
  /** The flushAdopted() in progress: the next one waits for it (it may have taken blobs the next one's caller records). */
  private flushing: Promise<void> = Promise.resolve();
  /** The exact mode of the files putUnflushed() creates. */
  private readonly sharedMode = new SharedFileMode();
  /** Whether the umask strips a directory mode (tryCreateDirectorySync). */
  private readonly dirModes = new Map<number, boolean>();
  /** Read from the pool on first use (detectPoolLayout); a new pool's LAYOUT_FILE is written before its first directory. */
  private layoutSeen: LayoutSeen | undefined;

  constructor(
    readonly root: string,
    readonly tempDir: string,
  ) {
    this.temp = new TempArea(tempDir);
  }

  get location(): string {
    return this.root;
  }

  /** The pool's directory layout, read once per store: a pool keeps the one it was made with. */
  get layout(): PoolLayout {
    return this.seen().layout;
  }

  private seen(): LayoutSeen {
    if (this.layoutSeen === undefined) {
      try {
        this.layoutSeen = detectPoolLayout(this.root);
      } catch (err) {
        if (err instanceof PoolError) throw err;
        throw new PoolError(`cannot read the pool directory ${this.root}: ${(err as Error).message}`, { cause: err });
      }
    }
    return this.layoutSeen;
  }

  /** A new pool's layout file, before its first blob directory; false while the root itself does not exist. */
  private markLayoutSync(): boolean {
    const seen = this.seen();
    if (!seen.markerMissing) return true;
    try {
      if (!writeLayoutFile(this.root, seen.layout)) return false;
    } catch (err) {
      throw new PoolError(`cannot write the pool's layout file into ${this.root}: ${(err as Error).message}`, { cause: err });
    }
    seen.markerMissing = false;
    this.dirtyDirs.add(this.root);
    return true;
  }

  private async markLayout(): Promise<void> {
    if (this.markLayoutSync()) return;
    for (const d of await makeDirectory(this.root, { mode: DirMode.shared })) this.dirtyDirs.add(dirname(d));
    if (!this.markLayoutSync()) throw new PoolError(`cannot write the pool's layout file: ${this.root} vanished while it was being created`);
  }

  /** Where a blob lives: <root>/<aa>/<sha256> (or <root>/<aa>/<bb>/<sha256>). */
  pathOf(sha256: string): string {
    const sha = normalizeSha256(sha256);
    return join(this.root, blobDirectory(this.layout, sha), sha);
  }

  locationOf(sha256: string): string {
    return this.pathOf(sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return isFile(this.pathOf(sha256));
  }

  /**
   * The subset of `shas` already pooled. The top level is listed first, so that a blob whose directory does not exist
   * costs nothing: a first sync into a fresh pool stats no file. In an <aa> pool a directory holding many of them is
   * listed (one readdir instead of hundreds of stats); the stats that remain run in parallel, bounded so 100k shas
   * don't open 100k requests at once.
   */
  async haveMany(shas: Iterable<string>, concurrency = DEFAULT_STAT_CONCURRENCY): Promise<Set<string>> {
    const byDir = new Map<string, Set<string>>();
    for (const s of shas) {
      const sha = normalizeSha256(s);
      const dir = blobDirectory(this.layout, sha);
      const group = byDir.get(dir);
      if (group) group.add(sha);
      else byDir.set(dir, new Set([sha]));
    }
    const existing = await this.existingDirs(new Set([...byDir.keys()].map((d) => d.slice(0, 2))));
    const present = new Set<string>();
    const toStat: string[] = [];
    const toList: [string, Set<string>][] = [];
    for (const [dir, group] of byDir) {
      if (!existing.has(dir)) continue;
      if (group.size >= LIST_DIRECTORY_AT) toList.push([dir, group]);
      else toStat.push(...group);
    }
    await forEachLimited(toList, concurrency, async ([dir, wanted]) => {
      for (const entry of await readdirOrEmpty(join(this.root, dir))) {
        if (!wanted.has(entry.name)) continue;
        // A symlink is stat()ed as before (a file it points to is a blob); anything else but a file is not one.
        if (entry.isFile()) present.add(entry.name);
        else if (entry.isSymbolicLink()) toStat.push(entry.name);
      }
    });
    await forEachLimited(toStat, concurrency, async (sha) => {
      if (await isFile(this.pathOf(sha))) present.add(sha);
    });
    return present;
  }

  /** Which blob directories exist under the given <aa> prefixes: "aa" ("aa/bb" in an <aa>/<bb> pool). */
  private async existingDirs(prefixes: Set<string>): Promise<Set<string>> {
    const out = new Set<string>();
    if (this.layout === "aa") {
      // By name: an <aa> may be a symlink to a directory elsewhere (a pool spread over disks).
      for (const entry of await readdirOrEmpty(this.root)) if (prefixes.has(entry.name)) out.add(entry.name);
      return out;
    }
    for (const aa of prefixes) for (const bb of await readdirOrEmpty(join(this.root, aa))) out.add(`${aa}/${bb.name}`);
    return out;
  }

  /** The names of the blobs under one <aa> prefix (names that are not sha256 digests of that prefix are not ours). */
  async blobsUnder(aa: string): Promise<string[]> {
    const dirs = this.layout === "aa" ? [aa] : (await readdirOrEmpty(join(this.root, aa))).map((bb) => `${aa}/${bb.name}`);
    const out: string[] = [];
    await forEachLimited(dirs, DEFAULT_STAT_CONCURRENCY, async (dir) => {
      for (const entry of await readdirOrEmpty(join(this.root, dir))) {
        if (SHA256_HEX.test(entry.name) && entry.name.startsWith(dir.replace("/", ""))) out.push(entry.name);
      }
    });
    return out;
  }

  /** After blobs were removed: their emptied <bb> directories go too in an <aa>/<bb> pool (the 256 <aa> stay). */
  async removeEmptiedDirs(removed: readonly string[]): Promise<void> {
    if (this.layout === "aa") return;
    for (const d of new Set(removed.map((s) => dirname(this.pathOf(s))))) {
      this.madeDirs.delete(d);
      await rmdir(d).catch(() => undefined);
    }
  }

  async sizeOf(sha256: string): Promise<number | undefined> {
    const info = await stat(this.pathOf(sha256)).catch((err: unknown) => {
      if (isMissingPath(err)) return undefined;
      throw err;
    });
    return info?.isFile() ? info.size : undefined;
  }

  /**
   * Move a verified temp file into the pool under its sha256: its data is flushed first, so that a power loss
   * never leaves an empty blob under a name; the directory entry is flushed by flushAdopted().
   * A concurrent rename of identical content is harmless: rename(2) replaces atomically.
   */
  async adopt(tempFile: string, sha256: string, _signal?: AbortSignal, alias?: string, opts?: AdoptOptions): Promise<void> {
    const dest = this.pathOf(sha256);
    try {
      // Published trees are hard links to this inode: a web server reads it.
      if (!opts?.sharedMode) await chmod(tempFile, SHARED_FILE_MODE);
      if (!opts?.synced) await fsyncPath(tempFile);
      if (alias) await this.temp.journalAlias(alias, sha256);
      await this.ensureDir(dirname(dest));
      await rename(tempFile, dest).catch(async (err: unknown) => {
        if (errCode(err) !== "ENOENT" || !(await isFile(tempFile))) throw err;
        // The directory went away since we made it (pool cleanup): make it again.
        await this.remakeDir(dirname(dest));
        await rename(tempFile, dest);
      });
      this.dirtyDirs.add(dirname(dest));
    } catch (err) {
      throw adoptError(err, this, tempFile, dest);
    }
  }

  /**
   * A verified download (its data not flushed, its mode SHARED_FILE_MODE) enters the pool at the next flushAdopted(),
   * with the others staged by then: one syncfs flushes all their data before any of them is renamed in.
   */
  async adoptStaged(tempFile: string, sha256: string, alias?: string): Promise<void> {
    if (!isFsyncEnabled()) return this.adopt(tempFile, sha256, undefined, alias, { synced: true, sharedMode: true });
    this.staged.push({ temp: tempFile, sha256: normalizeSha256(sha256), alias });
  }

  /**
   * A verified blob into the pool without a fsync of its own: a temp file created with its final mode, then linked
   * under its name (link(2), not rename(2): a blob already there, maybe recorded and durable, is never replaced by
   * this unflushed copy). flushAdopted() makes it durable.
   */
  async putUnflushed(sha256: string, data: Buffer | Readable, signal?: AbortSignal): Promise<void> {
    if (Buffer.isBuffer(data) && data.length <= SYNC_PUT_BYTES) {
      const dir = dirname(this.pathOf(sha256));
      // A new directory is made synchronously too when its parent exists (a fresh pool's).
      if (!this.madeDirs.has(dir)) this.ensureDirSync(dir);
      await this.ensureDir(dir);
      if (this.putSmallSync(sha256, data)) return;
      // The directory went away since we made it (pool cleanup): make it again.
      await this.remakeDir(dir);
      if (!this.putSmallSync(sha256, data)) throw new PoolError(`cannot put blob ${sha256} into the pool: its directory ${dir} vanished twice`);
      return;
    }
    const dest = this.pathOf(sha256);
    const tmp = this.tempPath(sha256);
    try {
      if (Buffer.isBuffer(data)) {
        const fh = await open(tmp, "wx", SHARED_FILE_MODE);
        try {
          let off = 0;
          while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
          await this.sharedMode.exact(fh);
        } finally {
          await fh.close();
        }
      } else {
        await pipeline(data, createWriteStream(tmp, { flags: "wx", mode: SHARED_FILE_MODE }), signal ? { signal } : {});
        if (this.sharedMode.mayBeStripped) await chmod(tmp, SHARED_FILE_MODE);
      }
      await this.ensureDir(dirname(dest));
      await link(tmp, dest).catch(async (err: unknown) => {
        if (errCode(err) === "EEXIST") return;
        if (errCode(err) !== "ENOENT") throw err;
        // The directory went away since we made it (pool cleanup): make it again.
        await this.remakeDir(dirname(dest));
        await link(tmp, dest);
      });
      this.unflushed.push(dest);
      this.dirtyDirs.add(dirname(dest));
    } catch (err) {
      throw this.putError(err, sha256, dest);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /** putUnflushed of a small buffer into its made directory, with synchronous calls (SYNC_PUT_BYTES); false if that directory is gone. */
  private putSmallSync(sha256: string, data: Buffer): boolean {
    const dest = this.pathOf(sha256);
    const tmp = this.tempPath(sha256);
    try {
      const fd = openSync(tmp, "wx", SHARED_FILE_MODE);
      try {
        for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
        this.sharedMode.exactSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        linkSync(tmp, dest);
      } catch (err) {
        if (errCode(err) === "ENOENT") return false;
        if (errCode(err) !== "EEXIST") throw err;
      }
      this.unflushed.push(dest);
      this.dirtyDirs.add(dirname(dest));
      return true;
    } catch (err) {
      throw this.putError(err, sha256, dest);
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // Never created (open failed) or already gone.
      }
    }
  }

  private putError(err: unknown, sha256: string, dest: string): PoolError {
    if (errCode(err) === "EXDEV") {
      return new PoolError(`temp dir ${this.tempDir} and pool ${this.root} must be on the same filesystem (link failed with EXDEV)`, { cause: err });
    }
    return new PoolError(`cannot put blob ${sha256} into the pool as ${dest}: ${(err as Error).message}`, { cause: err });
  }

  /**
   * Make every blob adopted, staged or put so far durable and in the pool: call before recording them. One after
   * the other (a flush returns only once everything before it is durable).
   *
   * Staged downloads: one syncfs of the pool's filesystem (their temp files are on it) flushes their data, then they
   * are renamed in. Then, after staged or put blobs, one syncfs commits their data (put) and every directory entry
   * changed before it started (so the directories are not fsynced again: 17,000 clean directory fsyncs after 20,000
   * blobs cost a second); where sync -f fails, a fsync per file and per directory. Otherwise (adopted blobs, already
   * fsynced): one fsync per directory.
   */
  flushAdopted(): Promise<void> {
    const mine = this.flushing.catch(() => undefined).then(() => this.flushNow());
    this.flushing = mine;
    return mine;
  }

  private async flushNow(): Promise<void> {
    const staged = this.staged;
    this.staged = [];
    const files = this.unflushed;
    this.unflushed = [];
    try {
      if (staged.length > 0) await this.moveStagedIn(staged);
      if (files.length > 0 || staged.length > 0) {
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

  /**
   * Flush the staged temp files' data (one syncfs; else a fsync each), journal their aliases, rename them into the
   * pool. Those not renamed when it fails stay staged for the next flush (a renamed one is flushed by its directory).
   */
  private async moveStagedIn(staged: Staged[]): Promise<void> {
    let moved = 0;
    try {
      // The temp dir's filesystem is the pool's (a rename needs it), and it exists before the pool's first blob does.
      if (!(await syncFilesystem(this.tempDir))) await forEachLimited(staged, FSYNC_CONCURRENCY, (s) => fsyncPath(s.temp));
      await this.temp.journalAliases(staged.flatMap((s) => (s.alias ? [{ alias: s.alias, sha256: s.sha256 }] : [])));
      const dirs = new Set(staged.map((s) => dirname(this.pathOf(s.sha256))));
      // In a fresh pool most are new directories (an <aa>/<bb> pool's <aa> too): made synchronously, the rest (existing, failing) the careful way.
      for (const d of dirs) if (!this.madeDirs.has(d)) this.ensureDirSync(d, true);
      await forEachLimited([...dirs], FSYNC_CONCURRENCY, (d) => this.ensureDir(d));
      while (moved < staged.length) {
        for (const end = Math.min(staged.length, moved + RENAMES_PER_TURN); moved < end; moved++) await this.renameStaged(staged[moved]!);
        if (moved < staged.length) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.staged.unshift(...staged.slice(moved));
      throw err;
    }
  }

  /** rename(2) synchronously (it is a directory operation, microseconds); only a vanished directory costs an await. */
  private async renameStaged(s: Staged): Promise<void> {
    const dest = this.pathOf(s.sha256);
    try {
      try {
        renameSync(s.temp, dest);
      } catch (err) {
        if (errCode(err) !== "ENOENT" || !(await isFile(s.temp))) throw err;
        // The directory went away since we made it (pool cleanup): make it again.
        await this.remakeDir(dirname(dest));
        renameSync(s.temp, dest);
      }
      this.dirtyDirs.add(dirname(dest));
    } catch (err) {
      throw adoptError(err, this, s.temp, dest);
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

  localPath(sha256: string): string {
    return this.pathOf(sha256);
  }

  async remove(sha256: string): Promise<void> {
    await unlink(this.pathOf(sha256)).catch((err: unknown) => {
      if (errCode(err) !== "ENOENT") throw err;
    });
  }

  /** mkdir -p once per blob directory: a fresh pool of 20,000 blobs would otherwise pay a syscall per file. */
  private ensureDir(dir: string): Promise<void> {
    let made = this.madeDirs.get(dir);
    if (!made) {
      made = this.markLayout()
        .then(() => makeDirectory(dir, { mode: DirMode.shared }))
        .then((created) => {
          // Each new directory is an entry of its parent: flush the parents of those made.
          for (const d of created) this.dirtyDirs.add(dirname(d));
        });
      made.catch(() => this.madeDirs.delete(dir));
      this.madeDirs.set(dir, made);
    }
    return made;
  }

  /**
   * ensureDir's common case synchronously: a new directory whose parent exists, or with `withParent` whose parent is
   * new too (<aa> of a fresh pool); anything else is left to ensureDir's async path, later.
   */
  private ensureDirSync(dir: string, withParent = false): void {
    if (!this.markLayoutSync()) return;
    if (!tryCreateDirectorySync(dir, DirMode.shared, this.dirModes)) {
      const parent = dirname(dir);
      if (!withParent || this.madeDirs.has(parent) || !tryCreateDirectorySync(parent, DirMode.shared, this.dirModes)) return;
      this.dirtyDirs.add(dirname(parent));
      this.madeDirs.set(parent, Promise.resolve());
      if (!tryCreateDirectorySync(dir, DirMode.shared, this.dirModes)) return;
    }
    this.dirtyDirs.add(dirname(dir));
    this.madeDirs.set(dir, Promise.resolve());
  }

  /** ensureDir again after the directory was removed under us (pool cleanup) since it was made. */
  private remakeDir(dir: string): Promise<void> {
    this.madeDirs.delete(dir);
    return this.ensureDir(dir);
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

/** A directory's entries; none when it does not exist. */
export async function readdirOrEmpty(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
    if (isMissingPath(err)) return [] as Dirent[];
    throw err;
  });
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (err) {
    if (isMissingPath(err)) return false;
    throw err;
  }
}

function adoptError(err: unknown, store: FilesystemBlobStore, tempFile: string, dest: string): PoolError {
  if (errCode(err) === "EXDEV") {
    return new PoolError(`temp dir ${store.tempDir} and pool ${store.root} must be on the same filesystem (rename failed with EXDEV)`, { cause: err });
  }
  return new PoolError(`cannot move ${tempFile} into the pool as ${dest}: ${(err as Error).message}`, { cause: err });
}
