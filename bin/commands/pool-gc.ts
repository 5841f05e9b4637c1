// `chantal-run pool gc`: delete the blobs nothing references (no current set, snapshot or environment), stale pool temp files and unlinked published trees.
import type { Command } from "commander";
import { DEFAULT_PROTECT_MINUTES, runPoolGc } from "../../core/lifecycle/gc.js";
import { ExitCode } from "../../core/errors.js";
import { action } from "../context.js";
import { formatBytes, printJson } from "../output.js";
import { wholeNumber } from "../repo-id.js";

export function register(pool: Command): void {
  pool
    .command("gc")
    .description(
      "delete blobs that no repository's current set, snapshot or environment references, pool temp files older than the protection time, and published trees no link points to",
    )
    .option("--dry-run", "count what would be deleted; delete nothing")
    .option("--protect-minutes <n>", `keep orphans and temp files modified in the last N minutes (default ${DEFAULT_PROTECT_MINUTES})`, wholeNumber)
    .option("--wait-seconds <n>", "wait up to N seconds for running syncs, backups and removals to finish (default 0: fail at once, exit 75)", wholeNumber)
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, opts: { dryRun?: boolean; protectMinutes?: number; waitSeconds?: number; json?: boolean }) => {
        const { config } = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const r = await runPoolGc(
          {
            dryRun: opts.dryRun ?? false,
            ...(opts.protectMinutes !== undefined ? { protectMinutes: opts.protectMinutes } : {}),
            ...(opts.waitSeconds !== undefined ? { waitSeconds: opts.waitSeconds } : {}),
          },
          { config, database, signal: ctx.signal },
        );
        if (opts.json) {
          printJson(r);
          return ExitCode.ok;
        }
        const verb = r.dryRun ? "would delete" : "deleted";
        const lines = [
          `scanned ${r.scanned.blobs} blobs (${formatBytes(r.scanned.bytes)}) in ${r.location}`,
          `${verb} ${r.freed.blobs} unreferenced blobs (${formatBytes(r.freed.bytes)}), ${r.rows.packages} package and ${r.rows.metadata} metadata rows, ${r.tempFiles} temp files, ${r.trees.length} published trees`,
        ];
        if (r.protectedOrphans.blobs > 0)
          lines.push(
            `kept ${r.protectedOrphans.blobs} unreferenced blobs (${formatBytes(r.protectedOrphans.bytes)}) younger than ${r.protectMinutes} minutes (--protect-minutes)`,
          );
        process.stdout.write(lines.join("\n") + "\n");
        return ExitCode.ok;
      }),
    );
}
