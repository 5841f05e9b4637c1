// Process-wide signal handling (the CLI, the container entry): SIGINT/SIGTERM handlers installed once and never removed, so
// neither kills the process by its default action; SIGHUP is the scheduler's reload and otherwise keeps its default.
import { AbortedError } from "../errors.js";
import type { Logger } from "../log.js";

export type InterruptSignal = "SIGINT" | "SIGTERM";
const SIGNALS: readonly InterruptSignal[] = ["SIGINT", "SIGTERM"];

/** What bin/chantal-run.js leaves on `process` under this key: the signals it caught before this module loaded. */
const STARTUP_SIGNALS_KEY = Symbol.for("chantal.startupSignals");
interface StartupSignals {
  received: InterruptSignal[];
  hangups: number;
  listeners: Partial<Record<InterruptSignal | "SIGHUP", () => void>>;
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
/** Left by bin/chantal-run.js; its SIGHUP listener stays until the command is known (see beginCommand). */
let startup: StartupSignals | null = null;
let running: Running | null = null;
/** A signal that arrived while no command ran (during start-up, or after the command finished). */
let idleSignal: AbortedError | null = null;

function onSignal(name: InterruptSignal): void {
  const reason = new AbortedError(`interrupted by ${name}`, name);
  const current = running;
  if (current) {
    if (current.controller.signal.aborted) process.exit(reason.exitCode);
    // Abort first: its listeners clear a progress bar on the terminal before the message is written.
    current.controller.abort(reason);
    current.log.warn({ signal: name }, "interrupted: stopping cleanly (send again to exit at once)");
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
  const left = (process as unknown as Record<symbol, StartupSignals | undefined>)[STARTUP_SIGNALS_KEY];
  if (!left) return;
  delete (process as unknown as Record<symbol, StartupSignals | undefined>)[STARTUP_SIGNALS_KEY];
  startup = left;
  for (const name of SIGNALS) {
    const listener = left.listeners[name];
    if (listener) process.off(name, listener);
  }
  for (const name of left.received) onSignal(name);
}

/** Take the start-up SIGHUP listener off; returns how many SIGHUPs it caught. */
function takeStartupHangups(): number {
  const listener = startup?.listeners.SIGHUP;
  if (!startup || !listener) return 0;
  process.off("SIGHUP", listener);
  delete startup.listeners.SIGHUP;
  return startup.hangups;
}

/** A command that does not reload on SIGHUP: a SIGHUP caught during start-up ends the process now, as it would have. */
function releaseStartupHangups(): void {
  if (takeStartupHangups() > 0 && process.listenerCount("SIGHUP") === 0) process.kill(process.pid, "SIGHUP");
}

let hangupInstalled = false;
let onHangup: (() => void) | null = null;

/**
 * SIGHUP calls `handler` until `release()` (the scheduler's reload). One caught during start-up is passed on now.
 * Our listener stays after release: a SIGHUP while the process winds down is ignored, not the default exit.
 */
export function claimHangups(handler: () => void): { release(): void } {
  onHangup = handler;
  if (!hangupInstalled) {
    hangupInstalled = true;
    process.on("SIGHUP", () => onHangup?.());
  }
  if (takeStartupHangups() > 0) handler(); // several reload requests before the start come down to one
  return {
    release() {
      if (onHangup === handler) onHangup = null;
    },
  };
}

/**
 * A command starts: its signal is aborted by the next SIGINT/SIGTERM, or at once when one came during start-up
 * (the caller then does not run the command). A second signal exits at once with that signal's code.
 * `hangups`: the command reloads on SIGHUP (it calls claimHangups); otherwise SIGHUP keeps its default, ending the process.
 */
export function beginCommand(log: Logger, opts: { hangups?: boolean } = {}): CommandInterrupt {
  installInterruptHandlers();
  if (!opts.hangups) releaseStartupHangups();
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
