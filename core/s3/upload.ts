// One streaming S3 upload: a single PUT up to 8 MiB, multipart above (two parts in flight), aborted with the signal.
import type { Readable } from "node:stream";
import type { PutObjectCommandInput, S3Client } from "@aws-sdk/client-s3";

const PART_BYTES = 8 * 1024 * 1024;

export async function uploadStream(client: S3Client, params: PutObjectCommandInput & { Body: Readable }, signal?: AbortSignal): Promise<void> {
  const { Upload } = await import("@aws-sdk/lib-storage");
  const upload = new Upload({ client, params, partSize: PART_BYTES, queueSize: 2, leavePartsOnError: false });
  const onAbort = () => void upload.abort().catch(() => undefined);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await upload.done();
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
