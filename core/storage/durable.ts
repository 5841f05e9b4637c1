// Crash durability on a filesystem: fsync a file or a directory, and a rename that survives a power loss.
import { execFile } from "node:child_process";
import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { forEachLimited } from "../concurrency.js";
import { SyncfsRunner } from "./syncfs-runner.js";

const execFileAsync = promisify(execFile);

const DIR_SYNC_CONCURRENCY = 16;

const SYNCFS_TIMEOUT_MS = 600_000;
const syncfsRunner = new SyncfsRunner(SYNCFS_TIMEOUT_MS);

/** storage.fsync: false turns every flush of this module into nothing, for the process (set by blobStoreOf from the configuration). */
let fsyncEnabled = true;

export function setFsyncEnabled(enabled: boolean): void {
  fsyncEnabled = enabled;
}

export function isFsyncEnabled(): boolean {
  return fsyncEnabled;
}

/** Flush a file's data (or a directory's entries) to stable storage (nothing with storage.fsync: false). */
export async function fsyncPath(path: string): Promise<void> {
  if (!fsyncEnabled) return;
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flush several directories, a few at a time (a directory fsync is a journal commit: they share one when concurrent). */
export async function fsyncDirs(dirs: Iterable<string>, signal?: AbortSignal): Promise<void> {
  await forEachLimited([...new Set(dirs)], DIR_SYNC_CONCURRENCY, fsyncPath, signal);
}

/**
 * syncfs(2) of the filesystem `dir` is on (`sync -f`, coreutils): every file and directory written there is on disk
 * when it returns true, at the cost of one fsync where 20,000 fsyncs of 20 KB files cost seconds. False when the
 * program is missing or fails (the caller then fsyncs each file and directory); an abort rejects. With
 * storage.fsync: false, nothing and true (there is nothing for the caller to do either).
 */
export async function syncFilesystem(dir: string, signal?: AbortSignal): Promise<boolean> {
  if (!fsyncEnabled) return true;
  // Through the long-lived shell; where it cannot answer (no /bin/sh, it died), a `sync` process of its own.
  const answer = await syncfsRunner.run(dir, signal);
  if (answer !== undefined) return answer;
  try {
    await execFileAsync("sync", ["-f", dir], { timeout: SYNCFS_TIMEOUT_MS, ...(signal ? { signal } : {}) });
    return true;
  } catch {
    signal?.throwIfAborted();
    return false;
  }
}

/**
 * rename(2) whose result is on disk when it returns: the source's data first (`syncSource`: a file written
 * by us; a directory tree is the caller's to flush), then the rename, then the directory (or both
 * directories) whose entries it changed.
 */
export async function durableRename(from: string, to: string, opts: { syncSource?: boolean } = {}): Promise<void> {
  if (opts.syncSource !== false) await fsyncPath(from);
  await rename(from, to);
  await fsyncDirs(dirname(from) === dirname(to) ? [dirname(to)] : [dirname(to), dirname(from)]);
}

/**
 * Directories whose entries changed (a file renamed or linked in, a directory made) since they were last
 * flushed: flush() makes all of them durable at once, so that a batch of 500 blobs costs one fsync per
 * directory instead of one per blob.
 */
export class DirtyDirectories {
  private dirty = new Set<string>();
  /** The flush in progress: a later flush waits for it, so that it never returns while an earlier one's dirs are pending. */
  private flushing: Promise<void> = Promise.resolve();

  add(dir: string): void {
    this.dirty.add(dir);
  }

  /**
   * The directories added so far, no longer dirty here: the caller makes them durable otherwise (a syncfs of their
   * filesystem, started after this call) or adds them back when it cannot.
   */
  take(): Set<string> {
    const dirs = this.dirty;
    this.dirty = new Set();
    return dirs;
  }

  /** Every directory added before the call is durable when it resolves. */
  flush(): Promise<void> {
    const dirs = this.dirty;
    this.dirty = new Set();
    const previous = this.flushing;
    const mine = (async () => {
      await previous.catch(() => undefined);
      if (dirs.size > 0) await fsyncDirs(dirs);
    })();
    this.flushing = mine;
    // A failed flush leaves its directories dirty for the next one.
    mine.catch(() => {
      for (const d of dirs) this.dirty.add(d);
    });
    return mine;
  }
}
