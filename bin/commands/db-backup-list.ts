// `chantal-run db backup-list`: list the backups in a directory or S3 prefix, newest first; an unreadable archive is listed as invalid.
import type { Command } from "commander";
import { formatBytes, optionalConfig } from "../../core/backup/format.js";
import { backupListingJson, listBackups } from "../../core/backup/list.js";
import { defaultTarget, openStore } from "../../core/backup/store.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";

export function register(db: Command): void {
  db.command("backup-list")
    .description("list the backups in a directory or S3 prefix, newest first; an unreadable archive is listed as invalid")
    .option("--target <dir|s3-url>", "a directory or s3://bucket/prefix (default backup.target, else backup.dir)")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { target?: string; json?: boolean }) => {
        const config = await optionalConfig(ctx.loadConfig);
        const store = openStore(defaultTarget(config, opts.target), config);
        try {
          const list = await listBackups(store, ctx.signal);
          if (opts.json) {
            return printJson(list.map(backupListingJson));
          }
          if (list.length === 0) {
            process.stdout.write(`no backups in ${store.describe()}\n`);
            return;
          }
          process.stdout.write(`${store.describe()}\n`);
          const times = new LocalTimes();
          printTable(
            list.map((b) => ({
              file: b.name,
              date: times.format(b.createdAt),
              size: formatBytes(b.size),
              packages: b.manifest?.packages_count ?? null,
              version: b.manifest?.database_version ?? null,
              status: b.valid ? (b.manifest?.encryption ? "ok (encrypted)" : "ok") : `INVALID: ${b.error}`,
            })),
            [
              { key: "file", title: "FILE" },
              { key: "date", title: "DATE" },
              { key: "size", title: "SIZE" },
              { key: "packages", title: "PACKAGES" },
              { key: "version", title: "DB VERSION" },
              { key: "status", title: "STATUS" },
            ],
          );
          times.printNote();
        } finally {
          store.close();
        }
      }),
    );
}
