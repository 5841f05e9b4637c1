// Backups under an s3://bucket/prefix: the backup store's operations (list, read, size, streaming write,
// delete) on the one S3 module's bucket, with backup.s3's connection. No HEAD of the bucket first: a
// backup target may grant less than s3:ListBucket to a writer, and every failure names its object anyway.
import type { Readable } from "node:stream";
import { S3Bucket, s3SettingsOf } from "../s3/bucket.js";
import type { S3Connection } from "../s3/client.js";
import { S3Error } from "../s3/errors.js";
import { s3Key, s3Url, type S3Location } from "../s3/url.js";

export interface StoredObject {
  name: string;
  size: number;
  modified: Date;
}

export class S3Store {
  private readonly bucket: S3Bucket;

  constructor(
    readonly location: S3Location,
    connection: S3Connection,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.bucket = new S3Bucket(s3SettingsOf(connection, location, env), {
      checkAs: false,
      maxAttempts: 4,
      maxSockets: undefined /* the SDK's agent: one stream at a time */,
    });
  }

  describe(name?: string): string {
    return s3Url(this.location, name);
  }

  /** Objects directly under the prefix (not in deeper "folders"). */
  async list(): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const prefix = this.location.prefix ? `${this.location.prefix}/` : "";
    for await (const page of this.bucket.list(prefix, undefined, true)) {
      for (const o of page) out.push({ name: o.key.slice(prefix.length), size: o.size, modified: o.modified });
    }
    return out;
  }

  openRead(name: string, signal?: AbortSignal): Promise<Readable> {
    return this.bucket.openBody(s3Key(this.location, name), signal);
  }

  async size(name: string): Promise<number> {
    const size = await this.bucket.head(s3Key(this.location, name));
    if (size === undefined) throw new S3Error(`cannot stat ${this.describe(name)}: NotFound (HTTP 404): no such object`);
    return size;
  }

  /** A streaming multipart upload: at most queueSize x partSize bytes in memory, whatever the archive's size. */
  write(name: string, body: Readable, signal?: AbortSignal): Promise<void> {
    return this.bucket.uploadBody(s3Key(this.location, name), body, { contentType: name.endsWith(".gz") ? "application/gzip" : "application/x-tar" }, signal);
  }

  remove(name: string): Promise<void> {
    return this.bucket.deleteKey(s3Key(this.location, name));
  }

  close(): void {
    this.bucket.close();
  }
}
