// Records downloaded blobs in batches while a sync runs, so a run that is killed does not download them again.
import type pg from "pg";
import { upsertPackages, type PackageRecord } from "../db/package-sets.js";
import type { BlobStore } from "../storage/blob-store.js";

const BATCH = 500;
const INTERVAL_MS = 1_000;

export class PackageRecorder {
  private buffer: PackageRecord[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: pg.Pool,
    /** Where the recorded blobs are: flushed to disk before the database says they exist. */
    private readonly blobs: BlobStore,
  ) {
    this.timer = setInterval(() => void this.flush(), INTERVAL_MS);
    this.timer.unref();
  }

  add(record: PackageRecord): void {
    this.buffer.push(record);
    if (this.buffer.length >= BATCH) void this.flush();
  }

  /** The first failed write, if any: recording is an optimisation (the final commit writes every row again). */
  error: unknown;

  /** Write what is buffered, one batch after another; a failure never reaches the download loop. */
  flush(): Promise<void> {
    const batch = this.buffer.splice(0);
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        await this.blobs.flushAdopted?.();
        await upsertPackages(this.db, batch, (r) => r);
      } catch (err) {
        this.error ??= err;
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
