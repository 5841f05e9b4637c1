// A pino logger whose lines a test can read (to check what is logged, and that no secret is).
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";

export function captureLogger(level = "debug"): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      cb();
    },
  });
  return {
    log: pino({ level, base: undefined }, stream),
    lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => raw.join("\n"),
  };
}
