// A real S3 endpoint on 127.0.0.1 (s3rver) for tests, and the environment its clients (our CLI children too) need.
import { readFileSync, writeFileSync } from "node:fs";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";

/** The CLI child processes inherit these: S3rver's fixed credentials, and never the instance metadata service. */
export function useS3rverCredentials(): void {
  process.env.AWS_EC2_METADATA_DISABLED = "true";
  process.env.AWS_ACCESS_KEY_ID = "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
  process.env.AWS_REGION = "us-east-1";
  delete process.env.AWS_PROFILE;
}

/** s3rver on a free port, storing under `directory`, with these buckets made. */
export async function startS3rver(directory: string, buckets: readonly string[]): Promise<{ server: S3rver; endpoint: string }> {
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  return { server, endpoint: `http://127.0.0.1:${(await server.run()).port}` };
}

/** Every key under `prefix` in the bucket, sorted, whole (callers cut what they compare). */
export async function listS3Keys(endpoint: string, bucket: string, prefix: string): Promise<string[]> {
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
  try {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      out.push(...(r.Contents ?? []).map((o) => o.Key!));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  } finally {
    client.destroy();
  }
}

/** Point a test installation's storage at `s3://bucket/prefix/` of s3rver (its config.yaml's storage block). */
export function useS3Storage(configFile: string, s3: { endpoint: string; bucket: string; prefix: string }): void {
  const storage = `storage:\n  backend: s3\n  s3:\n    bucket: ${s3.bucket}\n    prefix: ${s3.prefix}\n    region: us-east-1\n    endpoint: ${s3.endpoint}\n    force_path_style: true\n`;
  writeFileSync(configFile, readFileSync(configFile, "utf8").replace("storage:\n", storage));
}
