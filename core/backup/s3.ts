// s3://bucket/prefix targets: streaming multipart uploads (lib-storage), listing, streaming reads and deletes.
// The AWS SDK is loaded on first use: local backups (and every other command) never pay for it.
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { uploadStream } from "../storage/s3-upload.js";
import type { Config } from "../config/schema.js";
import { ChantalError, UsageError, errorMessage } from "../errors.js";

export class S3TargetError extends ChantalError {}

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing slash ("" for the bucket root). */
  prefix: string;
}

export function isS3Url(target: string): boolean {
  return /^s3:\/\//i.test(target);
}

/** s3://bucket/some/prefix -> { bucket, prefix }. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(url);
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]!)) throw new UsageError(`"${url}" is not an s3://bucket/prefix URL (bucket names are 3-63 lowercase letters, digits, '.' or '-')`);
  return { bucket: m[1]!, prefix: m[2]!.replace(/^\/+|\/+$/g, "") };
}

export function s3Url(loc: S3Location, name?: string): string {
  const key = [loc.prefix, name].filter(Boolean).join("/");
  return `s3://${loc.bucket}/${key}`;
}

export function s3Key(loc: S3Location, name: string): string {
  return loc.prefix ? `${loc.prefix}/${name}` : name;
}

/** Client settings: backup.s3 (endpoint, region, force_path_style), credentials from the AWS environment. */
export function s3ClientConfig(config: Config | undefined, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const s3 = config?.backup.s3;
  return {
    region: s3?.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(s3?.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3?.force_path_style ?? false,
    maxAttempts: 4,
  };
}

function describeS3Error(err: unknown, what: string): S3TargetError {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
  return new S3TargetError(`${what}: ${e.name ?? e.Code ?? "error"}${status}: ${errorMessage(err)}`, { cause: err });
}

export interface StoredObject {
  name: string;
  size: number;
  modified: Date;
}

export class S3Store {
  private s3?: S3Client;
  private sdk?: typeof import("@aws-sdk/client-s3");

  constructor(
    readonly location: S3Location,
    private readonly clientConfig: S3ClientConfig,
  ) {}

  private async api(): Promise<{ client: S3Client; sdk: typeof import("@aws-sdk/client-s3") }> {
    this.sdk ??= await import("@aws-sdk/client-s3");
    this.s3 ??= new this.sdk.S3Client(this.clientConfig);
    return { client: this.s3, sdk: this.sdk };
  }

  describe(name?: string): string {
    return s3Url(this.location, name);
  }

  /** Objects directly under the prefix (not in deeper "folders"). */
  async list(): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const prefix = this.location.prefix ? `${this.location.prefix}/` : "";
    let token: string | undefined;
    try {
      const { client, sdk } = await this.api();
      do {
        const r = await client.send(new sdk.ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token }));
        for (const o of r.Contents ?? []) {
          if (!o.Key) continue;
          out.push({ name: o.Key.slice(prefix.length), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw describeS3Error(err, `cannot list ${this.describe()}`);
    }
    return out;
  }

  async openRead(name: string, signal?: AbortSignal): Promise<Readable> {
    try {
      const { client, sdk } = await this.api();
      const r = await client.send(new sdk.GetObjectCommand({ Bucket: this.location.bucket, Key: s3Key(this.location, name) }), signal ? { abortSignal: signal } : {});
      return r.Body as Readable;
    } catch (err) {
      throw describeS3Error(err, `cannot read ${this.describe(name)}`);
    }
  }

  async size(name: string): Promise<number> {
    try {
      const { client, sdk } = await this.api();
      const r = await client.send(new sdk.HeadObjectCommand({ Bucket: this.location.bucket, Key: s3Key(this.location, name) }));
      return r.ContentLength ?? 0;
    } catch (err) {
      throw describeS3Error(err, `cannot stat ${this.describe(name)}`);
    }
  }

  /** A streaming multipart upload: at most queueSize x partSize bytes in memory, whatever the archive's size. */
  async write(name: string, body: Readable, signal?: AbortSignal): Promise<void> {
    const { client } = await this.api();
    try {
      await uploadStream(client, { Bucket: this.location.bucket, Key: s3Key(this.location, name), Body: body, ContentType: name.endsWith(".gz") ? "application/gzip" : "application/x-tar" }, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw describeS3Error(err, `cannot upload ${this.describe(name)}`);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      const { client, sdk } = await this.api();
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.location.bucket, Key: s3Key(this.location, name) }));
    } catch (err) {
      throw describeS3Error(err, `cannot delete ${this.describe(name)}`);
    }
  }

  close(): void {
    this.s3?.destroy();
  }
}
