// Progress of long downloads: a bar on a TTY, periodic JSON lines (through the logger) otherwise.
import { createRequire } from "node:module";
import type CliProgress from "cli-progress";
import type { Logger } from "../core/log.js";
import type { SyncProgress } from "../core/mirror/types.js";

const LINE_INTERVAL_MS = 5_000;

function mb(n: number): string {
  return (n / 1_048_576).toFixed(1);
}

export function progressReporter(log: Logger, terminal = process.stderr.isTTY): { onProgress: (repoId: string, p: SyncProgress) => void; stop(): void } {
  // --quiet (or any level above info) draws no bar, as it logs no progress lines.
  const tty = terminal && log.isLevelEnabled("info");
  const started = Date.now();
  let last = 0;
  let bar: CliProgress.SingleBar | undefined;
  /** stop() is final: downloads still finishing after an interrupt do not draw the bar again. */
  let stopped = false;
  // Loaded for a terminal only: JSON progress lines need none of it.
  const cliProgress = tty ? (createRequire(import.meta.url)("cli-progress") as typeof CliProgress) : undefined;
  const rate = (bytes: number) => mb(bytes / Math.max(0.001, (Date.now() - started) / 1000));
  return {
    onProgress(repoId, p) {
      if (p.phase !== "download" || stopped) return;
      if (cliProgress) {
        bar ??= new cliProgress.SingleBar(
          { format: `${repoId} [{bar}] {value}/{total} packages | {mbDone}/{mbTotal} MB | {rate} MB/s | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
        if (!bar.isActive) bar.start(p.filesTotal, 0, { mbDone: mb(0), mbTotal: mb(p.bytesTotal), rate: mb(0) });
        bar.setTotal(p.filesTotal);
        bar.update(p.filesDone, { mbDone: mb(p.bytesDone), mbTotal: mb(p.bytesTotal), rate: rate(p.bytesDone) });
        if (p.filesDone >= p.filesTotal) bar.stop();
        return;
      }
      const now = Date.now();
      if (now - last < LINE_INTERVAL_MS && p.filesDone < p.filesTotal) return;
      last = now;
      log.info({ repo: repoId, progress: { files: p.filesDone, files_total: p.filesTotal, bytes: p.bytesDone, bytes_total: p.bytesTotal, mb_per_s: Number(rate(p.bytesDone)) } }, "download progress");
    },
    stop() {
      stopped = true;
      bar?.stop();
    },
  };
}
