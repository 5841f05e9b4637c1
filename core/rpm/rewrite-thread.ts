// The streaming rewrites of primary, filelists, other and updateinfo run in a worker thread, as the primary parse
// does (primary-thread.ts): the tokenizer's and saxes' garbage stays in a small heap that is gone at the end.
import { Worker } from "node:worker_threads";
import type { CompressionKind } from "../compress/decompress.js";
import { LimitExceededError } from "../compress/decompress.js";
import { AbortedError } from "../errors.js";
import { deserializeError, type SerializedError } from "./primary-protocol.js";
import type { PackageListType } from "./rewrite-packages.js";
import { XmlRewriteError } from "./xml-tokens.js";

const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 512 };

export interface RewriteWorkerInput {
  kind: PackageListType | "updateinfo";
  compression: CompressionKind;
  label: string;
  maxOutputBytes: number;
  openSize?: number;
  /** Package lists: the kept pkgids; updateinfo: the kept NEVRAs. */
  kept: string[];
  /** updateinfo: the kept file names. */
  filenames?: string[];
}

export type RewriteFromMain = { type: "chunk"; data: Uint8Array } | { type: "end" } | { type: "ack" };
export type RewriteToMain = { type: "more" } | { type: "out"; text: string } | { type: "done" } | { type: "failed"; error: SerializedError };

function startWorker(input: RewriteWorkerInput): Worker {
  const options = { workerData: input, resourceLimits: WORKER_LIMITS };
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./rewrite-worker.js", import.meta.url), options);
  const entry = new URL("./rewrite-worker.ts", import.meta.url).href;
  return new Worker(`import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, { ...options, eval: true });
}

function rewriteError(e: SerializedError): Error {
  return e.kind === "XmlRewriteError" ? new XmlRewriteError(e.message) : deserializeError(e);
}

/** The rewritten, decompressed document in pieces; the compressed input is read only as fast as the output is taken. */
export async function* rewriteInWorker(
  compressed: AsyncIterable<Uint8Array | string>,
  input: RewriteWorkerInput,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  signal?.throwIfAborted();
  const worker = startWorker(input);
  const queue: RewriteToMain[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  worker.on("message", (m: RewriteToMain) => {
    queue.push(m);
    wake?.();
  });
  worker.on("error", (err: Error & { code?: string }) => {
    failure ??=
      err.code === "ERR_WORKER_OUT_OF_MEMORY"
        ? new LimitExceededError(`${input.label}: rewriting needs more than ${WORKER_LIMITS.maxOldGenerationSizeMb} MB of memory; refusing the document`, {
            limit: "memory",
            max: WORKER_LIMITS.maxOldGenerationSizeMb,
          })
        : err;
    wake?.();
  });
  worker.on("exit", (code) => {
    failure ??= new Error(`${input.label}: the rewrite thread exited with code ${code} before it finished`);
    wake?.();
  });
  const nextMessage = async (): Promise<RewriteToMain> => {
    for (;;) {
      const m = queue.shift();
      if (m) return m;
      if (failure) throw failure;
      if (signal?.aborted) throw new AbortedError("rewriting interrupted");
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal?.addEventListener("abort", onAbort, { once: true });
        wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
      });
      wake = undefined;
    }
  };
  const source = compressed[Symbol.asyncIterator]();
  try {
    for (;;) {
      const m = await nextMessage();
      if (m.type === "more") {
        const next = await source.next();
        const data = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
        worker.postMessage((next.done ? { type: "end" } : { type: "chunk", data }) satisfies RewriteFromMain);
      } else if (m.type === "out") {
        yield m.text;
        worker.postMessage({ type: "ack" } satisfies RewriteFromMain);
      } else if (m.type === "failed") {
        throw rewriteError(m.error);
      } else {
        return;
      }
    }
  } finally {
    await worker.terminate();
    await source.return?.();
  }
}
