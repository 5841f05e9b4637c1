// A real S3 endpoint on 127.0.0.1 (s3rver) for tests, and the environment its clients (our CLI children too) need.
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
