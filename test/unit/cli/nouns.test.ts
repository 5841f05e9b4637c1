// Tests of bin/nouns.ts.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { requestedNoun } from "../../../bin/nouns.js";
import { NODE_FLAGS } from "../../../core/node-flags.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

describe("requestedNoun", () => {
  it.each([
    [["repo", "sync", "--repo-id", "x"], "repo"],
    [["-c", "repo", "db", "status"], "db"],
    [["--config-dir", "cloud", "snapshot", "list"], "snapshot"],
    [["--config-dir=/etc/chantal", "-v", "publish", "repo"], "publish"],
    [["-vc", "repo", "pool", "verify"], "pool"],
    [["-v", "--json", "scheduler", "status"], "scheduler"],
    [["--help"], undefined],
    [["--version"], undefined],
    [[], undefined],
    [["rpeo", "sync"], undefined],
    [["constructor"], undefined],
  ])("%j -> %s", (args, noun) => {
    expect(requestedNoun(args)).toBe(noun);
  });
});

describe("the chantal-run executable", () => {
  it("runs through its shebang with NODE_FLAGS, a heap limit below V8's 2 GB threshold for a 4x growing factor", () => {
    const shebang = readFileSync(join(ROOT, "bin/chantal-run.js"), "utf8").split("\n", 1)[0]!;
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(" ")}`);
    const limit = Number(/--max-old-space-size=(\d+)/.exec(shebang)?.[1]);
    expect(limit).toBeGreaterThanOrEqual(1024);
    expect(limit).toBeLessThan(2048);
    const r = spawnSync(join(ROOT, "bin/chantal-run.js"), ["--version"], { encoding: "utf8", env: { ...process.env, CHANTAL_FROM_SOURCE: "1" } });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
