// Logs go to stderr: pretty on a TTY, JSON lines otherwise (containers, systemd).
import { createRequire } from "node:module";
import { pino, type Logger } from "pino";
import type PinoPretty from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  verbose?: boolean;
  /** Force JSON lines even on a TTY (containers). */
  json?: boolean;
  /** Where to write; defaults to stderr (fd 2). */
  destination?: number;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.verbose ? "debug" : (process.env.CHANTAL_LOG_LEVEL ?? "info");
  const fd = opts.destination ?? 2;
  const tty = !opts.json && fd === 2 && process.stderr.isTTY;
  if (tty) {
    // Loaded only for a terminal: containers and systemd never pay for it.
    const pretty = createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty;
    return pino({ level, base: undefined }, pretty({ destination: fd, sync: true, ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss" }));
  }
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: fd, sync: true }));
}

/** A logger that drops everything, for library callers and tests that don't care. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
