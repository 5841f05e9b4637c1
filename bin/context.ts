// Builds what every command needs (config, logger, database, abort signal) and maps outcomes to exit codes.
import type { Command } from "commander";
import { completeInterruptedSwap } from "../core/backup/config-swap.js";
import { loadConfig, resolveConfigDir, type LoadedConfig } from "../core/config/load.js";
import { openDatabase, type Database } from "../core/db/client.js";
import { AbortedError, ChantalError, ConfigError, ExitCode, errorMessage } from "../core/errors.js";
import { createLogger, silentLogger, type Logger } from "../core/log.js";
import { redactText } from "../core/redact.js";
import { beginCommand } from "../core/runtime/signals.js";

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

function reportError(err: unknown, log: Logger): number {
  if (err instanceof ConfigError) {
    for (const line of err.message.split("\n")) process.stderr.write(`error: ${line}\n`);
    return err.exitCode;
  }
  if (err instanceof ChantalError) {
    process.stderr.write(`error: ${redactText(err.message)}\n`);
    return err.exitCode;
  }
  log.debug({ err }, "unexpected error");
  process.stderr.write(`error: ${redactText(errorMessage(err))}\n`);
  return ExitCode.failed;
}

/** A restore killed between the two renames of its configuration swap is completed before the configuration is read. */
async function finishInterruptedRestore(configDir: string, log: Logger): Promise<void> {
  const what = await completeInterruptedSwap(configDir);
  if (what) log.warn(what);
}

export interface ActionOptions {
  /** The command reloads on SIGHUP (claimHangups in core/runtime/signals.ts): one during start-up is kept for it. */
  hangups?: boolean;
  /** The exit code when SIGINT/SIGTERM came before the command began; default the signal's (130/143). */
  stoppedBeforeStartCode?: number;
}

/** Wrap a command action: build the context, run, close everything, set the exit code. */
export function action<A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<number | void>, opts: ActionOptions = {}) {
  return async (...args: unknown[]): Promise<void> => {
    const cmd = args.at(-1) as Command;
    const g = globalOptions(cmd);
    let log: Logger;
    try {
      log = createLogger({ verbose: g.verbose, quiet: g.quiet, level: g.logLevel });
    } catch (err) {
      process.exitCode = reportError(err, silentLogger());
      return;
    }
    // SIGINT/SIGTERM abort the running work; a second signal exits at once (core/runtime/signals.ts).
    const interrupt = beginCommand(log, { hangups: opts.hangups });
    const configDir = resolveConfigDir(g.configDir, process.env);
    let loaded: Promise<LoadedConfig> | undefined;
    const databases: Database[] = [];
    const ctx: CommandContext = {
      log,
      signal: interrupt.signal,
      configDir,
      loadConfig: () => (loaded ??= finishInterruptedRestore(configDir, log).then(() => loadConfig({ configDir }))),
      async openDatabase(opts) {
        const { config } = await ctx.loadConfig();
        const db = await openDatabase({ config, log, migrate: opts?.migrate, signal: interrupt.signal });
        databases.push(db);
        return db;
      },
    };
    let code: number;
    try {
      // A signal during start-up stops the command before it begins.
      const early = interrupt.signal.reason instanceof AbortedError ? interrupt.signal.reason : null;
      if (early && opts.stoppedBeforeStartCode !== undefined) {
        log.info({ signal: early.signalName }, `stopped by ${early.signalName} before it started`);
        code = opts.stoppedBeforeStartCode;
      } else if (early) {
        throw new AbortedError(`${early.message} before the command started`, early.signalName);
      } else {
        code = (await fn(ctx, ...(args.slice(0, -1) as A))) ?? ExitCode.ok;
      }
    } catch (err) {
      // The interruption was logged when the signal came (core/runtime/signals.ts): its bare message is not repeated.
      const loggedInterrupt = err instanceof AbortedError && interrupt.signal.reason instanceof AbortedError && err.message === interrupt.signal.reason.message && log.isLevelEnabled("warn");
      code = loggedInterrupt ? ExitCode.failed : reportError(err, log);
      // An abort we caused exits with our signal's code (SIGINT 130, SIGTERM 143), whichever error carried it up.
      if (err instanceof AbortedError && interrupt.signal.reason instanceof AbortedError) code = interrupt.signal.reason.exitCode;
    } finally {
      for (const db of databases) await db.close();
      interrupt.end();
    }
    process.exitCode = code;
  };
}
