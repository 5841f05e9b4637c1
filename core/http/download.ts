// Downloads into the pool: stream to a temp file while hashing (one pass), verify size and
// checksum, resume a dropped body with Range, adopt by atomic rename (or stage it for the store's next batched
// flush). Nothing unverified ever enters the pool, and temp files never outlive a failed or aborted download.
import { createHash, type Hash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import { open, stat, unlink, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { AbortedError, ChantalError } from "../errors.js";
import { redactUrl } from "../redact.js";
import { abortedError, sleep, throwIfAborted } from "../runtime/sleep.js";
import type { BlobStore } from "../storage/blob-store.js";
import { isFsyncEnabled } from "../storage/durable.js";
import { SHARED_FILE_MODE, SharedFileMode } from "../fs-dirs.js";
import { CHECKSUM_HEX_LENGTH, type ChecksumAlgo } from "../checksum.js";
import type { RateWatch } from "./min-rate.js";
import { chainGates, semaphoreGate, Semaphore } from "./request-gate.js";
import {
  createHttpAgent,
  dropBody,
  httpDefaults,
  HttpStatusError,
  isRetryableError,
  openStream,
  ResponseTooLargeError,
  retryDelayMs,
  toHttpError,
  watchBodyRate,
  type HttpOptions,
  type HttpStream,
} from "./client.js";

export interface ExpectedChecksum {
  algo: ChecksumAlgo;
  value: string;
}

export interface DownloadJob {
  url: string;
  expected: ExpectedChecksum;
  /** Declared size; when known, a body longer than it fails at once (a mismatch); unknown, http.maxDownloadBytes caps it. */
  size?: number;
  /** What is downloaded (a package NEVRA), named in error messages. */
  label: string;
}

export interface DownloadContext {
  blobs: BlobStore;
  http: HttpOptions;
  /** Called with each chunk's length as it arrives (progress). */
  onBytes?: (n: number) => void;
  /**
   * Verified files are staged in the store (adoptStaged, where it has it) rather than each flushed and renamed in
   * alone: they are in the store, durable, after its next flushAdopted(), which the caller must await before it
   * reads or records them (a batch costs two syncfs instead of a fsync per file).
   */
  staged?: boolean;
  /** Temp files are created with SHARED_FILE_MODE exactly (checked once per context, not per file). */
  fileMode?: SharedFileMode;
}

export interface DownloadResult {
  sha256: string;
  size: number;
  /** Bytes received over the network, retries included. */
  bytesDownloaded: number;
  /** Whether a dropped body was continued with a Range request. */
  resumed: boolean;
}

export interface DownloadManyContext extends DownloadContext {
  concurrency: number;
  signal?: AbortSignal;
  /** Called as each job completes, for progress. */
  onFileDone?: (job: DownloadJob, result: DownloadResult, index: number) => void;
  /** The caller takes each result in onFileDone: `results` stays empty instead of holding one per job. */
  discardResults?: boolean;
}

export interface DownloadManyResult {
  files: number;
  /** Sum of the sizes of the downloaded files. */
  bytes: number;
  bytesDownloaded: number;
  resumedFiles: number;
  /** In job order; empty with `discardResults`. */
  results: DownloadResult[];
}

/** Workers per request slot: the second one finishes a received file (write, flush, rename) while the first's connection fetches the next. */
const WORKERS_PER_REQUEST_SLOT = 2;

/** A checksum mismatch is retried once: a corrupting proxy or a mid-update mirror gets one more chance. */
const CHECKSUM_ATTEMPTS = 2;

export class ChecksumMismatchError extends ChantalError {
  constructor(
    readonly label: string,
    readonly url: string,
    readonly expected: ExpectedChecksum & { size?: number },
    readonly actual: { value: string; size: number; oversize: boolean },
    attempts: number,
  ) {
    super(
      `checksum mismatch for ${label} from ${redactUrl(url)}: ${describeMismatch(expected, actual)} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`,
    );
  }
}

export class InvalidChecksumError extends ChantalError {}

function describeMismatch(expected: ExpectedChecksum & { size?: number }, actual: { value: string; size: number; oversize: boolean }): string {
  if (actual.oversize) return `expected ${expected.size} bytes, got more than that`;
  if (expected.size !== undefined && expected.size !== actual.size) return `expected ${expected.size} bytes, got ${actual.size}`;
  return `expected ${expected.algo} ${expected.value.toLowerCase()}, got ${actual.value}`;
}

// ---------------------------------------------------------------------------------------------
// One file

/** Download one file into the pool, verified; returns its sha256 (the pool key). */
export async function downloadToPool(input: DownloadJob, ctx: DownloadContext): Promise<DownloadResult> {
  // A job's fields may be getters that build them (100,000 URLs up front would cost tens of MB): read each once.
  const job: DownloadJob = {
    url: input.url,
    expected: input.expected,
    label: input.label,
    ...(input.size !== undefined ? { size: input.size } : {}),
  };
  validateExpected(job);
  await ctx.blobs.ensureTempDir();
  const staged = ctx.staged === true && ctx.blobs.adoptStaged !== undefined;
  const fileMode = ctx.fileMode ?? new SharedFileMode();
  let bytesDownloaded = 0;
  let lastFetch: FetchedTemp | undefined;
  let attempts = 0;
  for (let attempt = 1; attempt <= CHECKSUM_ATTEMPTS; attempt++) {
    attempts = attempt;
    throwIfAborted(ctx.http.signal);
    const temp = ctx.blobs.tempPath(job.expected.value.slice(0, 16));
    let adopted = false;
    try {
      const fetched = await fetchToTemp(job, ctx, temp, { sync: !staged, mode: fileMode }, (n) => (bytesDownloaded += n));
      lastFetch = fetched;
      if (matchesExpected(job, fetched)) {
        // Upstream's own checksum, when it is not sha256, is how the next plan finds the blob before the database does.
        const alias = job.expected.algo === "sha256" ? undefined : `${job.expected.algo}:${job.expected.value.toLowerCase()}`;
        // Staged: the store flushes it with its batch before the rename. Otherwise receiveToFile flushed the file
        // through its own handle (data before the rename into the pool).
        if (staged) await ctx.blobs.adoptStaged!(temp, fetched.sha256, alias);
        else await ctx.blobs.adopt(temp, fetched.sha256, ctx.http.signal, alias, { synced: true, sharedMode: true });
        adopted = true;
        return { sha256: fetched.sha256, size: fetched.size, bytesDownloaded, resumed: fetched.resumed };
      }
      // Longer than declared is what the server serves, not a corruption in transit: another attempt gains nothing.
      if (fetched.oversize) break;
      // Not silent: the caller logs the retry with the reason, like a retried 503.
      if (attempt < CHECKSUM_ATTEMPTS)
        ctx.http.onRetry?.({ url: redactUrl(job.url), subject: job.label, attempt, delayMs: 0, error: mismatchOf(job, fetched, attempt) });
    } finally {
      if (!adopted) await removeQuietly(temp);
    }
  }
  throw mismatchOf(job, lastFetch!, attempts);
}

function mismatchOf(job: DownloadJob, actual: FetchedTemp, attempts: number): ChecksumMismatchError {
  return new ChecksumMismatchError(
    job.label,
    job.url,
    { ...job.expected, ...(job.size !== undefined ? { size: job.size } : {}) },
    { value: actual.declaredDigest, size: actual.size, oversize: actual.oversize },
    attempts,
  );
}

function validateExpected(job: DownloadJob): void {
  const len = CHECKSUM_HEX_LENGTH[job.expected.algo];
  if (len === undefined)
    throw new InvalidChecksumError(`${job.label}: unsupported checksum type ${JSON.stringify(job.expected.algo)} for ${redactUrl(job.url)}`);
  if (job.expected.value.length !== len || !/^[0-9a-fA-F]+$/.test(job.expected.value)) {
    throw new InvalidChecksumError(`${job.label}: malformed ${job.expected.algo} checksum ${JSON.stringify(job.expected.value)} for ${redactUrl(job.url)}`);
  }
}

function matchesExpected(job: DownloadJob, fetched: FetchedTemp): boolean {
  if (fetched.oversize) return false;
  if (job.size !== undefined && fetched.size !== job.size) return false;
  return fetched.declaredDigest === job.expected.value.toLowerCase();
}

interface FetchedTemp {
  sha256: string;
  /** Digest in the job's declared algorithm. */
  declaredDigest: string;
  size: number;
  /** The body grew past the declared size and was cut off. */
  oversize: boolean;
  resumed: boolean;
}

/** Transfer state across connection drops within one checksum attempt. */
interface TransferState {
  /** Bytes of the body already in the temp file. */
  written: number;
  /** The server showed it honours Range (Accept-Ranges: bytes or a 206). */
  rangesSupported: boolean;
  resumed: boolean;
  failures: number;
}

/** Fetch the body into `temp`, resuming or restarting after transient failures; hashes in the same pass. */
async function fetchToTemp(
  job: DownloadJob,
  ctx: DownloadContext,
  temp: string,
  file: TempFileOptions,
  countDownloaded: (n: number) => void,
): Promise<FetchedTemp> {
  const signal = ctx.http.signal;
  const retries = ctx.http.retries ?? httpDefaults.retries;
  const state: TransferState = { written: 0, rangesSupported: false, resumed: false, failures: 0 };
  const maxDownloadBytes = ctx.http.maxDownloadBytes ?? httpDefaults.maxDownloadBytes;
  for (;;) {
    const res = await openAtOffset(job, ctx, state);
    const continuing = res.status === 206 && state.written > 0 && contentRangeStart(res.headers["content-range"]) === state.written;
    try {
      if (res.status === 206 && !continuing) throw new UnusablePartialResponse(res.headers["content-range"]);
      const hashes = continuing ? await hashFile(temp, job.expected.algo) : new MultiHash(job.expected.algo);
      if (!continuing) state.written = 0;
      state.resumed ||= continuing;
      state.rangesSupported = res.status === 206 || /\bbytes\b/i.test(res.headers["accept-ranges"] ?? "");
      const remaining = (job.size ?? maxDownloadBytes) - state.written;
      const outcome = bodyLongerThan(res, remaining)
        ? { bytes: 0, oversize: true }
        : await receiveToFile(res.body, temp, continuing, file, hashes, remaining, watchBodyRate(res.body, ctx.http, job.url, job.label), (n) => {
            countDownloaded(n);
            ctx.onBytes?.(n);
          });
      if (outcome.oversize) dropBody(res.body);
      state.written += outcome.bytes;
      // Without a declared size nothing says what the right length is: past the cap is a refusal, not a mismatch.
      if (outcome.oversize && job.size === undefined)
        throw new ResponseTooLargeError(
          maxDownloadBytes,
          job.url,
          job.label,
          "the upstream declares no size; raise http.max_download_bytes if the file is really this large",
        );
      return { sha256: hashes.sha256Hex(), declaredDigest: hashes.declaredHex(), size: state.written, oversize: outcome.oversize, resumed: state.resumed };
    } catch (raw) {
      dropBody(res.body);
      const err = toHttpError(raw, job.url, job.label, signal);
      const unusablePartial = raw instanceof UnusablePartialResponse;
      if (err instanceof AbortedError || !(unusablePartial || isRetryableError(err))) throw err;
      if (++state.failures > retries) throw err;
      // A server whose partial answers cannot be trusted gets a fresh start without Range.
      if (unusablePartial) state.rangesSupported = false;
      state.written = unusablePartial ? 0 : await fileSize(temp);
      const delayMs = retryDelayMs(state.failures, ctx.http);
      ctx.http.onRetry?.({ url: redactUrl(job.url), subject: job.label, attempt: state.failures, delayMs, error: err });
      await sleep(delayMs, signal);
    }
  }
}

/** A 206 we did not ask for, or for another offset than the partial file's end. */
class UnusablePartialResponse extends Error {
  constructor(contentRange: string | undefined) {
    super(`server answered 206 with an unusable Content-Range ${JSON.stringify(contentRange ?? "")}`);
  }
}

/** Open the URL, asking for the rest of the body when a resume is possible; a 416 means start over. */
async function openAtOffset(job: DownloadJob, ctx: DownloadContext, state: TransferState): Promise<HttpStream> {
  const rangeStart = state.written > 0 && state.rangesSupported ? state.written : undefined;
  try {
    return await openStream(job.url, ctx.http, { subject: job.label, ...(rangeStart !== undefined ? { rangeStart } : {}) });
  } catch (err) {
    if (rangeStart === undefined || !(err instanceof HttpStatusError) || err.status !== 416) throw err;
    state.written = 0;
    state.rangesSupported = false;
    return openStream(job.url, ctx.http, { subject: job.label });
  }
}

/** The response's Content-Length already says the body is longer than we accept: refuse it before reading a byte. */
function bodyLongerThan(res: HttpStream, maxBytes: number): boolean {
  const length = Number(res.headers["content-length"] ?? Number.NaN);
  return Number.isFinite(length) && length > maxBytes;
}

function contentRangeStart(value: string | undefined): number | undefined {
  const m = /^bytes\s+(\d+)-\d+\/(?:\d+|\*)$/i.exec(value?.trim() ?? "");
  return m ? Number(m[1]) : undefined;
}

/** How a temp file is written: flushed at its close (`sync`, with storage.fsync), created with `mode`'s exact mode. */
interface TempFileOptions {
  sync: boolean;
  mode: SharedFileMode;
}

/** Read a body into the temp file, hashing each chunk on the way; stop if it exceeds `maxBytes`. */
async function receiveToFile(
  body: Readable,
  temp: string,
  append: boolean,
  file: TempFileOptions,
  hashes: MultiHash,
  maxBytes: number,
  rate: RateWatch,
  onChunk: (n: number) => void,
): Promise<{ bytes: number; oversize: boolean }> {
  const writer = new TempFileWriter(temp, append, file.mode);
  let bytes = 0;
  let oversize = false;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      onChunk(chunk.length);
      rate.count(chunk.length);
      if (bytes + chunk.length > maxBytes) {
        oversize = true;
        dropBody(body);
        break;
      }
      hashes.update(chunk);
      bytes += chunk.length;
      await writer.push(chunk);
    }
    await writer.close({ sync: file.sync });
  } catch (err) {
    // Keep what arrived: its length is the resume offset.
    await writer.close().catch(() => undefined);
    throw err;
  } finally {
    rate.stop();
  }
  return { bytes, oversize };
}

