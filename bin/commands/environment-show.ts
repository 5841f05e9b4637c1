// `chantal-run environment show`: what a group serves in an environment, and the client configuration of each member at its stable URL.
import type { Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { environmentClientConfigs } from "../../core/environments/client-snippets.js";
import { formatClientConfig } from "../../core/publish/client-config.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

export function register(environment: Command): void {
  environment
    .command("show")
    .description("what a group serves in an environment, and each member's client configuration (.repo stanza, sources.list) at its stable URL")
    .option("--env <env>", "the environment (required)")
    .option("--group <id>", "the group (required)")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { env?: string; group?: string; json?: boolean }) => {
        if (!opts.env || !opts.group) throw new UsageError("environment show needs --env ENV and --group ID");
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const shown = await environmentClientConfigs(database.pool, loaded.config, opts.group, opts.env);
        if (opts.json) return printJson({ environment: opts.env, group: opts.group, ...shown });
        const parts = [`${opts.env} serves snapshot ${shown.snapshotName} of group ${opts.group}\n`];
        for (const m of shown.members) parts.push(`\n## ${m.repoId} (snapshot ${m.snapshotName}): ${m.client.path}\n${formatClientConfig(m.client)}`);
        process.stdout.write(parts.join(""));
      }),
    );
}
