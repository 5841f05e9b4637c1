// What sync, download, publish and pool verify need from the content-addressed pool, wherever it lives
// (a directory: FilesystemBlobStore in pool.ts; a bucket: S3BlobStore), and the local temp area both use:
// downloads are hashed into a local temp file and only a verified file is handed to adopt().
import { appendFile, readdir, readFile, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { ChantalError } from "../errors.js";
import { DirMode, makeDirectory } from "../fs-dirs.js";
import { isProcessAlive } from "../process.js";
import { ownedName } from "../leftovers.js";

/** A blob's name: a lower-case sha256 hex digest. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = "ct_";
const TEMP_SUFFIX = ".part";
/** ct_<host>_<pid>_<seq>_<key>.part */
const TEMP_NAME = /^ct_([A-Za-z0-9.-]*)_(\d+)_\d+_.*\.part$/;
/** aliases~host~pid~<random>.log: one store's journal of "<algo>:<hex> <sha256>" lines (see TempArea.journalAlias). */
const ALIAS_JOURNAL = /^aliases~.*\.log$/;

export class PoolError extends ChantalError {}

export interface BlobStore {
  /** Where the blobs are, for messages: the pool directory, or s3://bucket/<prefix>/pool. */
  readonly location: string;
  /** Where one blob is, for messages and reports: a path, or an s3:// URL. */
  locationOf(sha256: string): string;
  has(sha256: string): Promise<boolean>;
  /** The subset of `shas` already stored (lowercase). */
  haveMany(shas: Iterable<string>, concurrency?: number): Promise<Set<string>>;
  /** The stored size in bytes, or undefined when the blob is absent. */
  sizeOf(sha256: string): Promise<number | undefined>;
  /**
   * Take a verified temp file (named by tempPath) into the store under its sha256. `alias` is upstream's
   * checksum (`algo:hex`) when it is not sha256: journaled first, so that the next plan finds the blob by it
   * even when a kill came before the database recorded the blob. `synced`: the writer flushed the file's data
   * already (through the handle it wrote with), so a filesystem store does not open it again to flush it.
   * `sharedMode`: the writer created it with SHARED_FILE_MODE exactly (SharedFileMode), so it is not chmodded.
   */
  adopt(tempFile: string, sha256: string, signal?: AbortSignal, alias?: string, opts?: AdoptOptions): Promise<void>;
  /**
   * Like adopt(), for a verified temp file whose data is not flushed (and whose mode is SHARED_FILE_MODE exactly): it
   * waits, not yet in the store, for the next flushAdopted(), which flushes every such file at once (one syncfs),
   * then renames them in and flushes their directories (a second one): a blob is under its name only once its data
   * is on disk. The caller must flushAdopted() before it reads, or records, the blob. A filesystem pool's (with
   * storage.fsync: false it is adopt() at once); elsewhere, flush the file and adopt() it.
   */
  adoptStaged?(tempFile: string, sha256: string, alias?: string): Promise<void>;
  /** sha256 of blobs adopted under these aliases, by this run or a killed one: a hint, check presence with haveMany. */
  adoptedByAlias?(aliases: readonly string[]): Promise<Map<string, string>>;
  /** Remove alias journals whose every blob the database records now (`recorded` returns the sha256s it knows). */
  pruneAliasJournals?(recorded: (sha256s: string[]) => Promise<Set<string>>): Promise<void>;
  /**
   * Make every blob adopted, staged or put so far durable, and in the store, before the database records it (a
   * filesystem's syncfs or fsyncs); concurrent calls run one after the other.
   */
  flushAdopted?(): Promise<void>;
  /**
   * Write a verified blob (its bytes, or a stream that errors when they are not the blob's) into the store under its
   * sha256 without flushing it: flushAdopted() makes all such blobs durable at once (one syncfs instead of a fsync per
   * file). A blob already stored is kept, never replaced by an unflushed copy. A filesystem pool's; elsewhere, write a
   * temp file and adopt() it.
   */
  putUnflushed?(sha256: string, data: Buffer | Readable, signal?: AbortSignal): Promise<void>;
  /** The blob's bytes. */
  openRead(sha256: string, signal?: AbortSignal): Readable;
  /** Where the blob is on this host's disk, for a reader in another thread; a store that is no local directory has none. */
  localPath?(sha256: string): string;
  /** Delete a blob (pool verify --fix); absent is fine. */
  remove(sha256: string): Promise<void>;
  /** A fresh local temp file name, unique per call. */
  tempPath(key: string): string;
  ensureTempDir(): Promise<void>;
  /** Remove temp files left by dead writers; returns how many. */
  cleanStaleTemp(olderThanMs: number): Promise<number>;
}

export interface AdoptOptions {
  synced?: boolean;
  sharedMode?: boolean;
}

/** A small blob (an index, a signature) read whole; one larger than maxBytes is refused, naming it as `label`. */
export async function readBlob(blobs: BlobStore, sha256: string, opts: { maxBytes: number; label: string; signal?: AbortSignal }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of blobs.openRead(sha256, opts.signal)) {
    size += (chunk as Buffer).length;
    if (size > opts.maxBytes) throw new PoolError(`${opts.label} is larger than ${opts.maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function normalizeSha256(sha256: string): string {
  const sha = sha256.toLowerCase();
  if (!SHA256_HEX.test(sha)) throw new PoolError(`not a sha256 hex digest: ${JSON.stringify(sha256)}`);
  return sha;
}

/** <aa>/<bb>/<sha256>: the layout of the pool in a bucket (a key costs no directory, so it kept the first layout; pool-layout.ts). */
export function blobRelativePath(sha256: string): string {
  const sha = normalizeSha256(sha256);
  return `${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`;
}

/**
 * The local directory downloads are written to before they enter the store. Names carry host and pid,
 * so that cleanStaleTemp can tell a dead writer's leftovers from a live one's.
 */
/**
 * One counter per process, not per TempArea: two syncs in one process (the scheduler's max_concurrent_syncs) each have
 * their own store, and two downloads of one blob would otherwise get the same name and rename each other's file away.
 */
let tempSeq = 0;

export class TempArea {
  private ready: Promise<void> | undefined;
  private readonly host = safeNamePart(hostname()).slice(0, 63);

  constructor(readonly dir: string) {}

  /** A fresh temp file name in dir, unique per call in this process. */
  path(key: string): string {
    const seq = ++tempSeq;
    const safeKey = safeNamePart(key).slice(0, 80);
    return join(this.dir, `${TEMP_PREFIX}${this.host}_${process.pid}_${seq}_${safeKey}${TEMP_SUFFIX}`);
  }

  private journal: string | undefined;

  /** Record that the blob `sha256` is upstream's `alias`, before it enters the store (the journal outlives a kill). */
  journalAlias(alias: string, sha256: string): Promise<void> {
    return this.journalAliases([{ alias, sha256 }]);
  }

  /** journalAlias for several blobs at once: one append (a batch of staged downloads). */
  async journalAliases(entries: readonly { alias: string; sha256: string }[]): Promise<void> {
    if (entries.length === 0) return;
    this.journal ??= join(this.dir, `${ownedName("aliases")}.log`);
    await appendFile(this.journal, entries.map((e) => `${e.alias} ${e.sha256}\n`).join(""));
  }

  /** Every journaled alias -> sha256 in dir (of any run); the last line wins. */
  async readAliases(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const file of await this.journals()) {
      for (const line of (await readFile(file, "utf8").catch(() => "")).split("\n")) {
        const [alias, sha256] = line.split(" ");
        if (alias && sha256 && SHA256_HEX.test(sha256)) out.set(alias, sha256);
      }
    }
    return out;
  }

  /** Remove the journals whose every blob `recorded` (given their sha256s, returns those the database has) knows. */
  async pruneJournals(recorded: (sha256s: string[]) => Promise<Set<string>>): Promise<void> {
    for (const file of await this.journals()) {
      const lines = (await readFile(file, "utf8").catch(() => "")).split("\n");
      const shas = [...new Set(lines.map((l) => l.split(" ")[1] ?? "").filter((sha) => SHA256_HEX.test(sha)))];
      const known = shas.length > 0 ? await recorded(shas) : new Set<string>();
      if (shas.every((sha) => known.has(sha))) await unlink(file).catch(() => undefined);
    }
  }

  private async journals(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => ALIAS_JOURNAL.test(n)).map((n) => join(this.dir, n));
  }

  /** Create dir once (callers write temp files right after path()). */
  ensure(): Promise<void> {
    this.ready ??= makeDirectory(this.dir, { mode: DirMode.private }).then(
      () => undefined,
      (err: unknown) => {
        this.ready = undefined;
        throw new PoolError(`cannot create temp dir ${this.dir}: ${(err as Error).message}`, { cause: err });
      },
    );
    return this.ready;
  }

  /**
   * Remove temp files left by dead writers (kill -9): ours whose pid is gone on this host,
   * and any file older than olderThanMs (another host's, a reused pid, a foreign file).
   */
  async cleanStale(olderThanMs: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (errCode(err) === "ENOENT") return 0;
      throw err;
    }
    const now = Date.now();
    let removed = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) continue;
      if (!this.isStale(name, now - info.mtimeMs, olderThanMs)) continue;
      try {
        await unlink(path);
        removed++;
      } catch (err) {
        if (errCode(err) !== "ENOENT") throw err;
      }
    }
    return removed;
  }

  private isStale(name: string, ageMs: number, olderThanMs: number): boolean {
    if (ageMs > olderThanMs) return true;
    const m = TEMP_NAME.exec(name);
    if (!m || m[1] !== this.host) return false;
    const pid = Number(m[2]);
    return pid !== process.pid && !isProcessAlive(pid);
  }
}

/** The journaled sha256 of each of `aliases` that has one. */
export async function adoptedByAlias(temp: TempArea, aliases: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (aliases.length === 0) return out;
  const journaled = await temp.readAliases();
  for (const a of aliases) {
    const sha = journaled.get(a);
    if (sha) out.set(a, sha);
  }
  return out;
}

function safeNamePart(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, "-");
}

export function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The path (or a directory on its way) does not exist: ENOENT, or ENOTDIR where a file stands for a directory. */
export function isMissingPath(err: unknown): boolean {
  const code = errCode(err);
  return code === "ENOENT" || code === "ENOTDIR";
}
