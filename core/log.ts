// Logs go to stderr: pretty on a TTY, JSON lines otherwise (containers, systemd).
import { createRequire } from "node:module";
import { pino, type Logger } from "pino";
import type PinoPretty from "pino-pretty";
import { UsageError } from "./errors.js";

export type { Logger };

/** The levels --log-level and CHANTAL_LOG_LEVEL accept, quietest last. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  verbose?: boolean;
  /** Errors only (-q/--quiet). */
  quiet?: boolean;
  /** An explicit level (--log-level); wins over quiet, verbose and CHANTAL_LOG_LEVEL. */
  level?: string;
  /** Force JSON lines even on a TTY (containers). */
  json?: boolean;
  /** Where to write; defaults to stderr (fd 2). */
  destination?: number;
}

/** The level a command logs at: --log-level, then -q, then -v, then CHANTAL_LOG_LEVEL, then info. */
export function resolveLogLevel(opts: LoggerOptions, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const [source, wanted] =
    opts.level !== undefined
      ? ["--log-level", opts.level]
      : opts.quiet
        ? ["--quiet", "error"]
        : opts.verbose
          ? ["--verbose", "debug"]
          : ["CHANTAL_LOG_LEVEL", env.CHANTAL_LOG_LEVEL || "info"];
  const level = wanted.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`${source}: unknown log level "${wanted}"; use one of ${LOG_LEVELS.join(", ")}`);
  return level as LogLevel;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = resolveLogLevel(opts);
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
