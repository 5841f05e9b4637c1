// backup.encrypt streams: through encryptStream and openPayload (core/backup/encryption.ts) and back, the peak RSS does
// not grow with the data (no whole-archive buffer on either side). Each size runs in its own process, so a busy test
// worker's heap is not what is measured; not timed, the bench times it.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import type { EncryptionBench } from "../../bench/backup-encryption.js";

const run = promisify(execFile);

async function bench(mib: number): Promise<EncryptionBench> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "bench/backup-encryption.ts", "--mib", String(mib), "--json"], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as EncryptionBench;
}

it("encrypting and decrypting 512 MiB takes no more memory than 32 MiB does (growth difference under 160 MiB)", async () => {
  const small = await bench(32);
  const large = await bench(512);
  expect(large.ciphertextBytes).toBeGreaterThan(512 << 20);
  // A buffered archive would add ~480 MiB here; the streams' own buffers are the same at both sizes, and the margin is
  // for a loaded machine's lazier garbage collection (idle: ~30 MiB).
  expect(large.rssGrowthMib - small.rssGrowthMib).toBeLessThan(160);
}, 300_000);
