// `chantal-run repo history`: recent sync runs (from sync_runs).
import { InvalidArgumentError, type Command } from "commander";
import { recentRuns } from "../../core/db/sync-runs.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";
import { checkKnownRepositoryId, repoIdArgument, wholeNumber } from "../repo-id.js";

function positiveLimit(value: string): number {
  const n = wholeNumber(value);
  if (n === 0) throw new InvalidArgumentError("expected a whole number ≥ 1");
  return n;
}

export function register(repo: Command): void {
  repoIdArgument(repo.command("history").description("recent sync runs (from sync_runs)"), "only this repository")
    .option("--limit <n>", "how many runs (a whole number ≥ 1)", positiveLimit, 20)
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId?: string; limit: number; json?: boolean }) => {
        const database = await ctx.openDatabase();
        if (opts.repoId) await checkKnownRepositoryId(await ctx.loadConfig(), database, opts.repoId);
        const runs = await recentRuns(database.pool, { ...(opts.repoId ? { repoId: opts.repoId } : {}), limit: opts.limit });
        if (opts.json) return printJson(runs);
        const times = new LocalTimes();
        printTable(
          runs.map((r) => ({
            id: r.id,
            repository: r.repoId,
            started: times.format(r.startedAt),
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
          ["id", "repository", "started", "seconds", "trigger", "status", "packages", "downloaded", "added", "removed", "host", "error"].map((k) => ({
            key: k,
            title: k.toUpperCase(),
          })),
        );
        times.printNote();
      }),
    );
}
