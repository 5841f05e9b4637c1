// Process-wide SIGINT/SIGTERM handling: installed once and never removed, so no signal ever kills the CLI by default.
import { AbortedError, ExitCode } from "../core/errors.js";
import type { Logger } from "../core/log.js";

export type InterruptSignal = "SIGINT" | "SIGTERM";
const SIGNALS: readonly InterruptSignal[] = ["SIGINT", "SIGTERM"];

/** What bin/chantal-run.js leaves on `process` under this key: the signals it caught before this module loaded. */
export const STARTUP_SIGNALS_KEY = Symbol.for("chantal.startupSignals");
interface StartupSignals {
  received: InterruptSignal[];
  listeners: Partial<Record<InterruptSignal, () => void>>;
}

export function signalExitCode(name: InterruptSignal): number {
  return name === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm;
}

/** One command's view: aborted by the first signal while it runs; `end()` when it has finished. */
export interface CommandInterrupt {
  signal: AbortSignal;
  end(): void;
}

interface Running {
  controller: AbortController;
  log: Logger;
}

let installed = false;
let running: Running | null = null;
/** A signal that arrived while no command ran (during start-up, or after the command finished). */
let idleSignal: AbortedError | null = null;

function onSignal(name: InterruptSignal): void {
  const reason = new AbortedError(`interrupted by ${name}`, name);
  const current = running;
  if (current) {
    if (current.controller.signal.aborted) process.exit(reason.exitCode);
    current.log.warn({ signal: name }, "interrupted: stopping cleanly (send again to exit at once)");
    current.controller.abort(reason);
    return;
  }
  if (idleSignal) process.exit(reason.exitCode);
  idleSignal = reason;
  // Before a command ran nothing else sets the code; after one finished its own code stands.
  process.exitCode ??= reason.exitCode;
}

/**
 * Install the handlers (idempotent). Ours go on before the start-up listeners of bin/chantal-run.js come off, so
 * there is no instant without a handler; the signals those caught are then handled as if they arrived now.
 */
export function installInterruptHandlers(): void {
  if (installed) return;
  installed = true;
  for (const name of SIGNALS) process.on(name, () => onSignal(name));
  const startup = (process as unknown as Record<symbol, StartupSignals | undefined>)[STARTUP_SIGNALS_KEY];
  if (!startup) return;
  delete (process as unknown as Record<symbol, StartupSignals | undefined>)[STARTUP_SIGNALS_KEY];
  for (const name of SIGNALS) {
    const listener = startup.listeners[name];
    if (listener) process.off(name, listener);
  }
  for (const name of startup.received) onSignal(name);
}

/**
 * A command starts: its signal is aborted by the next SIGINT/SIGTERM, or at once when one came during start-up
 * (the caller then does not run the command). A second signal exits at once with that signal's code.
 */
export function beginCommand(log: Logger): CommandInterrupt {
  installInterruptHandlers();
  const controller = new AbortController();
  if (idleSignal) {
    controller.abort(idleSignal);
    idleSignal = null;
  }
  const mine: Running = { controller, log };
  running = mine;
  return {
    signal: controller.signal,
    end() {
      if (running === mine) running = null;
    },
  };
}
