// primary.xml is parsed in a worker thread. The parser allocates about 15 bytes of short-lived objects per
// byte of XML (1.3 GB for 100,000 packages); in the sync's own heap part of that is promoted and swells
// the process by 100+ MB. In a worker with a small heap it dies young, and the heap is gone once the worker
// exits. The heap limit also stops a document built to exhaust memory.
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { CompressionKind } from "../compress/decompress.js";
import { LimitExceededError } from "../compress/decompress.js";
import { AbortedError } from "../errors.js";
import { deserializeError, type ParsedPackage, type PrimaryWorkerInput, type SpareWorkerData, type ToMain, type ToWorker } from "./primary-protocol.js";

/**
 * The worker's heap: a small young generation keeps the garbage cheap; old space holds little but the parser. 8 MB, not
 * 4: a full parse of 20,000 packages took 0.72-0.92 s with 4 and 0.43-0.49 s with 8, at the same peak RSS (~115 MB).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 };

export interface PrimaryInWorkerOptions {
  compression: CompressionKind;
  label: string;
  maxOutputBytes: number;
  maxPackages: number;
  /** repomd.xml's <open-size> of the primary, when it declares one. */
  openSize?: number;
  repoUrl: string;
  withDependencies?: boolean;
  /** The repository's parse memo (primary-memo.ts), and whether to parse every element anyway (--full). */
  memoFile?: string;
  ignoreMemo?: boolean;
  /** Told how many packages came from the memo, once the parse is complete. */
  onReused?: (packages: number) => void;
  /** Told when the parse is one started ahead (startParseAhead), taken over. */
  onTakenAhead?: () => void;
  signal?: AbortSignal;
}

/** What a parse is, without what the caller listens with: equal inputs parse the same file the same way. */
export type ParseInput = Omit<PrimaryInWorkerOptions, "signal" | "onReused" | "onTakenAhead">;

