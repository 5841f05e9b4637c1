// Help conventions: `help a b` rewriting, and an Examples entry for every command the CLI registers.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { EXAMPLES, commandPath, helpAsFlag } from "../../../bin/help.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const node = ["node", "chantal-run"];

describe("helpAsFlag", () => {
  it.each([
    [
      ["help", "repo", "sync"],
      ["repo", "sync", "--help"],
    ],
    [
      ["-c", "/etc/x", "help", "repo", "sync"],
      ["-c", "/etc/x", "repo", "sync", "--help"],
    ],
    [
      ["--config-dir", "help", "help", "repo"],
      ["--config-dir", "help", "repo", "--help"],
    ],
    [["help"], ["help"]],
    [
      ["repo", "sync", "help"],
      ["repo", "sync", "help"],
    ],
    [
      ["repo", "sync", "x"],
      ["repo", "sync", "x"],
    ],
    [[], []],
  ])("%j -> %j", (args, expected) => expect(helpAsFlag([...node, ...args])).toEqual([...node, ...expected]));
});

describe("EXAMPLES", () => {
  it("has an entry for every command in bin/commands, and none for a command that does not exist", async () => {
    const program = new Command("chantal-run");
    const dir = join(ROOT, "bin", "commands");
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const noun = f.split("-")[0]!.replace(/\.ts$/, "");
      const group = program.commands.find((c) => c.name() === noun) ?? program.command(noun);
      ((await import(pathToFileURL(join(dir, f)).href)) as { register(c: Command): void }).register(group);
    }
    // A noun with its own action (bin/commands/<noun>.ts, as promote) is a command with examples too.
    const ownActions = readdirSync(dir)
      .filter((f) => f.endsWith(".ts") && !f.includes("-"))
      .map((f) => f.replace(/\.ts$/, ""));
    const leaves = [...ownActions, ...program.commands.flatMap((g) => g.commands.map(commandPath))].sort();
    expect(leaves.length).toBeGreaterThan(25);
    expect(Object.keys(EXAMPLES).sort()).toEqual(leaves);
  });
});
