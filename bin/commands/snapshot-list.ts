// `chantal-run snapshot list`: list snapshots, newest first.
import type { Command } from "commander";
import { listSnapshots } from "../../core/snapshots/snapshots.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";
import { checkKnownRepositoryId, repoIdArgument } from "../repo-id.js";

export function register(snapshot: Command): void {
  repoIdArgument(snapshot.command("list").description("list snapshots, newest first"), "only this repository")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId?: string; json?: boolean }) => {
        const database = await ctx.openDatabase();
        if (opts.repoId) await checkKnownRepositoryId(await ctx.loadConfig(), database, opts.repoId);
        const rows = await listSnapshots(database.pool, opts.repoId);
        if (opts.json) return printJson(rows);
        const times = new LocalTimes();
        printTable(
          rows.map((s) => ({
            repository: s.repoId,
            name: s.name,
            packages: s.packageCount,
            mb: (s.totalSize / 1_048_576).toFixed(1),
            created: times.format(s.createdAt),
            published: times.format(s.publishedAt) ?? "no",
          })),
          ["repository", "name", "packages", "mb", "created", "published"].map((k) => ({ key: k, title: k.toUpperCase() })),
        );
        times.printNote();
      }),
    );
}
