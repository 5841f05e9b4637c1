// `chantal-run db backup`: write a verified archive of the database (and the configuration) to a directory or S3; applies backup.retention.
import type { Command } from "commander";
import { formatBytes, formatCounts } from "../../core/backup/format.js";
import { UsageError } from "../../core/errors.js";
import { backupExitCode, backupRequestFromConfig, runBackup } from "../../functions/backup.js";
import { action } from "../context.js";
import { dataKeyed, printJson } from "../output.js";
import { jsonManifest } from "../backup-json.js";
import { maxWaitMs, notifierFor } from "../../core/notify/notifier.js";

interface BackupOptions {
  output?: string;
  target?: string;
  includeConfig?: boolean;
  compress?: boolean;
  json?: boolean;
}

export function register(db: Command): void {
  db.command("backup")
    .description("write a verified archive of the database (and the configuration) to a directory or S3; applies backup.retention")
    .option("--output <file>", "write exactly this file (no retention)")
    .option("--target <dir|s3-url>", "a directory or s3://bucket/prefix (default backup.target, else backup.dir, else <base_path>/backups)")
    .option("--include-config", "archive the configuration directory under config/ (default backup.include_config: true)")
    .option("--no-include-config", "leave the configuration out")
    .option("--compress", "gzip the dump and the archive (default backup.compress: true)")
    .option("--no-compress", "a plain .tar with an uncompressed database.sql")
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, opts: BackupOptions) => {
        if (opts.output && opts.target) throw new UsageError("give --output FILE or --target DIR|s3://bucket/prefix, not both");
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const req = backupRequestFromConfig(loaded.config, {
          ...(opts.output ? { output: opts.output } : {}),
          ...(opts.target ? { target: opts.target } : {}),
          ...(opts.includeConfig !== undefined ? { includeConfig: opts.includeConfig } : {}),
          ...(opts.compress !== undefined ? { compress: opts.compress } : {}),
        });
        const notifier = notifierFor(loaded.config, { log: ctx.log, configDir: loaded.dir });
        const result = await runBackup(
          req,
          { config: loaded.config, configDir: loaded.dir, databaseUrl: database.url, log: ctx.log, signal: ctx.signal, now: () => new Date() },
          { notifier },
        ).finally(() => notifier?.settle(maxWaitMs(loaded.config), ctx.signal));
        const signalName = ctx.signal.aborted ? ((ctx.signal.reason as { signalName?: NodeJS.Signals }).signalName ?? "SIGTERM") : undefined;
        if (opts.json) {
          const { outcome, ...plain } = result;
          const counts = plain.counts ? { ...plain.counts, tables: dataKeyed({ ...plain.counts.tables }) } : null;
          printJson({
            ...plain,
            counts,
            manifest: outcome ? jsonManifest(outcome.manifest) : undefined,
            retention: outcome?.prune?.decisions.map((d) => ({ name: d.name, keep: d.keep, reasons: d.reasons })),
          });
          return backupExitCode(result, signalName);
        }
        if (result.status !== "success") {
          process.stderr.write(`error: backup ${result.status}: ${result.error ?? ""}\n`);
          return backupExitCode(result, signalName);
        }
        const lines = [
          `backup: ${result.location}`,
          `size: ${formatBytes(result.size)} (${result.size} bytes)`,
          `contents: ${formatCounts(result.counts)}${result.outcome?.manifest.includes_config ? `, ${result.outcome.manifest.config_files.length} config files` : ""}`,
        ];
        if (result.outcome?.prune) {
          const kept = result.outcome.prune.decisions.filter((d) => d.keep).length;
          lines.push(`retention: kept ${kept}, deleted ${result.pruned.length}${result.pruned.length ? ` (${result.pruned.join(", ")})` : ""}`);
        }
        process.stdout.write(lines.join("\n") + "\n");
        if (result.pruneError) process.stderr.write(`warning: retention failed: ${result.pruneError}\n`);
        return backupExitCode(result, signalName);
      }),
    );
}
