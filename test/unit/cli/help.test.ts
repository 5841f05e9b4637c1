// Help conventions: `help a b` rewriting, and an Examples entry for every command the CLI registers.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { EXAMPLES, applyHelpConventions, commandPath, helpAsFlag } from "../../../bin/help.js";

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

/** Every verb of bin/commands registered as bin/main.ts does, under a program with two global options. */
async function allVerbs(): Promise<Command> {
  const program = new Command("chantal-run")
    .option("-c, --config-dir <dir>", "configuration directory")
    .option("-v, --verbose", "debug logging")
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  const dir = join(ROOT, "bin", "commands");
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const noun = f.split("-")[0]!.replace(/\.ts$/, "");
    const group = program.commands.find((c) => c.name() === noun) ?? program.command(noun);
    ((await import(pathToFileURL(join(dir, f)).href)) as { register(c: Command): void }).register(group);
  }
  applyHelpConventions(program);
  return program;
}

/** The option terms of one section ("Options:", "Global Options:") of a help text. */
function section(help: string, title: string): string[] {
  const lines = help.split("\n");
  const start = lines.indexOf(title);
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith(" ")) break;
    const term = /^ {2}(-[^\s,]+(?:, --\S+)?)/.exec(l);
    if (term) out.push(term[1]!);
  }
  return out;
}

describe("verb help", () => {
  it("lists the verb's own options and the program's as global ones, never a noun's (promote's --group, --snapshot, --to)", async () => {
    const program = await allVerbs();
    const leaves = program.commands.flatMap((g) => g.commands);
    expect(leaves.length).toBeGreaterThan(25);
    for (const verb of leaves) {
      const help = verb.helpInformation();
      expect(section(help, "Global Options:"), commandPath(verb)).toEqual(["-c, --config-dir", "-v, --verbose"]);
    }
    const history = leaves.find((c) => commandPath(c) === "promote history")!;
    expect(section(history.helpInformation(), "Options:")).toEqual(["--group", "--env", "--limit", "--json", "-h, --help"]);
    const rollback = leaves.find((c) => commandPath(c) === "promote rollback")!;
    expect(section(rollback.helpInformation(), "Options:")).toEqual(["--group", "--env", "--note", "--json", "-h, --help"]);
  });

  it.each([
    [["promote", "history", "--group", "el9", "--json"], "promote history", { group: "el9", json: true, limit: 50 }],
    [["promote", "rollback", "--group", "el9", "--env", "prod"], "promote rollback", { group: "el9", env: "prod" }],
    [["promote", "--group", "el9", "--snapshot", "s1", "--to", "prod"], "promote", { group: "el9", snapshot: "s1", to: "prod" }],
  ])("%j: the options reach %s", async (args, path, expected) => {
    const program = await allVerbs();
    let seen: { path: string; opts: Record<string, unknown>; parent: Record<string, unknown> } | undefined;
    program.hook("preAction", (_root, cmd) => {
      seen = { path: commandPath(cmd), opts: cmd.opts(), parent: cmd.parent?.opts() ?? {} };
      throw new Error("stop before the action");
    });
    await expect(program.parseAsync(args, { from: "user" })).rejects.toThrow("stop before the action");
    expect(seen?.path).toBe(path);
    expect(seen?.opts).toEqual(expected);
    if (path !== "promote") expect(seen?.parent).toEqual({});
  });

  it("refuses a promote option given for a verb that does not take it, naming both", async () => {
    const program = await allVerbs();
    await expect(program.parseAsync(["promote", "--snapshot", "s1", "history"], { from: "user" })).rejects.toMatchObject({
      code: "chantal.promoteOption",
      message: "error: promote history does not take --snapshot (see promote history --help)",
    });
  });
});

describe("EXAMPLES", () => {
  it("has an entry for every command in bin/commands, and none for a command that does not exist", async () => {
    const program = await allVerbs();
    const dir = join(ROOT, "bin", "commands");
    // A noun with its own action (bin/commands/<noun>.ts, as promote) is a command with examples too.
    const ownActions = readdirSync(dir)
      .filter((f) => f.endsWith(".ts") && !f.includes("-"))
      .map((f) => f.replace(/\.ts$/, ""));
    const leaves = [...ownActions, ...program.commands.flatMap((g) => g.commands.map(commandPath))].sort();
    expect(leaves.length).toBeGreaterThan(25);
    expect(Object.keys(EXAMPLES).sort()).toEqual(leaves);
  });
});
