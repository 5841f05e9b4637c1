// `config validate` on scheduler.windows: a window of no length or on_close on a never window exits 78, naming the file, line and key.
import { rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { makeConfigDir, runCli } from "../helpers/cli.js";

const config = (window: string) =>
  `storage:\n  base_path: ./data\nscheduler:\n  windows:\n${window}repositories:\n  - id: r1\n    type: rpm\n    upstream_url: http://127.0.0.1:9/x\n`;

describe("config validate: maintenance windows", () => {
  it.each([
    [
      "a zero duration",
      '    - cron: "0 1 * * *"\n      duration: 0h\n',
      /config\.yaml:\d+: scheduler\.windows\[0\]\.duration: is 0h: a window of no length never opens/,
    ],
    [
      "on_close on a never window",
      '    - cron: "0 1 * * *"\n      duration: 4h\n      mode: never\n      on_close: abort\n',
      /config\.yaml:\d+: scheduler\.windows\[0\]\.on_close: applies to mode: only windows/,
    ],
    ["a duration without a unit", '    - cron: "0 1 * * *"\n      duration: "4"\n', /config\.yaml:\d+: scheduler\.windows\[0\]\.duration/],
  ])("%s exits 78 with the file and key", async (_what, window, message) => {
    const dir = makeConfigDir({ "config.yaml": config(window) });
    const r = await runCli(["--config-dir", dir, "config", "validate"]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(78);
  });

  it("a window of 4h validates", async () => {
    const dir = makeConfigDir({ "config.yaml": config('    - cron: "0 1 * * *"\n      duration: 4h\n') });
    const r = await runCli(["--config-dir", dir, "config", "validate"]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
