// `chantal-run cloud status`: what the Fargate tasks did in the last hours, per repository, from the database they record into.
import { InvalidArgumentError, type Command } from "commander";
import { fleetStatus } from "../../core/cloud/status.js";
import { recentRuns } from "../../core/db/sync-runs.js";
import { ExitCode } from "../../core/errors.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";

/** A task that runs longer than this without recording its end was stopped (Fargate has no time limit; ours take minutes). */
const STUCK_AFTER_MS = 6 * 3600_000;
const MAX_RUNS = 100_000;

function hours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 24 * 90) throw new InvalidArgumentError("expected a number of hours, above 0 and at most 2160 (90 days)");
  return n;
}

export function register(cloud: Command): void {
  cloud
    .command("status")
    .description("the cloud tasks' sync runs of the last hours, per repository: last run, last success, failures (from the database)")
    .option("--hours <n>", "how far back", hours, 24)
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { hours: number; json?: boolean }) => {
        const database = await ctx.openDatabase();
        const now = new Date();
        const runs = await recentRuns(database.pool, { trigger: "cloud", since: new Date(now.getTime() - opts.hours * 3600_000), limit: MAX_RUNS });
        const fleet = fleetStatus(runs, now, STUCK_AFTER_MS);
        const failing = fleet.repositories.filter((r) => r.lastRun.status === "failed" || r.lastRun.status === "interrupted" || r.stuck);
        if (opts.json) {
          printJson({ hours: opts.hours, runs: fleet.total, by_status: fleet.byStatus, failing: failing.length, repositories: fleet.repositories });
          return failing.length > 0 ? ExitCode.failed : ExitCode.ok;
        }
        const counts = Object.entries(fleet.byStatus)
          .map(([s, n]) => `${n} ${s}`)
          .join(", ");
        process.stdout.write(
          `cloud task runs in the last ${opts.hours} h: ${fleet.total}${counts ? ` (${counts})` : ""}; ${fleet.repositories.length} repositories, ${failing.length} failing\n`,
        );
        if (fleet.total === 0) {
          process.stdout.write("no task recorded a run: are the schedules deployed (scheduler list --cloud) and does the task reach this database?\n");
          return ExitCode.ok;
        }
        const times = new LocalTimes();
        printTable(
          fleet.repositories.map((r) => ({
            repository: r.repoId,
            last: times.format(r.lastRun.startedAt),
            status: r.stuck ? "running (stuck?)" : r.lastRun.status,
            success: r.lastSuccess ? times.format(r.lastSuccess) : "-",
            runs: r.runs,
            failures: r.failures,
            host: r.lastRun.host,
            error: r.lastError ?? "",
          })),
          [
            { key: "repository", title: "REPOSITORY" },
            { key: "last", title: "LAST RUN" },
            { key: "status", title: "STATUS" },
            { key: "success", title: "LAST SUCCESS" },
            { key: "runs", title: "RUNS" },
            { key: "failures", title: "FAILED" },
            { key: "host", title: "TASK HOST" },
            { key: "error", title: "ERROR" },
          ],
        );
        times.printNote();
        // Non-zero when a repository's newest run failed: usable as a check from cron or monitoring.
        return failing.length > 0 ? ExitCode.failed : ExitCode.ok;
      }),
    );
}
