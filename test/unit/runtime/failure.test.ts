// A thrown error as what the user is told: one line per configuration issue, redacted messages, ExitCode's codes.
import { describe, expect, it } from "vitest";
import { AbortedError, ChantalError, ConfigError, ExitCode, LockBusyError, UsageError } from "../../../core/errors.js";
import { describeFailure } from "../../../core/runtime/failure.js";

describe("describeFailure", () => {
  it("gives one line per configuration issue and exit 78", () => {
    const err = new ConfigError([
      { file: "config.yaml", path: "storage.path", message: "required" },
      { file: "conf.d/r.yaml", path: "", message: "not YAML" },
    ]);
    expect(describeFailure(err)).toEqual({
      lines: ["config.yaml: storage.path: required", "conf.d/r.yaml: not YAML"],
      exitCode: ExitCode.config,
      unexpected: false,
    });
  });

  it.each([
    [new UsageError("bad"), ExitCode.usage],
    [new LockBusyError("held"), ExitCode.locked],
    [new AbortedError("interrupted by SIGINT", "SIGINT"), ExitCode.sigint],
    [new ChantalError("failed"), ExitCode.failed],
  ])("keeps the exit code of %s", (err, code) => {
    expect(describeFailure(err)).toMatchObject({ lines: [err.message], exitCode: code, unexpected: false });
  });

  it("redacts credentials and marks an error that is not ours as unexpected (exit 1)", () => {
    const f = describeFailure(new Error("GET https://user:secret@mirror.example/repodata failed"));
    expect(f.exitCode).toBe(ExitCode.failed);
    expect(f.unexpected).toBe(true);
    expect(f.lines.join("")).not.toContain("secret");
    expect(describeFailure("a string").lines).toEqual(["a string"]);
  });
});
