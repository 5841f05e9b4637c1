// Builds what every command needs (config, logger, database) and runs it through core/runtime/command.ts.
import type { Command } from "commander";
import { completeInterruptedSwap } from "../core/backup/config-swap.js";
import { loadConfig, resolveConfigDir, type LoadedConfig } from "../core/config/load.js";
import { openDatabase, type Database } from "../core/db/client.js";
import { createLogger, type Logger } from "../core/log.js";
import { runCommand, type CommandOptions } from "../core/runtime/command.js";
import { describeFailure, type Failure } from "../core/runtime/failure.js";

export interface GlobalOptions {
  configDir?: string;
  verbose?: boolean;
  quiet?: boolean;
  logLevel?: string;
}

export interface CommandContext {
  log: Logger;
  signal: AbortSignal;
  configDir: string;
  loadConfig(): Promise<LoadedConfig>;
  openDatabase(opts?: { migrate?: boolean }): Promise<Database>;
}

function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** The CLI shows a failure as `error:` lines on stderr. */
function writeFailure(failure: Failure): void {
  for (const line of failure.lines.flatMap((l) => l.split("\n"))) process.stderr.write(`error: ${line}\n`);
}

/** A restore killed between the two renames of its configuration swap is completed before the configuration is read. */
async function finishInterruptedRestore(configDir: string, log: Logger): Promise<void> {
  const what = await completeInterruptedSwap(configDir);
  if (what) log.warn(what);
}

export type ActionOptions = Pick<CommandOptions, "hangups" | "stoppedBeforeStartCode">;

/** Wrap a command action: build the context, run, close everything, set the exit code. */
// biome-ignore lint/suspicious/noConfusingVoidType: a command that only prints returns nothing; a number is its exit code
export function action<A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<number | void>, opts: ActionOptions = {}) {
  return async (...args: unknown[]): Promise<void> => {
    const cmd = args.at(-1) as Command;
    const g = globalOptions(cmd);
    let log: Logger;
    try {
      log = createLogger({ verbose: g.verbose, quiet: g.quiet, level: g.logLevel });
    } catch (err) {
      const failure = describeFailure(err);
      writeFailure(failure);
      process.exitCode = failure.exitCode;
      return;
    }
    const configDir = resolveConfigDir(g.configDir, process.env);
    let loaded: Promise<LoadedConfig> | undefined;
    const databases: Database[] = [];
    const cleanup = async () => {
      for (const db of databases) await db.close();
    };
    process.exitCode = await runCommand({ log, report: writeFailure, cleanup, ...opts }, (signal) => {
      const ctx: CommandContext = {
        log,
        signal,
        configDir,
        loadConfig: () => (loaded ??= finishInterruptedRestore(configDir, log).then(() => loadConfig({ configDir }))),
        async openDatabase(opts) {
          const { config } = await ctx.loadConfig();
          const db = await openDatabase({ config, log, migrate: opts?.migrate, signal });
          databases.push(db);
          return db;
        },
      };
      return fn(ctx, ...(args.slice(0, -1) as A));
    });
  };
}
