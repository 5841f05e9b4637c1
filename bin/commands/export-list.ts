// `chantal-run export list`: the bundles this installation exported, newest first, with the base of each delta.
import type { Command } from "commander";
import { listExports } from "../../core/db/exports.js";
import { describeSelection } from "../../core/transfer/manifest.js";
import { action } from "../context.js";
import { formatBytes, LocalTimes, printJson, printTable } from "../output.js";

export function register(exp: Command): void {
  exp
    .command("list")
    .description("the bundles exported from here, newest first, with the base of each delta")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { json?: boolean }) => {
        const database = await ctx.openDatabase();
        const rows = await listExports(database.pool);
        if (opts.json) return printJson(rows);
        if (rows.length === 0) {
          process.stdout.write('no exports yet (see "export create --help")\n');
          return;
        }
        const times = new LocalTimes();
        printTable(
          rows.map((e) => ({
            export: e.exportId,
            created: times.format(e.createdAt),
            kind: e.kind,
            base: e.baseExportId ?? "-",
            selection: describeSelection(e.selection),
            blobs: e.blobCount,
            size: formatBytes(e.blobBytes),
            volumes: e.volumeCount,
            path: e.path,
          })),
          ["export", "created", "kind", "base", "selection", "blobs", "size", "volumes", "path"].map((k) => ({ key: k, title: k.toUpperCase() })),
        );
        times.printNote();
      }),
    );
}
