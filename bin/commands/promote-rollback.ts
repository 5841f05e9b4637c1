// `chantal-run promote rollback`: return a group in an environment to the snapshot it served before, in one switch.
import type { Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { rollback } from "../../core/environments/promote.js";
import { action } from "../context.js";
import { LocalTimes, printJson } from "../output.js";

export function register(noun: Command): void {
  const cmd = noun.command("rollback").description("return a group in an environment to the snapshot it served before, in one switch");
  cmd
    .option("--group <id>", "the group (required)")
    .option("--env <env>", "the environment (required)")
    .option("--note <text>", "recorded with the rollback (promote history)")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { group?: string; env?: string; note?: string; json?: boolean }) => {
        if (!opts.group || !opts.env) throw new UsageError("promote rollback needs --group ID and --env ENV");
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const outcome = await rollback(database, loaded.config, {
          groupId: opts.group,
          environment: opts.env,
          ...(opts.note !== undefined ? { note: opts.note } : {}),
          signal: ctx.signal,
        });
        if (opts.json) return printJson(outcome);
        const p = outcome.promotion!;
        const times = new LocalTimes();
        process.stdout.write(
          [
            `rolled back group ${p.groupId} in ${p.environment} to snapshot ${p.snapshotName} at ${times.format(p.promotedAt)}: ${outcome.path}`,
            ...p.members.map((m) => `  ${m.repoId}: ${m.snapshotName}`),
          ].join("\n") + "\n",
        );
        times.printNote();
      }),
    );
}
