// `scheduler start`: run the scheduler daemon (functions/scheduler.ts) in the foreground, or detached with --daemon.
import type { Command } from "commander";
import { ExitCode } from "../../core/errors.js";
import { runScheduler, startDetached } from "../../functions/scheduler.js";
import { action, type CommandContext } from "../context.js";

/** --daemon: start this command again without it, detached; return once it runs. */
async function detach(ctx: CommandContext, http: string | undefined): Promise<number> {
  const started = await startDetached({ ...ctx, metricsListen: http }, [...process.execArgv, ...process.argv.slice(1).filter((a) => a !== "--daemon")]);
  if (started.status === "exited") {
    process.stderr.write(`error: the scheduler exited during start (exit ${started.code}); last lines of ${started.logFile}:\n${started.lastLines}\n`);
    return started.code === ExitCode.ok ? ExitCode.failed : started.code;
  }
  process.stdout.write(`scheduler started in the background: pid ${started.pid}\nlog: ${started.logFile}\npid file: ${started.pidFile}\n`);
  return ExitCode.ok;
}

export function register(scheduler: Command): void {
  scheduler
    .command("start")
    .description("run the scheduler in the foreground (what systemd runs); --daemon detaches it")
    .option("--daemon", "run in the background: log to scheduler.log_file, write scheduler.pid_file, return once it runs")
    .option(
      "--http <host:port>",
      "serve the dashboard, its JSON API (/api/) and GET /metrics on host:port, like 127.0.0.1:9464 (default web.listen; none: no listener)",
    )
    .option(
      "--host-name <name>",
      "the name this daemon locks, registers and claims fires under in the database (default: this machine's host name); one running daemon per name",
    )
    // A stop requested before the scheduler ran is a clean stop too (exit 0, like one later): systemd, `scheduler stop`.
    .action(
      action(
        async (ctx, opts: { daemon?: boolean; http?: string; hostName?: string }) =>
          opts.daemon
            ? detach(ctx, opts.http)
            : runScheduler({ ...ctx, metricsListen: opts.http, ...(opts.hostName !== undefined ? { hostName: opts.hostName } : {}) }),
        {
          hangups: true,
          stoppedBeforeStartCode: ExitCode.ok,
        },
      ),
    );
}
