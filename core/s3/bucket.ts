// The S3 operations Chantal needs, on one bucket and key prefix: the pool, the published trees, backups and the
// cloud configuration all go through it. The AWS SDK is loaded on first use, so the filesystem backend never
// pays for it. Credentials come from the AWS environment (variables, profile, container or instance role);
// errors (S3Error) name the s3:// URL, never a secret.
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { DeleteObjectsCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { loadS3Sdk, resolveRegion, s3ClientConfig, type S3Connection, type S3Sdk } from "./client.js";
import { bucketCheckError, isNotFound, s3ErrorOf, S3Error } from "./errors.js";
import { uploadStream } from "./upload.js";
import { s3Key, s3Url, type S3Location } from "./url.js";

export interface S3Settings extends S3Connection {
  bucket: string;
  /** Without leading or trailing slash; "" for the bucket root. */
  prefix: string;
  region: string;
  forcePathStyle: boolean;
}

export interface S3BucketOptions {
  /** HEAD the bucket once before the first request, naming this configuration block in the fix; false: never. */
  checkAs?: string | false;
  /** Attempts per request, retries included. */
  maxAttempts?: number;
  /** Parallel requests the client allows (copies, HEADs and uploads of concurrent downloads share them). */
  maxSockets?: number;
  /** A client made elsewhere (tests); it is not destroyed by close(). */
  client?: S3Client;
}

export interface ListedObject {
  key: string;
  size: number;
  modified: Date;
}

export interface ObjectHeaders {
  contentType: string;
  cacheControl?: string;
}

/** The pool's defaults: it has many requests in flight, and a missing bucket must not read as an empty pool. */
const DEFAULTS = { checkAs: "storage.s3", maxAttempts: 5, maxSockets: 128 } as const;
const DELETE_BATCH = 1000;

/** The connection of a configuration block (storage.s3, backup.s3) with a bucket and prefix, region resolved. */
export function s3SettingsOf(conn: S3Connection, location: S3Location, env: NodeJS.ProcessEnv = process.env): S3Settings {
  return {
    bucket: location.bucket,
    prefix: location.prefix,
    region: resolveRegion(conn.region, env),
    ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
    forcePathStyle: conn.forcePathStyle ?? false,
  };
}

function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}

function headerFields(headers: ObjectHeaders): { ContentType: string; CacheControl?: string } {
  return { ContentType: headers.contentType, ...(headers.cacheControl ? { CacheControl: headers.cacheControl } : {}) };
}

export class S3Bucket {
  private client?: S3Client;
  private sdk?: S3Sdk;
  private checked?: Promise<void>;
  private readonly options: S3BucketOptions;

