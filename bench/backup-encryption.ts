// Benchmark: backup.encrypt's streams (core/backup/encryption.ts): N MiB encrypted to a file and decrypted back, with
// throughput and the peak RSS above the start; the point is that memory stays flat whatever N (no whole-archive buffer).
//
//   npx tsx bench/backup-encryption.ts [--mib 1024] [--json]
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import * as openpgp from "openpgp";
import { encryptStream, openPayload, type Identity } from "../core/backup/encryption.js";

export interface EncryptionBench {
  mib: number;
  encryptMs: number;
  decryptMs: number;
  ciphertextBytes: number;
  /** Peak RSS minus the RSS before the first byte, over encryption and decryption. */
  rssGrowthMib: number;
}

/** `mib` MiB of incompressible bytes, 1 MiB at a time (the same block repeated: generating is not what is measured). */
function source(mib: number): Readable {
  const block = randomBytes(1 << 20);
  let left = mib;
  return new Readable({
    read() {
      this.push(left-- > 0 ? Buffer.from(block) : null);
    },
  });
}

export async function benchEncryption(mib: number): Promise<EncryptionBench> {
  const dir = mkdtempSync(join(tmpdir(), "chantal-enc-bench-"));
  try {
    const { privateKey } = await openpgp.generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs: [{ name: "bench" }], format: "object" });
    const publicKey = privateKey.toPublic();
    const identity: Identity = {
      file: "bench",
      key: privateKey,
      fingerprint: privateKey.getFingerprint().toUpperCase(),
      keyIds: privateKey.getKeyIDs().map((k) => k.toHex()),
    };
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const file = join(dir, "payload.pgp");
    const hash = createHash("sha256");
    let size = 0;
    let t = performance.now();
    await pipeline(
      await encryptStream(source(mib), { keys: [publicKey], fingerprints: [identity.fingerprint] }),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) {
          hash.update(c);
          size += c.length;
          yield c;
        }
      },
      createWriteStream(file),
    );
    const encryptMs = performance.now() - t;
    t = performance.now();
    const enc = {
      method: "openpgp" as const,
      recipients: [identity.fingerprint],
      payload: "payload.tar.pgp" as const,
      payload_sha256: hash.digest("hex"),
      payload_size: size,
    };
    const opened = openPayload(createReadStream(file, { highWaterMark: 1 << 20 }), enc, identity);
    let plainBytes = 0;
    await pipeline(
      opened.plain,
      new Writable({
        write(c: Buffer, _e, cb) {
          plainBytes += c.length;
          cb();
        },
      }),
    );
    const got = await opened.finished;
    const decryptMs = performance.now() - t;
    clearInterval(sampler);
    if (!got.matches || got.decryptError !== undefined || plainBytes !== mib << 20)
      throw new Error(`round trip failed: ${plainBytes} bytes, ${String(got.decryptError)}`);
    return { mib, encryptMs, decryptMs, ciphertextBytes: size, rssGrowthMib: (peak - base) / (1 << 20) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { mib: { type: "string", default: "1024" }, json: { type: "boolean", default: false } } });
  const r = await benchEncryption(Number(values.mib));
  if (values.json) process.stdout.write(JSON.stringify(r) + "\n");
  else
    process.stdout.write(
      `encrypt ${r.mib} MiB: ${(r.encryptMs / 1000).toFixed(1)} s (${(r.mib / (r.encryptMs / 1000)).toFixed(0)} MiB/s), ` +
        `decrypt: ${(r.decryptMs / 1000).toFixed(1)} s (${(r.mib / (r.decryptMs / 1000)).toFixed(0)} MiB/s), peak RSS growth ${r.rssGrowthMib.toFixed(0)} MiB\n`,
    );
}
