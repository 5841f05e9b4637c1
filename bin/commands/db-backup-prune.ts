// `chantal-run db backup-prune`: apply backup.retention (keep_last, keep_daily, keep_weekly, keep_monthly) to a directory or S3 prefix.
import type { Command } from "commander";
import { timeZoneOf } from "../../core/backup/create.js";
import { pruneBackups } from "../../core/backup/prune.js";
import { defaultTarget, openStore } from "../../core/backup/store.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";

export function register(db: Command): void {
  db.command("backup-prune")
    .description("apply backup.retention (keep_last, keep_daily, keep_weekly, keep_monthly) to a directory or S3 prefix")
    .option("--target <dir|s3-url>", "a directory or s3://bucket/prefix (default backup.target, else backup.dir)")
    .option("--dry-run", "show what would be deleted, delete nothing")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { target?: string; dryRun?: boolean; json?: boolean }) => {
        const { config } = await ctx.loadConfig();
        const policy = config.backup.retention;
        if (!policy) {
          process.stderr.write("no backup.retention in the configuration: nothing pruned\n");
          return;
        }
        const store = openStore(defaultTarget(config, opts.target), config);
        try {
          const r = await pruneBackups(store, policy, { dryRun: opts.dryRun ?? false, signal: ctx.signal, log: ctx.log, ...timeZoneOf(config) });
          if (opts.json) return printJson(r);
          process.stdout.write(`${r.target}${r.dryRun ? " (dry run: nothing deleted)" : ""}\n`);
          const times = new LocalTimes();
          printTable(
            r.decisions.map((d) => ({
              file: d.name,
              date: times.format(d.createdAt),
              action: d.keep ? "keep" : r.dryRun ? "would delete" : "deleted",
              why: d.reasons.join(", "),
            })),
            [
              { key: "file", title: "FILE" },
              { key: "date", title: "DATE" },
              { key: "action", title: "ACTION" },
              { key: "why", title: "WHY" },
            ],
          );
          times.printNote();
        } finally {
          store.close();
        }
      }),
    );
}
