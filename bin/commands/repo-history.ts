import type { Command } from "commander";
import { recentRuns } from "../../core/db/sync-runs.js";
import { action } from "../context.js";
import { printJson, printTable } from "../output.js";

export function register(repo: Command): void {
  repo
    .command("history")
    .description("recent sync runs (from sync_runs)")
    .option("--repo-id <id>", "only this repository")
    .option("--limit <n>", "how many runs", "20")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { repoId?: string; limit: string; json?: boolean }) => {
        const database = await ctx.openDatabase();
        const runs = await recentRuns(database.pool, { ...(opts.repoId ? { repoId: opts.repoId } : {}), limit: Number(opts.limit) || 20 });
        if (opts.json) return printJson(runs);
        printTable(
          runs.map((r) => ({
            id: r.id,
            repository: r.repoId,
            started: r.startedAt.toISOString(),
            seconds: r.finishedAt ? ((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000).toFixed(1) : "-",
            trigger: r.trigger,
            status: r.status,
            packages: r.packagesTotal,
            downloaded: r.packagesDownloaded,
            added: r.packagesAdded,
            removed: r.packagesRemoved,
            host: `${r.host}:${r.pid}`,
            error: r.error ?? "",
          })),
          ["id", "repository", "started", "seconds", "trigger", "status", "packages", "downloaded", "added", "removed", "host", "error"].map((k) => ({ key: k, title: k.toUpperCase() })),
        );
      }),
    );
}