/**
 * A body up to this size is written with synchronous calls (microseconds in the page cache): the three thread-pool round
 * trips of an open, a write and a close cost more than that per small package, and stall on a busy 2-CPU machine.
 */
const SYNC_WRITE_MAX_BYTES = 128 * 1024;

/**
 * Buffers chunks and writes them in 1 MiB batches, one write in flight while the next batch
 * arrives. A small package costs one synchronous open, write and close; no stream machinery. A file it creates has
 * SHARED_FILE_MODE (pool blobs are read by web servers through published trees' hard links): no chmod later.
 */
class TempFileWriter {
  private static readonly batchBytes = 1024 * 1024;
  private handle: FileHandle | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly append: boolean,
    private readonly mode: SharedFileMode,
  ) {}

  private async openFile(): Promise<FileHandle> {
    const handle = await open(this.path, this.append ? "a" : "w", SHARED_FILE_MODE);
    // Appending continues a file this download created (its mode already exact).
    if (!this.append)
      await this.mode.exact(handle).catch(async (err: unknown) => {
        await handle.close();
        throw err;
      });
    return handle;
  }

  async push(chunk: Buffer): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= TempFileWriter.batchBytes) await this.flush();
  }

  /**
   * Write what is pending and close; creates the file even for an empty body. `sync`: flush the file's data to disk
   * first (storage.fsync), through this handle: cheaper than opening the file again to flush it before its rename.
   */
  async close(opts: { sync?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const flushToDisk = opts.sync === true && isFsyncEnabled();
    if (!this.handle && !flushToDisk && this.pendingBytes <= SYNC_WRITE_MAX_BYTES) return this.writeAllSync();
    try {
      await this.flush();
      await this.inFlight;
      this.handle ??= await this.openFile();
      if (opts.sync && isFsyncEnabled()) await this.handle.sync();
    } finally {
      await this.handle?.close();
    }
  }

  /** The whole (small) body in one synchronous open, write and close: no FileHandle, no thread-pool hop. */
  private writeAllSync(): void {
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const fd = openSync(this.path, this.append ? "a" : "w", SHARED_FILE_MODE);
    try {
      // Appending continues a file this download created (its mode already exact).
      if (!this.append) this.mode.exactSync(fd);
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
    } finally {
      closeSync(fd);
    }
  }

  private async flush(): Promise<void> {
    await this.inFlight;
    if (this.pendingBytes === 0) return;
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.handle ??= await this.openFile();
    // The received chunks go out as they are (one writev): a concatenated copy costs a fresh 1 MiB allocation per
    // batch, its page faults and GC, about a third of a 1 GB sync's CPU.
    const write = writevFully(this.handle, chunks);
    write.catch(() => undefined); // observed by the next flush or close
    this.inFlight = write;
  }
}

