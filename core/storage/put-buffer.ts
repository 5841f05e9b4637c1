// Small in-memory files (an index we already fetched) go into the pool like downloads: temp file, then atomic adopt.
import { createHash } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import type { BlobStore } from "./blob-store.js";

export async function putBuffer(pool: BlobStore, data: Buffer): Promise<{ sha256: string; size: number }> {
  const sha256 = createHash("sha256").update(data).digest("hex");
  if (!(await pool.has(sha256))) {
    await pool.ensureTempDir();
    const tmp = pool.tempPath(sha256);
    try {
      await writeFile(tmp, data);
      await pool.adopt(tmp, sha256);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
  return { sha256, size: data.length };
}