  constructor(
    readonly settings: S3Settings,
    options: S3BucketOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  get name(): string {
    return this.settings.bucket;
  }

  /** A key under the configured prefix. */
  key(relative: string): string {
    return s3Key(this.settings, relative);
  }

  url(key: string): string {
    return s3Url({ bucket: this.settings.bucket, prefix: "" }, key);
  }

  private async api(): Promise<{ client: S3Client; sdk: S3Sdk }> {
    this.sdk ??= await loadS3Sdk();
    this.client ??=
      this.options.client ??
      new this.sdk.S3Client(s3ClientConfig(this.settings, { maxAttempts: this.options.maxAttempts, maxSockets: this.options.maxSockets }));
    const api = { client: this.client, sdk: this.sdk };
    const checkAs = this.options.checkAs;
    if (checkAs) {
      this.checked ??= this.checkBucket(api, checkAs).catch((err: unknown) => {
        this.checked = undefined;
        throw err;
      });
      await this.checked;
    }
    return api;
  }

  /**
   * Once per process, before anything else: a HEAD of a missing object and of a missing bucket both
   * answer a bare 404, and a missing bucket must not read as "the pool is empty".
   */
  private async checkBucket({ client, sdk }: { client: S3Client; sdk: S3Sdk }, configKey: string): Promise<void> {
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.name }));
    } catch (err) {
      throw bucketCheckError(err, { bucket: this.name, region: this.settings.region, endpoint: this.settings.endpoint, configKey });
    }
  }

  private fail(err: unknown, what: string, signal?: AbortSignal): Error {
    return s3ErrorOf(err, what, { endpoint: this.settings.endpoint, signal });
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
    const body = createReadStream(file);
    try {
      await this.upload(key, body, headers, signal, `cannot upload ${file} to ${this.url(key)}`);
    } finally {
      body.destroy();
    }
  }

  /** Upload a stream of unknown length: at most two 8 MiB parts in memory, whatever its size. */
  uploadBody(key: string, body: Readable, headers: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    return this.upload(key, body, headers, signal, `cannot upload ${this.url(key)}`);
  }

  private async upload(key: string, body: Readable, headers: ObjectHeaders, signal: AbortSignal | undefined, what: string): Promise<void> {
    const { client } = await this.api();
    try {
      await uploadStream(client, { Bucket: this.name, Key: key, Body: body, ...headerFields(headers) }, signal);
    } catch (err) {
      throw this.fail(err, what, signal);
    }
  }

  async putBytes(key: string, data: Buffer, headers: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    const { client, sdk } = await this.api();
    try {
      await client.send(new sdk.PutObjectCommand({ Bucket: this.name, Key: key, Body: data, ...headerFields(headers) }), sendOptions(signal));
    } catch (err) {
      throw this.fail(err, `cannot write ${this.url(key)}`, signal);
    }
  }

  /** The object's body as a stream; a missing object is an S3Error naming it. */
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
          ...(headers ? { MetadataDirective: "REPLACE", ...headerFields(headers) } : {}),
        }),
        sendOptions(signal),
      );
    } catch (err) {
      throw this.fail(err, `cannot copy ${this.url(sourceKey)} to ${this.url(key)}`, signal);
    }
  }

  /**
   * Every object whose key starts with `prefix`, page by page (1,000 keys a request); with `shallow`, only
   * those directly under it (not in deeper "folders").
   */
  async *list(prefix: string, signal?: AbortSignal, shallow = false): AsyncGenerator<ListedObject[]> {
    const { client, sdk } = await this.api();
    let token: string | undefined;
    do {
      const page = await client
        .send(
          new sdk.ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token, ...(shallow ? { Delimiter: "/" } : {}) }),
          sendOptions(signal),
        )
        .catch((err: unknown) => {
          throw this.fail(err, `cannot list ${this.url(prefix)}`, signal);
        });
      yield (page.Contents ?? []).flatMap((o) => (o.Key ? [{ key: o.Key, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) }] : []));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Delete one object; an absent key is fine. */
  async deleteKey(key: string, signal?: AbortSignal): Promise<void> {
    const { client, sdk } = await this.api();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.name, Key: key }), sendOptions(signal));
    } catch (err) {
      throw this.fail(err, `cannot delete ${this.url(key)}`, signal);
    }
  }

  /** Delete objects, 1,000 a request; absent keys are fine. */
  async deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    const { client, sdk } = await this.api();
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      let errors: NonNullable<DeleteObjectsCommandOutput["Errors"]>;
      try {
        const r = await client.send(
          new sdk.DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          sendOptions(signal),
        );
        errors = r.Errors ?? [];
      } catch (err) {
        throw this.fail(err, `cannot delete ${batch.length} object(s) under ${this.url(this.settings.prefix)}`, signal);
      }
      if (errors.length > 0) {
        const e = errors[0]!;
        throw new S3Error(`cannot delete ${errors.length} object(s), e.g. ${this.url(e.Key ?? "?")}: ${e.Code ?? "error"}: ${e.Message ?? ""}`);
      }
    }
  }

  /** Release the client's sockets (one made elsewhere stays its owner's). */
  close(): void {
    if (!this.options.client) this.client?.destroy();
    this.client = undefined;
  }
}
