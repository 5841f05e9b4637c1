// Progress of long downloads as periodic JSON lines through the logger: the container, and the CLI off a terminal.
import type { Logger } from "../core/log.js";
import type { SyncProgress } from "../core/mirror/types.js";

const LINE_INTERVAL_MS = 5_000;

export interface ProgressReporter {
  onProgress: (repoId: string, p: SyncProgress) => void;
  stop(): void;
}

export function mb(n: number): string {
  return (n / 1_048_576).toFixed(1);
}

/** MB/s since `started` (ms since the epoch) for `bytes` done. */
export function megabytesPerSecond(bytes: number, started: number): string {
  return mb(bytes / Math.max(0.001, (Date.now() - started) / 1000));
}

export function progressLines(log: Logger): ProgressReporter {
  const started = Date.now();
  let last = 0;
  /** stop() is final: downloads still finishing after an interrupt log no more progress. */
  let stopped = false;
  return {
    onProgress(repoId, p) {
      if (p.phase !== "download" || stopped) return;
      const now = Date.now();
      if (now - last < LINE_INTERVAL_MS && p.filesDone < p.filesTotal) return;
      last = now;
      log.info(
        {
          repo: repoId,
          progress: {
            files: p.filesDone,
            files_total: p.filesTotal,
            bytes: p.bytesDone,
            bytes_total: p.bytesTotal,
            mb_per_s: Number(megabytesPerSecond(p.bytesDone, started)),
          },
        },
        "download progress",
      );
    },
    stop() {
      stopped = true;
    },
  };
}