/** Write every chunk, in order; a short write (rare on a regular file) continues with what is left. */
async function writevFully(handle: FileHandle, chunks: Buffer[]): Promise<void> {
  let rest = chunks;
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest);
    if (bytesWritten === 0 && rest.some((c) => c.length > 0)) throw new Error(`no progress writing ${rest.length} chunks to a temp file`);
    let i = 0;
    while (i < rest.length && bytesWritten >= rest[i]!.length) bytesWritten -= rest[i++]!.length;
    rest = i < rest.length ? [rest[i]!.subarray(bytesWritten), ...rest.slice(i + 1)] : [];
  }
}

/** sha256 plus the declared algorithm, updated together in one pass. */
class MultiHash {
  private readonly sha256 = createHash("sha256");
  private readonly declared: Hash | undefined;

  constructor(algo: ChecksumAlgo) {
    this.declared = algo === "sha256" ? undefined : createHash(algo);
  }

  update(chunk: Buffer): void {
    this.sha256.update(chunk);
    this.declared?.update(chunk);
  }

  private sha256Digest: string | undefined;

  sha256Hex(): string {
    this.sha256Digest ??= this.sha256.digest("hex");
    return this.sha256Digest;
  }

  declaredHex(): string {
    return this.declared ? this.declared.digest("hex") : this.sha256Hex();
  }
}

