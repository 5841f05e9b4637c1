// Messages between the sync and the primary.xml worker thread, and the errors that cross between them.
import { DecompressionError, LimitExceededError, type CompressionKind } from "../compress/decompress.js";
import { ChantalError } from "../errors.js";
import { UnsafePathError } from "../mirror/location.js";
import { PrimaryParseError } from "./primary.js";
import type { ChecksumAlgo } from "../checksum.js";
import { ChecksumRefusedError } from "./repomd.js";
import type { RpmDependencies } from "./dependencies.js";

export interface PrimaryWorkerInput {
  compression: CompressionKind;
  label: string;
  maxOutputBytes: number;
  maxPackages: number;
  /** repomd.xml's <open-size> of the primary: more decompressed bytes stop at once. */
  openSize?: number;
  /** The repository's URL, for safeLocation. */
  repoUrl: string;
  /** Also send each package's dependency data (a filter with with_dependencies). */
  withDependencies?: boolean;
  /** The repository's parse memo (primary-memo.ts): read unless `ignoreMemo`, rewritten after a complete parse. */
  memoFile?: string;
  ignoreMemo?: boolean;
  /** The compressed file on this host's disk (a filesystem pool): the thread reads it itself, not through the main thread. */
  file?: string;
}

/** How a spare worker (prewarmPrimaryParser) is started: the memo it will likely need, read while it waits. */
export interface SpareWorkerData {
  spare: true;
  memoFile?: string;
}

/** `start`: a spare worker (started without workerData, see prewarmPrimaryParser) gets its input first. */
export type ToWorker = { type: "start"; input: PrimaryWorkerInput } | { type: "chunk"; data: Uint8Array } | { type: "end" };

export type ToMain =
  | { type: "preloaded" }
  | { type: "more" }
  | { type: "packages"; packages: ParsedPackage[] }
  | { type: "done"; reused?: number }
  | { type: "failed"; error: SerializedError };

/** A package as the worker sends it: its location is already checked and relative to the repository. */
export interface ParsedPackage {
  location: string;
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  size: number | null;
  checksumAlgo: ChecksumAlgo;
  checksumValue: string;
  /** With withDependencies only. */
  deps?: RpmDependencies;
}

export interface SerializedError {
  kind: string;
  message: string;
  limit?: string;
  max?: number;
  href?: string;
  reason?: string;
  base?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof LimitExceededError) return { kind: "LimitExceededError", message: err.message, limit: err.limit, max: err.max };
  if (err instanceof UnsafePathError)
    return { kind: "UnsafePathError", message: err.message, href: err.href, reason: err.reason, ...(err.base !== undefined ? { base: err.base } : {}) };
  if (err instanceof Error) return { kind: err.constructor.name, message: err.message };
  return { kind: "Error", message: String(err) };
}

/** The same error class on this side, so that callers and exit codes see what an in-thread parse would throw. */
export function deserializeError(e: SerializedError): Error {
  switch (e.kind) {
    case "LimitExceededError":
      return new LimitExceededError(e.message, { limit: e.limit ?? "unknown", max: e.max ?? 0 });
    case "UnsafePathError":
      return new UnsafePathError(e.href ?? "", e.reason ?? e.message, e.base);
    case "PrimaryParseError":
      return new PrimaryParseError(e.message);
    case "ChecksumRefusedError":
      return new ChecksumRefusedError(e.message);
    case "DecompressionError":
      return new DecompressionError(e.message);
    default:
      return new ChantalError(e.message);
  }
}
