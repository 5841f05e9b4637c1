// Progress of long downloads: a bar on a TTY, the JSON lines of functions/progress-lines.ts otherwise.
import { createRequire } from "node:module";
import type CliProgress from "cli-progress";
import type { Logger } from "../core/log.js";
import { mb, megabytesPerSecond, progressLines, type ProgressReporter } from "../functions/progress-lines.js";

export function progressReporter(log: Logger, terminal = process.stderr.isTTY): ProgressReporter {
  // --quiet (or any level above info) draws no bar, as it logs no progress lines.
  if (!terminal || !log.isLevelEnabled("info")) return progressLines(log);
  const started = Date.now();
  let bar: CliProgress.SingleBar | undefined;
  /** stop() is final: downloads still finishing after an interrupt do not draw the bar again. */
  let stopped = false;
  // Loaded for a terminal only: JSON progress lines need none of it.
  const cliProgress = createRequire(import.meta.url)("cli-progress") as typeof CliProgress;
  return {
    onProgress(repoId, p) {
      if (p.phase !== "download" || stopped) return;
      bar ??= new cliProgress.SingleBar(
        {
          format: `${repoId} [{bar}] {value}/{total} packages | {mbDone}/{mbTotal} MB | {rate} MB/s | ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      if (!bar.isActive) bar.start(p.filesTotal, 0, { mbDone: mb(0), mbTotal: mb(p.bytesTotal), rate: mb(0) });
      bar.setTotal(p.filesTotal);
      bar.update(p.filesDone, { mbDone: mb(p.bytesDone), mbTotal: mb(p.bytesTotal), rate: megabytesPerSecond(p.bytesDone, started) });
      if (p.filesDone >= p.filesTotal) bar.stop();
    },
    stop() {
      stopped = true;
      bar?.stop();
    },
  };
}
