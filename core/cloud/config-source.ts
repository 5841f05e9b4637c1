// The Fargate task's configuration: `sst deploy` uploads config.yaml and conf.d/*.yaml to the config
// bucket; the container entry downloads them into a fresh local directory and loads that as usual.
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseS3Url } from "../backup/s3.js";
import { isConfigFilePath } from "../config/files.js";
import { errorMessage } from "../errors.js";
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
 * Throws a CloudError naming the URI when it cannot be read or holds no config.yaml.
 */
export async function downloadConfigDir(uri: string, parentDir: string, opts: { client?: S3Client; clientConfig?: S3ClientConfig; signal?: AbortSignal } = {}): Promise<DownloadedConfig> {
  const { bucket, prefix } = parseS3Url(uri);
  const base = prefix ? `${prefix}/` : "";
  const { S3Client: Client, GetObjectCommand, paginateListObjectsV2 } = await import("@aws-sdk/client-s3");
  const client = opts.client ?? new Client({ maxAttempts: 4, ...opts.clientConfig });
  try {
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: base })) {
      for (const o of page.Contents ?? []) if (o.Key && isConfigFileName(o.Key.slice(base.length))) keys.push(o.Key);
    }
    const files = keys.map((k) => k.slice(base.length)).sort();
    if (!files.includes("config.yaml")) throw new CloudError(`no config.yaml under ${uri}: deploy the SST app (it uploads the configuration) or check CHANTAL_CONFIG_S3_URI`);
    await mkdir(parentDir, { recursive: true });
    const dir = await mkdtemp(join(parentDir, "config-"));
    for (const file of files) {
      const obj = await client.send(new GetObjectCommand({ Bucket: bucket, Key: base + file }), { abortSignal: opts.signal });
      const text = await obj.Body!.transformToString("utf8");
      await mkdir(dirname(join(dir, file)), { recursive: true });
      await writeFile(join(dir, file), text, { mode: 0o600 });
    }
    return { dir, files };
  } catch (err) {
    if (err instanceof CloudError) throw err;
    throw new CloudError(`reading the configuration from ${uri} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    if (!opts.client) client.destroy();
  }
}
