// The few S3 operations the pool and the published trees need, on one bucket and key prefix. The AWS SDK
// is loaded on first use, so the filesystem backend never pays for it. Credentials come from the AWS
// environment (variables, profile, container or instance role); errors name the s3:// URL, never a secret.
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import type { S3StorageConfig } from "../config/schema.js";
import { AbortedError, ChantalError, errorMessage } from "../errors.js";
import { redactUrl } from "../redact.js";
import { uploadStream } from "./s3-upload.js";

export class S3StorageError extends ChantalError {}

export interface S3Settings {
  bucket: string;
  /** Without leading or trailing slash; "" for the bucket root. */
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
}

export interface ListedObject {
  key: string;
  size: number;
}

export interface ObjectHeaders {
  contentType: string;
  cacheControl?: string;
}

/** Parallel requests the client allows (copies, HEADs and uploads of concurrent downloads share them). */
const MAX_SOCKETS = 128;
const DELETE_BATCH = 1000;

export function s3SettingsOf(s3: S3StorageConfig, env: NodeJS.ProcessEnv = process.env): S3Settings {
  return {
    bucket: s3.bucket,
    prefix: s3.prefix,
    region: s3.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.force_path_style,
  };
}

/** True for "no such object" (HEAD answers a bare 404 NotFound, GET a NoSuchKey). */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}

export class S3Bucket {
  private client?: S3Client;
  private sdk?: typeof import("@aws-sdk/client-s3");
  private checked?: Promise<void>;

  constructor(readonly settings: S3Settings) {}

  get name(): string {
    return this.settings.bucket;
  }

  /** A key under the configured prefix. */
  key(relative: string): string {
    return this.settings.prefix ? `${this.settings.prefix}/${relative}` : relative;
  }

  url(key: string): string {
    return `s3://${this.settings.bucket}/${key}`;
  }

  private async api(): Promise<{ client: S3Client; sdk: typeof import("@aws-sdk/client-s3") }> {
    this.sdk ??= await import("@aws-sdk/client-s3");
    if (!this.client) {
      const config: S3ClientConfig = {
        region: this.settings.region,
        forcePathStyle: this.settings.forcePathStyle,
        maxAttempts: 5,
        requestHandler: { httpAgent: { keepAlive: true, maxSockets: MAX_SOCKETS }, httpsAgent: { keepAlive: true, maxSockets: MAX_SOCKETS } },
        ...(this.settings.endpoint ? { endpoint: this.settings.endpoint } : {}),
      };
      this.client = new this.sdk.S3Client(config);
    }
    const api = { client: this.client, sdk: this.sdk };
    this.checked ??= this.checkBucket(api).catch((err: unknown) => {
      this.checked = undefined;
      throw err;
    });
    await this.checked;
    return api;
  }

