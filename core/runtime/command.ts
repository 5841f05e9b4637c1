// The one start-up path of the CLI, the container entry and the scheduler daemon: the command's abort signal,
// the run, one report of a failure, the exit code. How a failure is shown is the entry point's (stderr or JSON).
import { AbortedError, ExitCode } from "../errors.js";
import type { Logger } from "../log.js";
import { describeFailure, type Failure } from "./failure.js";
import { beginCommand } from "./signals.js";

export interface CommandOptions {
  log: Logger;
  /** Show a failure: `error:` lines on stderr (the CLI), a JSON log line (the container). */
  report(failure: Failure): void;
  /** After the run and its report, whatever happened (closing databases); before the signal handling lets go. */
  cleanup?(): Promise<void>;
  /** The command reloads on SIGHUP (claimHangups in signals.ts): one during start-up is kept for it. */
  hangups?: boolean;
  /** The exit code when SIGINT/SIGTERM came before the command began; default the signal's (130/143). */
  stoppedBeforeStartCode?: number;
}

/** Run a command under the process's signal handling; returns its exit code (the caller sets process.exitCode). */
// biome-ignore lint/suspicious/noConfusingVoidType: a command that only prints returns nothing; a number is its exit code
export async function runCommand(opts: CommandOptions, run: (signal: AbortSignal) => Promise<number | void>): Promise<number> {
  const { log } = opts;
  // SIGINT/SIGTERM abort the running work; a second signal exits at once (signals.ts).
  const interrupt = beginCommand(log, { hangups: opts.hangups });
  const ourAbort = () => (interrupt.signal.reason instanceof AbortedError ? interrupt.signal.reason : null);
  let code: number;
  try {
    // A signal during start-up stops the command before it begins.
    const early = ourAbort();
    if (early && opts.stoppedBeforeStartCode !== undefined) {
      log.info({ signal: early.signalName }, `stopped by ${early.signalName} before it started`);
      code = opts.stoppedBeforeStartCode;
    } else if (early) {
      throw new AbortedError(`${early.message} before the command started`, early.signalName);
    } else {
      code = (await run(interrupt.signal)) ?? ExitCode.ok;
    }
  } catch (err) {
    const abort = ourAbort();
    // The interruption was logged when the signal came (signals.ts): its bare message is not repeated.
    const loggedInterrupt = err instanceof AbortedError && abort !== null && err.message === abort.message && log.isLevelEnabled("warn");
    if (loggedInterrupt) code = ExitCode.failed;
    else {
      const failure = describeFailure(err);
      if (failure.unexpected) log.debug({ err }, "unexpected error");
      opts.report(failure);
      code = failure.exitCode;
    }
    // An abort we caused exits with our signal's code (SIGINT 130, SIGTERM 143), whichever error carried it up.
    if (err instanceof AbortedError && abort) code = abort.exitCode;
  } finally {
    await opts.cleanup?.();
    interrupt.end();
  }
  return code;
}
