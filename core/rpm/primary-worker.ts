// The worker thread side of parsePrimaryInWorker (primary-thread.ts): decompress, parse, resolve locations,
// and send the packages back in batches. Everything the parser allocates stays in this thread's heap.
import { once } from "node:events";
import { parentPort, workerData } from "node:worker_threads";
import { decompressIterable } from "../compress/decompress.js";
import { DEFAULT_PRIMARY_LIMITS, parsePrimary } from "./primary.js";
import { memoFingerprint, PackageMemo, readMemo, writeMemo } from "./primary-memo.js";
import { dependenciesOf } from "./dependencies.js";
import { safeLocation } from "../mirror/location.js";
import { serializeError, type ParsedPackage, type PrimaryWorkerInput, type ToMain, type ToWorker } from "./primary-protocol.js";

const BATCH_PACKAGES = 1_000;
const port = parentPort!;

/** Its input: workerData, or for a spare worker started ahead, the first message. */
async function inputOf(): Promise<PrimaryWorkerInput> {
  if (workerData) return workerData as PrimaryWorkerInput;
  const [msg] = (await once(port, "message")) as [ToWorker];
  if (msg.type !== "start") throw new Error(`the parser thread expected its input first, got ${msg.type}`);
  return msg.input;
}

/** The compressed file, one chunk per request: the main thread reads it only as fast as we parse. */
async function* chunks(): AsyncGenerator<Uint8Array> {
  for (;;) {
    port.postMessage({ type: "more" } satisfies ToMain);
    const [msg] = (await once(port, "message")) as [ToWorker];
    if (msg.type === "end") return;
    if (msg.type !== "chunk") throw new Error(`the parser thread expected a chunk, got ${msg.type}`);
    yield msg.data;
  }
}

async function run(): Promise<void> {
  const input = await inputOf();
  const declared = input.openSize !== undefined ? { declared: { bytes: input.openSize, by: "its <open-size> in repomd.xml" } } : {};
  const text = decompressIterable(chunks(), input.compression, { maxOutputBytes: input.maxOutputBytes, label: input.label, ...declared });
  const withDependencies = input.withDependencies === true;
  // The memo holds no dependency data: a parse with them reads every element.
  const memoFile = withDependencies ? undefined : input.memoFile;
  const fingerprint = memoFingerprint(DEFAULT_PRIMARY_LIMITS);
  const memo = memoFile ? new PackageMemo(input.ignoreMemo ? undefined : await readMemo(memoFile, fingerprint)) : undefined;
  let batch: ParsedPackage[] = [];
  for await (const p of parsePrimary(text, { maxPackages: input.maxPackages, label: input.label, withDependencies, ...(memo ? { memo } : {}) })) {
    const location = safeLocation(p.location, p.locationBase, { repoUrl: input.repoUrl });
    batch.push({
      location,
      name: p.name,
      epoch: p.epoch,
      version: p.version,
      release: p.release,
      arch: p.arch,
      size: p.size ?? null,
      checksumAlgo: p.checksum.algo,
      checksumValue: p.checksum.value,
      ...(p.deps ? { deps: dependenciesOf(p.deps) } : {}),
    });
    if (batch.length >= BATCH_PACKAGES) {
      port.postMessage({ type: "packages", packages: batch } satisfies ToMain);
      batch = [];
    }
  }
  port.postMessage({ type: "packages", packages: batch } satisfies ToMain);
  port.postMessage({ type: "done", ...(memo ? { reused: memo.hits } : {}) } satisfies ToMain);
  // After "done": the sync goes on while this thread writes the memo, and lets it end by itself (primary-thread.ts).
  // A failure only costs the next parse its speed.
  if (memoFile && memo) await writeMemo(memoFile, fingerprint, memo).catch(() => undefined);
}

run().catch((err: unknown) => {
  port.postMessage({ type: "failed", error: serializeError(err) } satisfies ToMain);
});