  /**
   * Once per process, before anything else: a HEAD of a missing object and of a missing bucket both
   * answer a bare 404, and a missing bucket must not read as "the pool is empty".
   */
  private async checkBucket({ client, sdk }: { client: S3Client; sdk: typeof import("@aws-sdk/client-s3") }): Promise<void> {
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.name }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) throw new S3StorageError(`bucket ${this.name}${this.via()} does not exist: check storage.s3.bucket (and region, endpoint)`, { cause: err });
      if (status === 403) throw new S3StorageError(`access to bucket ${this.name}${this.via()} is denied: the credentials need s3:ListBucket on it (and s3:GetObject, s3:PutObject, s3:DeleteObject on its keys)`, { cause: err });
      if (status === 301) throw new S3StorageError(`bucket ${this.name} is not in region ${this.settings.region}: set storage.s3.region to the bucket's region`, { cause: err });
      throw this.fail(err, `cannot reach bucket ${this.name}`);
    }
  }

  /** The endpoint, when it is not AWS's, for messages. */
  private via(): string {
    return this.settings.endpoint ? ` at ${redactUrl(this.settings.endpoint)}` : "";
  }

  private fail(err: unknown, what: string, signal?: AbortSignal): Error {
    if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new AbortedError();
    const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
    return new S3StorageError(`${what}${this.via()}: ${e.name ?? e.Code ?? "error"}${status}: ${errorMessage(err)}`, { cause: err });
  }

  /** The object's size, or undefined when there is none. */
  async head(key: string, signal?: AbortSignal): Promise<number | undefined> {
    const { client, sdk } = await this.api();
    try {
      const r = await client.send(new sdk.HeadObjectCommand({ Bucket: this.name, Key: key }), sendOptions(signal));
      return r.ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err) && !signal?.aborted) return undefined;
      throw this.fail(err, `cannot check ${this.url(key)}`, signal);
    }
  }

  /** Upload a local file: one PUT when small, a multipart upload (8 MiB parts, 2 in flight) when large. */
  async uploadFile(key: string, file: string, headers: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    const { client } = await this.api();
    const body = createReadStream(file);
    try {
      await uploadStream(client, { Bucket: this.name, Key: key, Body: body, ContentType: headers.contentType, ...(headers.cacheControl ? { CacheControl: headers.cacheControl } : {}) }, signal);
    } catch (err) {
      throw this.fail(err, `cannot upload ${file} to ${this.url(key)}`, signal);
    } finally {
      body.destroy();
    }
  }

  async putBytes(key: string, data: Buffer, headers: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    const { client, sdk } = await this.api();
    try {
      await client.send(
        new sdk.PutObjectCommand({ Bucket: this.name, Key: key, Body: data, ContentType: headers.contentType, ...(headers.cacheControl ? { CacheControl: headers.cacheControl } : {}) }),
        sendOptions(signal),
      );
    } catch (err) {
      throw this.fail(err, `cannot write ${this.url(key)}`, signal);
    }
  }

  /** The object's body as a stream; a missing object is an S3StorageError naming it. */
  async openBody(key: string, signal?: AbortSignal): Promise<Readable> {
    const { client, sdk } = await this.api();
    try {
      const r = await client.send(new sdk.GetObjectCommand({ Bucket: this.name, Key: key }), sendOptions(signal));
      return r.Body as Readable;
    } catch (err) {
      throw this.fail(err, `cannot read ${this.url(key)}`, signal);
    }
  }

  /** The whole (small) object, or undefined when there is none. */
  async getBytes(key: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    const { client, sdk } = await this.api();
    try {
      const r = await client.send(new sdk.GetObjectCommand({ Bucket: this.name, Key: key }), sendOptions(signal));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (err) {
      if (isNotFound(err) && !signal?.aborted) return undefined;
      throw this.fail(err, `cannot read ${this.url(key)}`, signal);
    }
  }

  /**
   * Server-side copy (no bytes pass through us). Without headers the object keeps the source's metadata;
   * with them they replace it. Keys are ours (prefix validated, content-addressed), so the source needs no escaping.
   */
  async copy(sourceKey: string, key: string, headers?: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    const { client, sdk } = await this.api();
    try {
      await client.send(
        new sdk.CopyObjectCommand({
          Bucket: this.name,
          Key: key,
          CopySource: `${this.name}/${sourceKey}`,
          ...(headers ? { MetadataDirective: "REPLACE", ContentType: headers.contentType, ...(headers.cacheControl ? { CacheControl: headers.cacheControl } : {}) } : {}),
        }),
        sendOptions(signal),
      );
    } catch (err) {
      throw this.fail(err, `cannot copy ${this.url(sourceKey)} to ${this.url(key)}`, signal);
    }
  }

  /** Every object whose key starts with `prefix`, page by page (1,000 keys a request). */
  async *list(prefix: string, signal?: AbortSignal): AsyncGenerator<ListedObject[]> {
    const { client, sdk } = await this.api();
    let token: string | undefined;
    do {
      let page;
      try {
        page = await client.send(new sdk.ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token }), sendOptions(signal));
      } catch (err) {
        throw this.fail(err, `cannot list ${this.url(prefix)}`, signal);
      }
      yield (page.Contents ?? []).flatMap((o) => (o.Key ? [{ key: o.Key, size: o.Size ?? 0 }] : []));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Delete objects, 1,000 a request; absent keys are fine. */
  async deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    const { client, sdk } = await this.api();
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      let errors;
      try {
        const r = await client.send(new sdk.DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }), sendOptions(signal));
        errors = r.Errors ?? [];
      } catch (err) {
        throw this.fail(err, `cannot delete ${batch.length} object(s) under ${this.url(this.settings.prefix)}`, signal);
      }
      if (errors.length > 0) {
        const e = errors[0]!;
        throw new S3StorageError(`cannot delete ${errors.length} object(s), e.g. ${this.url(e.Key ?? "?")}: ${e.Code ?? "error"}: ${e.Message ?? ""}`);
      }
    }
  }
}
