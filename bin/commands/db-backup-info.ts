// `chantal-run db backup-info`: show a backup's manifest (reads only its first member; use backup-verify to check the contents).
import type { Command } from "commander";
import { formatBytes, optionalConfig } from "../../core/backup/format.js";
import { readBackupManifest } from "../../core/backup/list.js";
import { migrationsAfter } from "../../core/backup/restore.js";
import { locateBackup } from "../../core/backup/store.js";
import { readMigrations } from "../../core/db/migrate.js";
import { errorMessage } from "../../core/errors.js";
import { action } from "../context.js";
import { jsonManifest } from "../backup-json.js";
import { LocalTimes, printJson } from "../output.js";

export function register(db: Command): void {
  db.command("backup-info")
    .description("show a backup's manifest (reads only its first member; use backup-verify to check the contents)")
    .argument("<file-or-url>", "a backup file or s3://bucket/prefix/name")
    .option("--json", "print the manifest as JSON")
    .action(
      action(async (ctx, fileOrUrl: string, opts: { json?: boolean }) => {
        const config = await optionalConfig(ctx.loadConfig);
        const { store, name } = locateBackup(fileOrUrl, config);
        try {
          const m = await readBackupManifest(store, name, ctx.signal);
          const size = await store.size(name);
          let restorable: string;
          try {
            const pending = migrationsAfter(m, await readMigrations());
            restorable = pending.length ? `yes, then migrated forward (${pending.join(", ")})` : "yes";
          } catch (err) {
            restorable = `no: ${errorMessage(err)}`;
          }
          if (opts.json) return printJson({ location: store.describe(name), size, restorable, manifest: jsonManifest(m) });
          const times = new LocalTimes();
          const lines = [
            `backup:            ${store.describe(name)} (${formatBytes(size)})`,
            `created:           ${times.format(new Date(m.created_at))} on ${m.hostname}`,
            `chantal version:   ${m.chantal_version} (backup format ${m.backup_version})`,
            `schema version:    ${m.database_version}`,
            `restorable here:   ${restorable}`,
            `contents:          ${m.repositories_count} repositories, ${m.packages_count} packages, ${m.snapshots_count} snapshots`,
            `tables:            ${Object.entries(m.tables)
              .map(([t, n]) => `${t} ${n}`)
              .join(", ")}`,
            `database file:     ${m.database_file} (${formatBytes(m.database_size_bytes)}, ${m.compression})`,
            `encryption:        ${m.encryption ? `OpenPGP, to ${m.encryption.recipients.join(", ")} (${m.encryption.payload}, ${formatBytes(m.encryption.payload_size)})` : "none"}`,
            `configuration:     ${m.includes_config ? `${m.config_files.length} files from ${m.config_dir ?? "?"}` : "not included"}`,
            ...m.config_files.map((f) => `  config/${f}`),
            times.note(),
          ];
          process.stdout.write(lines.join("\n") + "\n");
        } finally {
          store.close();
        }
      }),
    );
}
