// The worker thread side of parsePrimaryInWorker (primary-thread.ts): decompress, parse, resolve locations,
// and send the packages back in batches. Everything the parser allocates stays in this thread's heap.
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { decompressIterable } from "../compress/decompress.js";
import { DEFAULT_PRIMARY_LIMITS, parsePrimary } from "./primary.js";
import { memoFingerprint, PackageMemo, readMemo, writeMemo } from "./primary-memo.js";
import { dependenciesOf } from "./dependencies.js";
import { safeLocation } from "../mirror/location.js";
import { serializeError, type ParsedPackage, type PrimaryWorkerInput, type SpareWorkerData, type ToMain, type ToWorker } from "./primary-protocol.js";

const BATCH_PACKAGES = 1_000;
const port = parentPort!;

const fingerprint = memoFingerprint(DEFAULT_PRIMARY_LIMITS);
const spare = (workerData as { spare?: boolean } | undefined)?.spare === true ? (workerData as SpareWorkerData) : undefined;
// Read now, while the main thread starts the database: the parse then starts as soon as its input comes.
let preloaded = spare?.memoFile ? { file: spare.memoFile, records: readMemo(spare.memoFile, fingerprint) } : undefined;
void preloaded?.records.then(() => port.postMessage({ type: "preloaded" } satisfies ToMain));

/** Its input: workerData, or for a spare worker started ahead, the first message. */
async function inputOf(): Promise<PrimaryWorkerInput> {
  if (workerData && !spare) return workerData as PrimaryWorkerInput;
  const [msg] = (await once(port, "message")) as [ToWorker];
  if (msg.type !== "start") throw new Error(`the parser thread expected its input first, got ${msg.type}`);
  return msg.input;
}

/**
 * The compressed file from the main thread, one chunk asked for ahead of the one being parsed (the first as soon as
 * the input is known), so a main thread busy elsewhere does not leave us waiting; at most one request is open.
 */
class ChunkFeed {
  private readonly arrived: ToWorker[] = [];
  private wake: (() => void) | undefined;
  private readonly onMessage = (m: ToWorker) => {
    this.arrived.push(m);
    this.wake?.();
  };

  constructor() {
    port.on("message", this.onMessage);
    port.postMessage({ type: "more" } satisfies ToMain);
  }

  /** Listening no longer: nothing keeps the thread alive once its work is done. */
  close(): void {
    port.off("message", this.onMessage);
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        while (this.arrived.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        const msg = this.arrived.shift()!;
        if (msg.type === "end") return;
        if (msg.type !== "chunk") throw new Error(`the parser thread expected a chunk, got ${msg.type}`);
        port.postMessage({ type: "more" } satisfies ToMain);
        yield msg.data;
      }
    } finally {
      this.close();
    }
  }
}

/** The memo's records for `file`: those read ahead when they are of the same file, else read now. */
function recordsOf(file: string): ReturnType<typeof readMemo> {
  const ahead = preloaded;
  preloaded = undefined; // held here no longer: forgetPrevious() can free it
  return ahead?.file === file ? ahead.records : readMemo(file, fingerprint);
}

/** A file this thread reads itself is read a MiB at a time, as the pool's own reads are. */
const FILE_CHUNK_BYTES = 1 << 20;

async function run(): Promise<void> {
  const input = await inputOf();
  const feed = input.file === undefined ? new ChunkFeed() : undefined;
  const declared = input.openSize !== undefined ? { declared: { bytes: input.openSize, by: "its <open-size> in repomd.xml" } } : {};
  const text = decompressIterable(feed ? feed.chunks() : createReadStream(input.file!, { highWaterMark: FILE_CHUNK_BYTES }), input.compression, {
    maxOutputBytes: input.maxOutputBytes,
    label: input.label,
    ...declared,
  });
  const withDependencies = input.withDependencies === true;
  // The memo holds no dependency data: a parse with them reads every element, and must not replace the memo with none.
  const memoFile = withDependencies ? undefined : input.memoFile;
  const memo = memoFile ? new PackageMemo(input.ignoreMemo ? undefined : await recordsOf(memoFile)) : undefined;
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
  memo?.forgetPrevious();
  if (memo && !memo.overflow) await writeMemo(memoFile!, fingerprint, memo).catch(() => undefined);
  feed?.close();
}

run().catch((err: unknown) => {
  port.postMessage({ type: "failed", error: serializeError(err) } satisfies ToMain);
});
