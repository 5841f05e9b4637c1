// The one sleep and abort check: waits that end early with AbortedError when the command's signal fires.
import { AbortedError } from "../errors.js";

/** AbortedError for a fired signal, keeping SIGINT/SIGTERM when the reason names one. */
export function abortedError(signal: AbortSignal): AbortedError {
  const reason: unknown = signal.reason;
  if (reason instanceof AbortedError) return reason;
  if (reason === "SIGINT" || reason === "SIGTERM") return new AbortedError("interrupted", reason);
  return new AbortedError("interrupted", "abort");
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

/** Resolves after `ms`; rejects with abortedError(signal) when the signal fired before or fires during the wait. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal!));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
