// A volume's sha256 computed in a worker thread over shared buffers: hashing 1 GB runs on a second core beside the
// reads, the blobs' own hashes and the writes, instead of after them on the one the export runs on.
import { Worker } from "node:worker_threads";

/** The thread: plain JavaScript (no module of ours, so no TypeScript loader), one hash, updates applied in order. */
const THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
let hash = createHash("sha256");
parentPort.on("message", (m) => {
  if (m.type === "update") {
    hash.update(new Uint8Array(m.shared, m.offset, m.length));
    parentPort.postMessage({ type: "hashed" });
  } else {
    parentPort.postMessage({ type: "digest", hex: hash.digest("hex") });
    hash = createHash("sha256");
  }
});
`;

/** A buffer the thread can read without a copy (Buffer.from over a SharedArrayBuffer). */
export function sharedBuffer(bytes: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(bytes));
}

/**
 * sha256 in a worker thread. `update` takes a view of a shared buffer and resolves once the thread has hashed it, so
 * the caller may then reuse those bytes; updates are hashed in the order they were made. `digest` ends the hash (a
 * new one starts), `close` ends the thread; a crashed thread fails every pending call.
 */
export class ThreadedSha256 {
  private readonly worker = new Worker(THREAD_SOURCE, { eval: true });
  private readonly pending: { resolve: (v: string | undefined) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor() {
    this.worker.on("message", (m: { type: "hashed" } | { type: "digest"; hex: string }) =>
      this.pending.shift()?.resolve(m.type === "digest" ? m.hex : undefined),
    );
    this.worker.on("error", (err: Error) => this.fail(err));
    this.worker.on("exit", (code) => this.fail(new Error(`the volume's hashing thread exited (code ${code})`)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }

  private call(message: object): Promise<string | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker.postMessage(message);
    });
  }

  async update(view: Buffer): Promise<void> {
    if (!(view.buffer instanceof SharedArrayBuffer)) throw new TypeError("ThreadedSha256.update takes a view of a shared buffer (sharedBuffer)");
    await this.call({ type: "update", shared: view.buffer, offset: view.byteOffset, length: view.length });
  }

  async digest(): Promise<string> {
    return (await this.call({ type: "digest" }))!;
  }

  async close(): Promise<void> {
    this.failure ??= new Error("the volume's hashing thread was closed");
    await this.worker.terminate();
  }
}