function startWorker(data: PrimaryWorkerInput | SpareWorkerData): Worker {
  const options = { workerData: data, resourceLimits: WORKER_LIMITS };
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./primary-worker.js", import.meta.url), options);
  // From source (tests, CHANTAL_FROM_SOURCE) the worker is TypeScript too: register tsx in the thread first.
  const entry = new URL("./primary-worker.ts", import.meta.url).href;
  return new Worker(`import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, { ...options, eval: true });
}

/** A worker started ahead by prewarmPrimaryParser, waiting for its input; `failed` once it died waiting. */
let spare: { worker: Worker; failed: boolean; preloaded: boolean } | undefined;

/**
 * Start the next parse's worker now (a sync command calls it before the database starts): its ~0.1 s of start-up
 * (loading the decompressor and the parser) then overlaps the database's instead of preceding the parse. It does not
 * keep the process alive; unused, it goes with the process.
 */
export function prewarmPrimaryParser(opts: { memoFile?: string } = {}): void {
  if (spare) return;
  // The memo the parse will likely read is read while the worker waits (primary-worker.ts).
  const worker = startWorker({ spare: true, ...(opts.memoFile ? { memoFile: opts.memoFile } : {}) });
  const entry = { worker, failed: false, preloaded: false };
  worker.once("message", (m: ToMain) => {
    if (m.type === "preloaded") entry.preloaded = true;
  });
  const gone = () => {
    entry.failed = true;
    if (spare === entry) spare = undefined;
  };
  worker.on("error", gone);
  worker.on("exit", gone);
  worker.unref();
  spare = entry;
}

/** Spare workers waiting (0 or 1): tests. */
export function spareWorkers(): number {
  return spare && !spare.failed ? 1 : 0;
}

/** Whether the waiting spare has read the memo it was given: tests. */
export function sparePreloaded(): boolean {
  return spare?.preloaded === true;
}

/** Threads of parses that have started and not ended yet (a complete one may still be writing its memo). */
const parsing = new Set<Promise<unknown>>();

/** Once every parse's thread has ended: its memo written (tests remove the directory afterwards). */
export async function parserThreadsEnded(): Promise<void> {
  await Promise.all([...parsing]);
}

/** Parses asked for so far (parsePrimaryInWorker): a head start begun before the last of them comes too late. */
let parsesAsked = 0;

/** The count to give startParseAhead: read it when the head start begins. */
export function parsesAskedSoFar(): number {
  return parsesAsked;
}

/** A parse of a pool file started before the sync asked for it (primary-ahead.ts), with the input it was started with. */
let ahead: { key: string; worker: Worker; inbox: Inbox } | undefined;

function inputKey(input: PrimaryWorkerInput): string {
  return JSON.stringify(input);
}

/**
 * Start parsing `file` now, in the spare worker when there is one; the next parsePrimaryInWorker of the same file with
 * the same options takes it over, with what it has parsed so far. Until then it does not keep the process alive.
 * `askedBefore` (parsesAskedSoFar() when the head start began): if a parse was asked for since, the sync got there
 * first and parses the file itself, and nothing is started (false).
 */
export function startParseAhead(file: string, opts: ParseInput, askedBefore: number): boolean {
  if (parsesAsked !== askedBefore) return false;
  dropParseAhead();
  const input: PrimaryWorkerInput = { ...opts, file };
  const worker = workerFor(input);
  ahead = { key: inputKey(input), worker, inbox: new Inbox(worker, opts.label) };
  // After the inbox's listeners: a "message" listener added later would hold the process again.
  worker.unref();
  return true;
}

/** The parse started ahead if it is this one; one started for another input is stopped (nobody will take it). */
function takeParseAhead(input: PrimaryWorkerInput): { worker: Worker; inbox: Inbox } | undefined {
  const started = ahead;
  if (started?.key !== inputKey(input)) {
    dropParseAhead();
    return undefined;
  }
  ahead = undefined;
  started.worker.ref();
  return started;
}

function dropParseAhead(): void {
  const started = ahead;
  ahead = undefined;
  if (started) void started.worker.terminate().catch(() => undefined);
}

/** Whether a parse started ahead waits to be taken over: tests. */
export function parseAheadWaiting(): boolean {
  return ahead !== undefined;
}

/** The spare worker with its input sent, or a new one. */
function workerFor(input: PrimaryWorkerInput): Worker {
  const taken = spare;
  spare = undefined;
  const worker = !taken || taken.failed ? startWorker(input) : taken.worker;
  if (worker === taken?.worker) {
    worker.ref();
    worker.postMessage({ type: "start", input } satisfies ToWorker);
  }
  const ended = once(worker, "exit").catch(() => undefined);
  parsing.add(ended);
  void ended.then(() => parsing.delete(ended));
  return worker;
}

/** The worker's messages in order; its crash or early exit as an error. */
class Inbox {
  private readonly queue: ToMain[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(worker: Worker, label: string) {
    worker.on("message", (m: ToMain) => this.push(m));
    worker.on("error", (err: Error & { code?: string }) => {
      this.fail(
        err.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? new LimitExceededError(`${label}: parsing needs more than ${WORKER_LIMITS.maxOldGenerationSizeMb} MB of memory; refusing the document`, {
              limit: "memory",
              max: WORKER_LIMITS.maxOldGenerationSizeMb,
            })
          : err,
      );
    });
    worker.on("exit", (code) => this.fail(new Error(`${label}: the parser thread exited with code ${code} before it finished`)));
  }

  private push(m: ToMain): void {
    this.queue.push(m);
    this.wake?.();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  async next(signal: AbortSignal | undefined): Promise<ToMain> {
    for (;;) {
      const m = this.queue.shift();
      if (m) return m;
      if (this.failure) throw this.failure;
      if (signal?.aborted) throw new AbortedError("parsing interrupted");
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal?.addEventListener("abort", onAbort, { once: true });
        this.wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

/**
 * The packages of a compressed primary.xml, parsed in a worker thread, with their locations checked
 * (safeLocation). Errors are those of parsePrimary, decompressIterable and safeLocation. The input is the file's
 * bytes, sent chunk by chunk as the thread asks, or the file's path on this host (`{ file }`), which the thread reads
 * itself: then its parse does not wait for a main thread busy elsewhere (reading the previous set).
 */
export async function* parsePrimaryInWorker(
  compressed: AsyncIterable<Uint8Array | string> | { file: string },
  opts: PrimaryInWorkerOptions,
): AsyncGenerator<ParsedPackage> {
  const { signal, onReused, onTakenAhead, ...options } = opts;
  signal?.throwIfAborted();
  const input = "file" in compressed ? { ...options, file: compressed.file } : options;
  parsesAsked++;
  const taken = "file" in compressed ? takeParseAhead(input) : undefined;
  if (taken) onTakenAhead?.();
  const worker = taken?.worker ?? workerFor(input);
  const inbox = taken?.inbox ?? new Inbox(worker, opts.label);
  const source = "file" in compressed ? undefined : compressed[Symbol.asyncIterator]();
  let complete = false;
  try {
    for (;;) {
      const m = await inbox.next(signal);
      if (m.type === "more") {
        if (!source) throw new Error(`${opts.label}: the parser thread asked for a chunk of a file it reads itself`);
        const next = await source.next();
        const data = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
        worker.postMessage((next.done ? { type: "end" } : { type: "chunk", data }) satisfies ToWorker);
      } else if (m.type === "packages") {
        yield* m.packages;
      } else if (m.type === "failed") {
        throw deserializeError(m.error);
      } else if (m.type === "done") {
        complete = true;
        if (m.reused !== undefined) onReused?.(m.reused);
        return;
      }
    }
  } finally {
    // A complete parse's thread still writes the memo and then ends by itself; any other is stopped now.
    if (!complete) await worker.terminate();
    await source?.return?.();
  }
}
