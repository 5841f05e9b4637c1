// `chantal-run scheduler stop`: stop the scheduler running on this host (SIGTERM, then wait for it to exit).
import { rm } from "node:fs/promises";
import type { Command } from "commander";
import { ChantalError, errorMessage, UsageError } from "../../core/errors.js";
import { isAlive, isSchedulerProcess, readPidFile, schedulerPaths, waitForExit } from "../../core/schedule/pidfile.js";
import { action } from "../context.js";

export function register(scheduler: Command): void {
  scheduler
    .command("stop")
    .description("stop the scheduler running on this host (SIGTERM, then wait for it to exit)")
    .option("--timeout <seconds>", "how long to wait for it to exit (default scheduler.grace_period_seconds + 30)")
    .action(
      action(async (ctx, opts: { timeout?: string }) => {
        const loaded = await ctx.loadConfig();
        const { pidFile } = schedulerPaths(loaded);
        const timeoutS = opts.timeout === undefined ? loaded.config.scheduler.grace_period_seconds + 30 : Number(opts.timeout);
        if (!Number.isFinite(timeoutS) || timeoutS < 0) throw new UsageError(`--timeout takes a number of seconds, not "${opts.timeout}"`);
        const pid = await readPidFile(pidFile);
        if (pid === null) {
          process.stdout.write(`scheduler is not running on this host (no pid file ${pidFile})\n`);
          return;
        }
        if (!isAlive(pid)) {
          await rm(pidFile, { force: true });
          process.stdout.write(`scheduler is not running on this host (removed the stale pid file ${pidFile} of pid ${pid})\n`);
          return;
        }
        if (!isSchedulerProcess(pid)) {
          throw new ChantalError(`pid file ${pidFile} names pid ${pid}, which is not a chantal scheduler: remove the file if the scheduler is not running`);
        }
        try {
          process.kill(pid, "SIGTERM");
        } catch (err) {
          throw new ChantalError(`cannot signal the scheduler (pid ${pid}): ${errorMessage(err)}`);
        }
        ctx.log.info({ pid, timeoutSeconds: timeoutS }, "SIGTERM sent; waiting for running syncs to finish or be aborted");
        if (!(await waitForExit(pid, timeoutS * 1000))) {
          throw new ChantalError(
            `the scheduler (pid ${pid}) is still running after ${timeoutS} s; wait longer (--timeout) or kill it (kill -9 ${pid}: its syncs are then recorded as interrupted at the next run)`,
          );
        }
        process.stdout.write(`scheduler stopped (pid ${pid})\n`);
      }),
    );
}
