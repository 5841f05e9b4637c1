// `chantal-run promote`: serve a group snapshot in an environment at <published>/<env>/<repo-id>/, in path order unless --force.
import type { Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { promote } from "../../core/environments/promote.js";
import { action } from "../context.js";
import { LocalTimes, printJson } from "../output.js";

interface PromoteOptions {
  group?: string;
  snapshot?: string;
  to?: string;
  force?: boolean;
  note?: string;
  json?: boolean;
}

/** Moves the noun's options given on the command line to the verb that runs; one the verb does not take is a usage error. */
function handOver(noun: Command, verb: Command): void {
  for (const option of noun.options) {
    const key = option.attributeName();
    if (noun.getOptionValueSource(key) !== "cli") continue;
    const own = verb.options.find((o) => o.attributeName() === key);
    if (!own) noun.error(`error: promote ${verb.name()} does not take ${option.long} (see promote ${verb.name()} --help)`, { code: "chantal.promoteOption" });
    verb.setOptionValueWithSource(key, noun.getOptionValue(key), "cli");
    noun.setOptionValueWithSource(key, undefined, "default");
  }
}

export function register(noun: Command): void {
  noun
    // commander reads the noun's options wherever they stand (positional options would need the whole program to be
    // positional, and then `repo sync -c DIR` would break): so the ones it read for a verb are handed to that verb, which
    // declares its own (`promote history --group el9`); a verb's help lists only its own and the program's (bin/help.ts).
    .hook("preSubcommand", (self, verb) => handOver(self, verb))
    .option("--group <id>", "the group (required)")
    .option("--snapshot <name>", "the group snapshot to promote (required; see snapshot list --group)")
    .option("--to <env>", "the environment (required; one of environments:)")
    .option("--force", "promote even when the environment before it in the path does not serve this snapshot")
    .option("--note <text>", "recorded with the promotion (promote history)")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: PromoteOptions) => {
        if (!opts.group || !opts.snapshot || !opts.to) throw new UsageError("promote needs --group ID, --snapshot NAME and --to ENV");
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const outcome = await promote(database, loaded.config, {
          groupId: opts.group,
          snapshotName: opts.snapshot,
          to: opts.to,
          ...(opts.force ? { force: true } : {}),
          ...(opts.note !== undefined ? { note: opts.note } : {}),
          signal: ctx.signal,
        });
        if (opts.json) return printJson(outcome);
        if (!outcome.promotion) {
          process.stdout.write(`${opts.to} already serves snapshot ${opts.snapshot} of group ${opts.group}: nothing switched\n`);
          return;
        }
        const p = outcome.promotion;
        const times = new LocalTimes();
        const lines = [
          `promoted snapshot ${p.snapshotName} of group ${p.groupId} to ${p.environment} at ${times.format(p.promotedAt)}${p.forced ? " (forced)" : ""}: ${outcome.path}`,
          ...p.members.map((m) => `  ${m.repoId}: ${m.snapshotName}${outcome.published.includes(m.repoId) ? " (published now)" : ""}`),
        ];
        process.stdout.write(lines.join("\n") + "\n");
        times.printNote();
      }),
    );
}
