// The Fargate task's configuration: `sst deploy` uploads config.yaml and conf.d/*.yaml to the config
// bucket; the container entry downloads them into a fresh local directory and loads that as usual.
import type { S3Client } from "@aws-sdk/client-s3";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isConfigFilePath } from "../config/files.js";
import { errorMessage } from "../errors.js";
import { S3Bucket, s3SettingsOf } from "../s3/bucket.js";
import type { S3Connection } from "../s3/client.js";
import { S3Error } from "../s3/errors.js";
import { parseS3Url } from "../s3/url.js";
import { CloudError } from "./errors.js";

/** The files the loader reads, relative to the config directory (nothing else is fetched). */
export function isConfigFileName(rel: string): boolean {
  return isConfigFilePath(rel);
}

export interface DownloadedConfig {
  dir: string;
  files: string[];
}

/**
 * Download the configuration under `uri` (s3://bucket/prefix/) into a new directory inside `parentDir`.
 * Throws a CloudError naming the URI when it holds no config.yaml, an S3Error naming it when it cannot be read.
 */
export async function downloadConfigDir(
  uri: string,
  parentDir: string,
  opts: { client?: S3Client; connection?: S3Connection; signal?: AbortSignal } = {},
): Promise<DownloadedConfig> {
  const location = parseS3Url(uri);
  const base = location.prefix ? `${location.prefix}/` : "";
  const bucket = new S3Bucket(s3SettingsOf(opts.connection ?? {}, location), {
    checkAs: false,
    maxAttempts: 4,
    maxSockets: undefined,
    ...(opts.client ? { client: opts.client } : {}),
  });
  try {
    const keys: string[] = [];
    for await (const page of bucket.list(base, opts.signal)) {
      for (const o of page) if (isConfigFileName(o.key.slice(base.length))) keys.push(o.key);
    }
    const files = keys.map((k) => k.slice(base.length)).sort();
    if (!files.includes("config.yaml"))
      throw new CloudError(`no config.yaml under ${uri}: deploy the SST app (it uploads the configuration) or check CHANTAL_CONFIG_S3_URI`);
    await mkdir(parentDir, { recursive: true });
    const dir = await mkdtemp(join(parentDir, "config-"));
    for (const file of files) {
      const data = await bucket.getBytes(base + file, opts.signal);
      if (data === undefined)
        throw new S3Error(`${bucket.url(base + file)} was listed but is gone: run the task again (a deploy may have replaced the configuration meanwhile)`);
      await mkdir(dirname(join(dir, file)), { recursive: true });
      await writeFile(join(dir, file), data.toString("utf8"), { mode: 0o600 });
    }
    return { dir, files };
  } catch (err) {
    if (err instanceof CloudError || opts.signal?.aborted) throw err;
    throw new S3Error(`reading the configuration from ${uri} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    bucket.close();
  }
}
