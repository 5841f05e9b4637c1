// `chantal-run db status`: show the database, its schema version and any pending migrations.
import type { Command } from "commander";
import { describeDatabaseUrl } from "../../core/db/client.js";
import { migrationStatus } from "../../core/db/migrate.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

export function register(db: Command): void {
  db.command("status")
    .description("show the database, its schema version and any pending migrations")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { json?: boolean }) => {
        const database = await ctx.openDatabase({ migrate: false });
        const s = await migrationStatus(database.pool);
        const result = {
          database: describeDatabaseUrl(database.url),
          source: database.source,
          schema_version: s.current,
          applied: s.applied.map((a) => a.id),
          pending: s.pending,
          unknown: s.unknown,
        };
        if (opts.json) return printJson(result);
        const lines = [
          `database:        ${result.database} (${result.source})`,
          `schema version:  ${s.current ?? "(empty: no migration applied)"}`,
          `pending:         ${s.pending.length ? s.pending.join(", ") : "none"}`,
        ];
        if (s.unknown.length) lines.push(`newer than this Chantal: ${s.unknown.join(", ")}`);
        process.stdout.write(lines.join("\n") + "\n");
      }),
    );
}