/** Re-hash a partial file from disk: the in-memory hash state is not kept across a dropped connection. */
async function hashFile(path: string, algo: ChecksumAlgo): Promise<MultiHash> {
  const hashes = new MultiHash(algo);
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) hashes.update(chunk);
  return hashes;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Already gone (never created, or adopted by a concurrent identical download).
  }
}

// ---------------------------------------------------------------------------------------------
// Many files

/**
 * Download jobs with a bounded pool of workers sharing one keep-alive Agent. At most `concurrency` requests are on the
 * wire at once (a gate each request waits on and holds until its body is read), and twice as many workers run: while
 * one worker writes, flushes and renames a file it has received, another uses the connection it freed, so a
 * connection never waits for the disk. The first failure stops new jobs, aborts the in-flight ones (their temp files
 * go) and is rethrown.
 */
export async function downloadMany(jobs: readonly DownloadJob[], ctx: DownloadManyContext): Promise<DownloadManyResult> {
  const outer = ctx.signal ?? ctx.http.signal;
  throwIfAborted(outer);
  const stopper = new AbortController();
  const signal = outer ? AbortSignal.any([outer, stopper.signal]) : stopper.signal;
  const concurrency = Math.max(1, ctx.concurrency);
  const workers = Math.max(1, Math.min(concurrency * WORKERS_PER_REQUEST_SLOT, jobs.length));
  // Every in-flight request, waiting worker and backoff sleep listens on it: not a leak.
  setMaxListeners(Math.max(16, workers * 4), signal);
  const ownAgent = ctx.http.dispatcher ? undefined : createHttpAgent({ connections: concurrency });
  const dispatcher: Dispatcher | undefined = ctx.http.dispatcher ?? ownAgent;
  const gate = chainGates(semaphoreGate(new Semaphore(concurrency)), ctx.http.gate);
  const jobCtx: DownloadContext = {
    blobs: ctx.blobs,
    http: { ...ctx.http, signal, ...(dispatcher ? { dispatcher } : {}), ...(gate ? { gate } : {}) },
    ...(ctx.onBytes ? { onBytes: ctx.onBytes } : {}),
    ...(ctx.staged ? { staged: true } : {}),
    fileMode: ctx.fileMode ?? new SharedFileMode(),
  };

  const results: DownloadResult[] = ctx.discardResults ? [] : new Array<DownloadResult>(jobs.length);
  const totals = { files: 0, bytes: 0, bytesDownloaded: 0, resumedFiles: 0 };
  let firstError: unknown;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (firstError === undefined && !signal.aborted && next < jobs.length) {
      const index = next++;
      const job = jobs[index]!;
      try {
        const result = await downloadToPool(job, jobCtx);
        if (!ctx.discardResults) results[index] = result;
        addTo(totals, result);
        ctx.onFileDone?.(job, result, index);
      } catch (err) {
        if (firstError === undefined) {
          firstError = err;
          stopper.abort(new AbortedError("stopped: another download failed"));
        }
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    if (ownAgent) await (firstError === undefined ? ownAgent.close() : ownAgent.destroy()).catch(() => undefined);
  }
  if (outer?.aborted) throw abortedError(outer);
  if (firstError !== undefined) throw firstError;
  return { ...totals, results };
}

function addTo(totals: Omit<DownloadManyResult, "results">, r: DownloadResult): void {
  totals.files++;
  totals.bytes += r.size;
  totals.bytesDownloaded += r.bytesDownloaded;
  if (r.resumed) totals.resumedFiles++;
}
