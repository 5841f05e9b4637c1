import type { Command } from "commander";
import { listSnapshots } from "../../core/snapshots/snapshots.js";
import { action } from "../context.js";
import { printJson, printTable } from "../output.js";

export function register(snapshot: Command): void {
  snapshot
    .command("list")
    .description("list snapshots, newest first")
    .option("--repo-id <id>", "only this repository")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { repoId?: string; json?: boolean }) => {
        const database = await ctx.openDatabase();
        const rows = await listSnapshots(database.pool, opts.repoId);
        if (opts.json) return printJson(rows);
        printTable(
          rows.map((s) => ({ repository: s.repoId, name: s.name, packages: s.packageCount, mb: (s.totalSize / 1_048_576).toFixed(1), created: s.createdAt.toISOString(), published: s.publishedAt?.toISOString() ?? "no" })),
          ["repository", "name", "packages", "mb", "created", "published"].map((k) => ({ key: k, title: k.toUpperCase() })),
        );
      }),
    );
}
