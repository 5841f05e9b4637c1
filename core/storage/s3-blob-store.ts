// The pool in an S3 bucket: blobs at <prefix>/pool/<aa>/<bb>/<sha256>. Downloads still land in a local temp
// file (hashed while written); only a verified file is uploaded, and S3 makes an object visible only once
// its upload is complete, so the bucket never holds half a blob either.
import { unlink } from "node:fs/promises";
import { Readable } from "node:stream";
import { adoptedByAlias, normalizeSha256, PoolError, TempArea, type BlobStore } from "./blob-store.js";
import type { S3Bucket } from "../s3/bucket.js";
import { isNotFound, S3Error } from "../s3/errors.js";
import { poolKeyOf, poolListPrefix } from "./s3-layout.js";
import { forEachLimited } from "../concurrency.js";

const HEAD_CONCURRENCY = 64;
const LIST_CONCURRENCY = 16;
/**
 * haveMany asks one HEAD per blob below this many, and lists the pool's <aa>/ prefixes (at most 256 of
 * them, 1,000 keys a page) from here on: listing costs ~256 + pool size / 1,000 requests whatever is asked.
 */
export const LIST_THRESHOLD = 1024;
const BLOB_HEADERS = { contentType: "application/octet-stream" };

export type ExistenceCheck = "head" | "list";

/** How haveMany finds out what the bucket holds: cheap per blob for a few, cheap per page for many. */
export function existenceCheckFor(count: number, threshold = LIST_THRESHOLD): ExistenceCheck {
  return count < threshold ? "head" : "list";
}

export class S3BlobStore implements BlobStore {
  private readonly temp: TempArea;

  constructor(
    readonly bucket: S3Bucket,
    readonly tempDir: string,
    private readonly listThreshold = LIST_THRESHOLD,
  ) {
    this.temp = new TempArea(tempDir);
  }

  get location(): string {
    return this.bucket.url(`${this.bucket.key("pool")}/`);
  }

  keyOf(sha256: string): string {
    return poolKeyOf(this.bucket.settings.prefix, sha256);
  }

  locationOf(sha256: string): string {
    return this.bucket.url(this.keyOf(sha256));
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.bucket.head(this.keyOf(sha256))) !== undefined;
  }

  async haveMany(shas: Iterable<string>, concurrency = HEAD_CONCURRENCY): Promise<Set<string>> {
    const unique = [...new Set([...shas].map(normalizeSha256))];
    const present = new Set<string>();
    if (existenceCheckFor(unique.length, this.listThreshold) === "head") {
      await forEachLimited(unique, concurrency, async (sha) => {
        if (await this.has(sha)) present.add(sha);
      });
      return present;
    }
    const wanted = new Set(unique);
    const groups = [...new Set(unique.map((s) => s.slice(0, 2)))].sort();
    await forEachLimited(groups, LIST_CONCURRENCY, async (aa) => {
      for await (const page of this.bucket.list(poolListPrefix(this.bucket.settings.prefix, aa))) {
        for (const o of page) {
          const sha = o.key.slice(o.key.lastIndexOf("/") + 1);
          if (wanted.has(sha)) present.add(sha);
        }
      }
    });
    return present;
  }

  sizeOf(sha256: string): Promise<number | undefined> {
    return this.bucket.head(this.keyOf(sha256));
  }

  /** Upload the verified temp file, then remove it (also when the upload fails: the caller would anyway). */
  async adopt(tempFile: string, sha256: string, signal?: AbortSignal, alias?: string): Promise<void> {
    try {
      if (alias) await this.temp.journalAlias(alias, sha256);
      await this.bucket.uploadFile(this.keyOf(sha256), tempFile, BLOB_HEADERS, signal);
    } finally {
      await unlink(tempFile).catch(() => undefined);
    }
  }

  adoptedByAlias(aliases: readonly string[]): Promise<Map<string, string>> {
    return adoptedByAlias(this.temp, aliases);
  }

  pruneAliasJournals(recorded: (sha256s: string[]) => Promise<Set<string>>): Promise<void> {
    return this.temp.pruneJournals(recorded);
  }

  openRead(sha256: string, signal?: AbortSignal): Readable {
    return Readable.from(this.chunks(this.keyOf(sha256), sha256, signal), { objectMode: false });
  }

  private async *chunks(key: string, sha256: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
    let body: Readable;
    try {
      body = await this.bucket.openBody(key, signal);
    } catch (err) {
      if (err instanceof S3Error && isNotFound(err.cause))
        throw new PoolError(`blob ${sha256} is missing from the pool ${this.location}: run "repo sync" to fetch it again`, { cause: err });
      throw err;
    }
    try {
      for await (const chunk of body) yield chunk as Buffer;
    } finally {
      body.destroy();
    }
  }

  remove(sha256: string): Promise<void> {
    return this.bucket.deleteKeys([this.keyOf(sha256)]);
  }

  tempPath(key: string): string {
    return this.temp.path(key);
  }

  ensureTempDir(): Promise<void> {
    return this.temp.ensure();
  }

  cleanStaleTemp(olderThanMs: number): Promise<number> {
    return this.temp.cleanStale(olderThanMs);
  }
}
