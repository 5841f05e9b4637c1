// -q/--quiet, --log-level and CHANTAL_LOG_LEVEL through the real CLI: documented in --help, bad levels are usage errors.
import { describe, expect, it } from "vitest";
import { makeConfigDir, runCli } from "../helpers/cli.js";

const configDir = makeConfigDir({ "config.yaml": "repositories: []\n" });

describe("log level options", () => {
  it("--help documents -q/--quiet, --log-level and CHANTAL_LOG_LEVEL", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/-q, --quiet/);
    expect(r.stdout).toMatch(/--log-level <level>/);
    expect(r.stdout).toMatch(/CHANTAL_LOG_LEVEL/);
  });

  it.each([
    [["--log-level", "loud"], {}, /--log-level: unknown log level "loud"; use one of trace, debug, info/],
    [[], { CHANTAL_LOG_LEVEL: "chatty" }, /CHANTAL_LOG_LEVEL: unknown log level "chatty"/],
  ])("refuses an unknown level %j %j with exit 2", async (args, env, message) => {
    const r = await runCli([...args, "--config-dir", configDir, "repo", "list"], { env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.match(/error:/g)).toHaveLength(1);
  });

  it("-q and --log-level are accepted after the subcommand too", async () => {
    const r = await runCli(["--config-dir", configDir, "repo", "list", "-q", "--log-level", "warn"]);
    expect(r.code, r.stderr).toBe(0);
  });
});
