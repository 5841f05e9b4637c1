// s3://bucket/prefix URLs: parsing (with the bucket-name rule) and building them back from a bucket and key.
import { UsageError } from "../errors.js";

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing slash ("" for the bucket root). */
  prefix: string;
}

/** The bucket-name rule (3-63 lowercase letters, digits, '.' or '-'), shared with the configuration's schema. */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isS3Url(target: string): boolean {
  return /^s3:\/\//i.test(target);
}

/** s3://bucket/some/prefix -> { bucket, prefix }. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(url);
  if (!m || !BUCKET_NAME.test(m[1]!))
    throw new UsageError(`"${url}" is not an s3://bucket/prefix URL (bucket names are 3-63 lowercase letters, digits, '.' or '-')`);
  return { bucket: m[1]!, prefix: m[2]!.replace(/^\/+|\/+$/g, "") };
}

/** The key of `name` under the location's prefix (the prefix itself without a name). */
export function s3Key(loc: S3Location, name?: string): string {
  return [loc.prefix, name].filter(Boolean).join("/");
}

export function s3Url(loc: S3Location, name?: string): string {
  return `s3://${loc.bucket}/${s3Key(loc, name)}`;
}
