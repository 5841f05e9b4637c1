// Small in-memory files (an index we already fetched) go into the pool like downloads: temp file, then atomic adopt.
import { rm, writeFile } from "node:fs/promises";
import { sha256Hex } from "../checksum.js";
import type { BlobStore } from "./blob-store.js";

export async function putBuffer(blobs: BlobStore, data: Buffer): Promise<{ sha256: string; size: number }> {
  const sha256 = sha256Hex(data);
  if (!(await blobs.has(sha256))) {
    await blobs.ensureTempDir();
    const tmp = blobs.tempPath(sha256);
    try {
      await writeFile(tmp, data);
      await blobs.adopt(tmp, sha256);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
  return { sha256, size: data.length };
}
