// `chantal-run publish remove`: unpublish one tree of a repository: latest, or --snapshot N (the database is not changed; publish repo / publish snapshot bring it back).
import type { Command } from "commander";
import { unpublishOne } from "../../core/lifecycle/remove.js";
import { action } from "../context.js";
import { repoIdArgument } from "../repo-id.js";

export function register(publish: Command): void {
  repoIdArgument(
    publish
      .command("remove")
      .description("unpublish one tree of a repository: latest, or --snapshot N (the database is not changed; publish repo / publish snapshot bring it back)"),
    "repository (configured, or removed with --keep-snapshots)",
    { required: true },
  )
    .option("--snapshot <name>", "unpublish this snapshot instead of latest")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId: string; snapshot?: string }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const name = await unpublishOne(
          { repoId: opts.repoId, ...(opts.snapshot !== undefined ? { snapshot: opts.snapshot } : {}) },
          { loaded, database, signal: ctx.signal },
        );
        process.stdout.write(`unpublished ${name} of ${opts.repoId}\n`);
      }),
    );
}
