// ThreadedSha256: a volume's sha256 computed in a worker thread over shared buffers equals node:crypto's over the same bytes.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sharedBuffer, ThreadedSha256 } from "../../../core/transfer/volume-hash.js";

describe("ThreadedSha256", () => {
  it("hashes views of reused shared buffers in the order given, and starts a new hash after each digest", async () => {
    const hasher = new ThreadedSha256();
    try {
      const buffers = [sharedBuffer(64 * 1024), sharedBuffer(64 * 1024)];
      for (const pieces of [[1, 65536, 0, 4097, 12], [3], []]) {
        const expected = createHash("sha256");
        let inFlight: Promise<void> = Promise.resolve();
        for (const [i, n] of pieces.entries()) {
          // Two buffers, one in flight while the other is filled: what the volume writer does.
          const b = buffers[i % 2]!;
          const data = randomBytes(n);
          await inFlight;
          data.copy(b);
          expected.update(data);
          inFlight = hasher.update(b.subarray(0, n));
        }
        await inFlight;
        expect(await hasher.digest()).toBe(expected.digest("hex"));
      }
      // A view that does not start at the buffer's beginning.
      const b = buffers[0]!;
      b.fill(7);
      await hasher.update(b.subarray(100, 300));
      expect(await hasher.digest()).toBe(createHash("sha256").update(Buffer.alloc(200, 7)).digest("hex"));
    } finally {
      await hasher.close();
    }
  });

  it("refuses a buffer the thread cannot share, and fails calls once closed", async () => {
    const hasher = new ThreadedSha256();
    await expect(hasher.update(Buffer.alloc(10))).rejects.toThrow(/shared buffer/);
    await hasher.close();
    await expect(hasher.update(sharedBuffer(8))).rejects.toThrow(/closed/);
    await expect(hasher.digest()).rejects.toThrow(/closed/);
  });
});
