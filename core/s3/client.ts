// S3 clients: one connection shape (region, endpoint, path style) for every use, the region default, and the
// SDK loaded on first use so commands without S3 never pay for it. Credentials come from the AWS environment.
import type { S3ClientConfig } from "@aws-sdk/client-s3";

/** How to reach S3: storage.s3 and backup.s3 both hold these fields (s3ConnectionSchema). */
export interface S3Connection {
  region?: string;
  /** An S3-compatible server (MinIO, Ceph, s3rver); unset means AWS. */
  endpoint?: string;
  forcePathStyle?: boolean;
}

/** The configuration's block (storage.s3, backup.s3) as a connection. */
export function s3ConnectionOf(
  block: { region?: string | undefined; endpoint?: string | undefined; force_path_style?: boolean | undefined } | undefined,
): S3Connection {
  return {
    ...(block?.region ? { region: block.region } : {}),
    ...(block?.endpoint ? { endpoint: block.endpoint } : {}),
    forcePathStyle: block?.force_path_style ?? false,
  };
}

/** The configured region, else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1. */
export function resolveRegion(region: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
}

export interface ClientOptions {
  /** Attempts per request, retries included (the SDK's default is 3). */
  maxAttempts?: number;
  /** Parallel requests on one client (keep-alive sockets), for the pool's concurrent copies and HEADs. */
  maxSockets?: number;
}

const DEFAULT_ATTEMPTS = 4;

export function s3ClientConfig(conn: S3Connection, opts: ClientOptions = {}, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const agent = opts.maxSockets ? { keepAlive: true, maxSockets: opts.maxSockets } : undefined;
  return {
    region: resolveRegion(conn.region, env),
    forcePathStyle: conn.forcePathStyle ?? false,
    maxAttempts: opts.maxAttempts ?? DEFAULT_ATTEMPTS,
    ...(agent ? { requestHandler: { httpAgent: agent, httpsAgent: agent } } : {}),
    ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
  };
}

export type S3Sdk = typeof import("@aws-sdk/client-s3");

export function loadS3Sdk(): Promise<S3Sdk> {
  return import("@aws-sdk/client-s3");
}
