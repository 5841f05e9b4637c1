// The worker thread side of rewriteInWorker (rewrite-thread.ts): decompress, rewrite, send the output back in
// pieces, each acknowledged before the next, so neither side buffers more than a piece.
import { parentPort, workerData } from "node:worker_threads";
import { decompressIterable } from "../compress/decompress.js";
import { serializeError } from "./primary-protocol.js";
import { rewritePackageList } from "./rewrite-packages.js";
import type { RewriteFromMain, RewriteToMain, RewriteWorkerInput } from "./rewrite-thread.js";
import { rewriteUpdateinfo } from "./rewrite-updateinfo.js";

const port = parentPort!;
const input = workerData as RewriteWorkerInput;
/** Output is sent in pieces of about this many characters. */
const PIECE = 256 * 1024;

/**
 * One listener routes each message to its waiter: input (chunk, end) and acks are awaited at the same time (zlib's
 * Readable.from reads ahead while a piece waits for its ack), and two `once` listeners would both get every message.
 */
const waiting: Record<"input" | "ack", ((m: RewriteFromMain) => void)[]> = { input: [], ack: [] };
const early: Record<"input" | "ack", RewriteFromMain[]> = { input: [], ack: [] };
port.on("message", (m: RewriteFromMain) => {
  const lane = m.type === "ack" ? "ack" : "input";
  const waiter = waiting[lane].shift();
  if (waiter) waiter(m);
  else early[lane].push(m);
});

function next(lane: "input" | "ack"): Promise<RewriteFromMain> {
  const m = early[lane].shift();
  return m ? Promise.resolve(m) : new Promise((resolve) => waiting[lane].push(resolve));
}

async function* chunks(): AsyncGenerator<Uint8Array> {
  for (;;) {
    port.postMessage({ type: "more" } satisfies RewriteToMain);
    const msg = await next("input");
    if (msg.type === "end") return;
    if (msg.type === "chunk") yield msg.data;
  }
}

async function send(text: string): Promise<void> {
  port.postMessage({ type: "out", text } satisfies RewriteToMain);
  await next("ack");
}

async function run(): Promise<void> {
  const declared = input.openSize !== undefined ? { declared: { bytes: input.openSize, by: "its <open-size> in repomd.xml" } } : {};
  const text = decompressIterable(chunks(), input.compression, { maxOutputBytes: input.maxOutputBytes, label: input.label, ...declared });
  const kept = new Set(input.kept);
  const output =
    input.kind === "updateinfo"
      ? rewriteUpdateinfo(text, { nevras: kept, filenames: new Set(input.filenames ?? []) }, input.label)
      : rewritePackageList(text, { type: input.kind, label: input.label, kept });
  let pending = "";
  for await (const piece of output) {
    pending += piece;
    if (pending.length >= PIECE) {
      await send(pending);
      pending = "";
    }
  }
  if (pending) await send(pending);
  port.postMessage({ type: "done" } satisfies RewriteToMain);
}

run().catch((err: unknown) => {
  port.postMessage({ type: "failed", error: serializeError(err) } satisfies RewriteToMain);
});
