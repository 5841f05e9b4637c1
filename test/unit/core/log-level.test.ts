// Which log level a command runs at: --log-level, then -q, then -v, then CHANTAL_LOG_LEVEL, then info.
import { describe, expect, it } from "vitest";
import { UsageError } from "../../../core/errors.js";
import { resolveLogLevel, type LoggerOptions } from "../../../core/log.js";

describe("resolveLogLevel", () => {
  it.each<[LoggerOptions, string | undefined, string]>([
    [{}, undefined, "info"],
    [{}, "", "info"],
    [{}, "warn", "warn"],
    [{}, " DEBUG ", "debug"],
    [{ verbose: true }, "warn", "debug"],
    [{ quiet: true }, "debug", "error"],
    [{ quiet: true, verbose: true }, undefined, "error"],
    [{ level: "trace", quiet: true }, "warn", "trace"],
    [{ level: "silent" }, undefined, "silent"],
  ])("%j with CHANTAL_LOG_LEVEL=%j is %s", (opts, env, want) => {
    expect(resolveLogLevel(opts, { CHANTAL_LOG_LEVEL: env })).toBe(want);
  });

  it.each<[LoggerOptions, string | undefined, RegExp]>([
    [{ level: "loud" }, undefined, /--log-level: unknown log level "loud"/],
    [{}, "chatty", /CHANTAL_LOG_LEVEL: unknown log level "chatty"/],
  ])("refuses %j / %j as a usage error", (opts, env, message) => {
    const run = () => resolveLogLevel(opts, { CHANTAL_LOG_LEVEL: env });
    expect(run).toThrow(UsageError);
    expect(run).toThrow(message);
  });
});
