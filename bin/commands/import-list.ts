// `chantal-run import list`: the bundles that arrived here, newest first: source instance, kind, base, status (running, complete, or interrupted: killed, import it again to resume), size, when exported and imported.
import type { Command } from "commander";
import { importState, listImports } from "../../core/db/imports.js";
import { LockClass } from "../../core/db/lock-ids.js";
import { lockHolders } from "../../core/db/locks.js";
import { action } from "../context.js";
import { formatBytes, LocalTimes, printJson, printTable } from "../output.js";

export function register(noun: Command): void {
  const cmd = noun.command("list").description("the bundles imported here, newest first, with the base of each delta and whether it is complete");
  cmd.option("--json", "print as JSON").action(
    action(async (ctx, own: { json?: boolean }) => {
      // The import noun has a --json of its own, which commander gives the noun when it comes after "list".
      const opts = { ...(cmd.optsWithGlobals() as { json?: boolean }), ...own };
      const database = await ctx.openDatabase();
      // A 'running' row whose process does not hold the import lock was killed: interrupted (import it again to resume).
      const holders = await lockHolders(database.pool, LockClass.import, 0);
      const rows = (await listImports(database.pool)).map((r) => ({ ...r, status: importState(r, holders) }));
      if (opts.json) return printJson(rows);
      if (rows.length === 0) {
        process.stdout.write('no imports yet (see "import --help")\n');
        return;
      }
      const times = new LocalTimes();
      printTable(
        rows.map((r) => ({
          export: r.exportId,
          source: r.sourceInstance,
          kind: r.kind,
          base: r.baseExportId ?? "-",
          status: r.status,
          blobs: r.blobCount,
          size: formatBytes(r.blobBytes),
          exported: times.format(r.exportedAt),
          imported: times.format(r.completedAt) ?? "-",
        })),
        ["export", "source", "kind", "base", "status", "blobs", "size", "exported", "imported"].map((k) => ({ key: k, title: k.toUpperCase() })),
      );
      times.printNote();
    }),
  );
}
