// Minimum transfer rate over a sliding window (curl's --speed-limit/--speed-time, librepo's minrate): a body that
// trickles in slower than that fails, so a server sending 1 byte per second cannot keep a sync alive for hours.
import type { Readable } from "node:stream";

export interface MinRate {
  /** 0 turns the check off. */
  bytesPerSecond: number;
  windowMs: number;
}

export const minRateDefaults: MinRate = { bytesPerSecond: 1000, windowMs: 30_000 };

export interface RateSample {
  atMs: number;
  /** Bytes received since the start, at atMs. */
  totalBytes: number;
}

export interface RateVerdict {
  tooSlow: boolean;
  /** Bytes received over the last full window; undefined until a whole window has passed. */
  bytesInWindow?: number;
}

/**
 * Pure: given the samples so far (oldest first, the first at the start with 0 bytes) and the newest one, whether
 * the bytes of the last window fall below the minimum. The baseline is the newest sample at least a window old.
 */
export function rateVerdict(samples: readonly RateSample[], now: RateSample, rate: MinRate): RateVerdict {
  if (rate.bytesPerSecond <= 0) return { tooSlow: false };
  let baseline: RateSample | undefined;
  for (const s of samples) if (s.atMs <= now.atMs - rate.windowMs) baseline = s;
  if (!baseline) return { tooSlow: false };
  const bytesInWindow = now.totalBytes - baseline.totalBytes;
  // Over the baseline's real age (>= the window), so a late tick does not make a steady transfer look slow.
  const required = (rate.bytesPerSecond * (now.atMs - baseline.atMs)) / 1000;
  return { tooSlow: bytesInWindow < required, bytesInWindow };
}

/** Drop the samples no later verdict needs: keep the newest one at least a window old, and all after it. */
export function pruneSamples(samples: RateSample[], nowMs: number, windowMs: number): void {
  let keepFrom = 0;
  for (let i = 0; i < samples.length; i++) if (samples[i]!.atMs <= nowMs - windowMs) keepFrom = i;
  if (keepFrom > 0) samples.splice(0, keepFrom);
}

export interface RateWatch {
  /** Count bytes as they arrive. */
  count(n: number): void;
  stop(): void;
}

/**
 * Watch a body being read: when the last window brought fewer bytes than the minimum, destroy it with the error
 * `tooSlow` makes, so the reader's loop throws it. The reader calls count() per chunk and stop() when done.
 */
export function watchRate(body: Readable, rate: MinRate, tooSlow: (bytesInWindow: number) => Error, clock: () => number = Date.now): RateWatch {
  if (rate.bytesPerSecond <= 0) return { count: () => undefined, stop: () => undefined };
  let total = 0;
  const samples: RateSample[] = [{ atMs: clock(), totalBytes: 0 }];
  // Ten samples per window (at most one a second): a trickle is caught within a tenth of a window of the limit.
  const tickMs = Math.max(10, Math.min(1000, Math.floor(rate.windowMs / 10)));
  const timer = setInterval(() => {
    const now = { atMs: clock(), totalBytes: total };
    const verdict = rateVerdict(samples, now, rate);
    if (verdict.tooSlow) {
      clearInterval(timer);
      if (!body.destroyed) body.destroy(tooSlow(verdict.bytesInWindow ?? 0));
      return;
    }
    samples.push(now);
    pruneSamples(samples, now.atMs, rate.windowMs);
  }, tickMs);
  timer.unref();
  return {
    count: (n) => {
      total += n;
    },
    stop: () => clearInterval(timer),
  };
}
