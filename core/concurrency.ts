// Bounded parallelism for I/O over a list (stats, links, uploads, HEAD requests).

/**
 * Runs `work` over `items`, at most `limit` at a time. The first failure, or the signal's abort, stops the
 * taking of new items; once the items in flight have settled (so a caller's cleanup never races them), it
 * rejects with that failure, or with the abort's reason even when every item had already been taken.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && !signal?.aborted && next < items.length) {
      try {
        await work(items[next++]!);
      } catch (err) {
        if (!failed) failure = err;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failure;
  signal?.throwIfAborted();
}
