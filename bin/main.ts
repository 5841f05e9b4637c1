// chantal-run: parse argv and hand over to a command. Each verb is one file, bin/commands/<noun>-<verb>.ts,
// exporting register(nounCommand) (bin/commands/<noun>.ts: the noun's own action, as promote); this file finds them, so adding a verb never edits it.
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";
import { chantalVersion } from "../core/package-info.js";
import { ExitCode } from "../core/errors.js";
import { LOG_LEVELS } from "../core/log.js";
import { installInterruptHandlers } from "../core/runtime/signals.js";
import { NOUNS, requestedNoun } from "./nouns.js";
import { applyHelpConventions, helpAsFlag } from "./help.js";

interface CommandModule {
  register(noun: Command): void;
}

/** Only the requested noun's verbs are imported: a sync does not pay the memory of the cloud and backup code. */
async function commandModules(noun: string | undefined): Promise<{ noun: string; module: CommandModule }[]> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "commands");
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(ext) && !f.endsWith(".d.ts") && (noun === undefined || f.startsWith(`${noun}-`) || f === `${noun}${ext}`))
    .sort();
  return Promise.all(
    files.map(async (f) => ({ noun: f.split("-")[0]!.replace(ext, ""), module: (await import(pathToFileURL(join(dir, f)).href)) as CommandModule })),
  );
}

/** The CLI with the verbs of `noun` (all of them when undefined). */
export async function buildProgram(noun?: string): Promise<Command> {
  const program = new Command("chantal-run")
    .description("Chantal: offline mirrors of RPM and APT repositories")
    .version(chantalVersion)
    .option("-c, --config-dir <dir>", "configuration directory (default $CHANTAL_CONFIG_DIR, else /etc/chantal)")
    .option("-v, --verbose", "debug logging (same as --log-level debug)")
    .option("-q, --quiet", "errors only: no progress bar, no info or warning lines (same as --log-level error)")
    .option("--log-level <level>", `log level: ${LOG_LEVELS.join(", ")} (default $CHANTAL_LOG_LEVEL, else info)`)
    .addHelpText(
      "after",
      "\nEnvironment:\n  CHANTAL_CONFIG_DIR  configuration directory (default /etc/chantal)\n  CHANTAL_LOG_LEVEL   log level when neither --log-level, --quiet nor --verbose is given (default info)\n",
    )
    .showHelpAfterError()
    .exitOverride();
  const modules = await commandModules(noun);
  for (const [noun, description] of Object.entries(NOUNS)) {
    const mine = modules.filter((m) => m.noun === noun);
    if (mine.length === 0) continue;
    const group = program.command(noun).description(description);
    for (const m of mine) m.module.register(group);
  }
  applyHelpConventions(program);
  return program;
}

installInterruptHandlers(); // before the command modules load: they take a while
try {
  const argv = helpAsFlag(process.argv); // `help repo sync` shows the sync help
  await (await buildProgram(requestedNoun(argv.slice(2)))).parseAsync(argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    throw err;
  }
}
