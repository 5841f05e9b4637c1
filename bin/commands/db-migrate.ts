// `chantal-run db migrate`: apply pending migrations (every command also does this at start).
import type { Command } from "commander";
import { migrate } from "../../core/db/migrate.js";
import { action } from "../context.js";

export function register(db: Command): void {
  db.command("migrate")
    .description("apply pending migrations (every command also does this at start)")
    .action(
      action(async (ctx) => {
        const database = await ctx.openDatabase({ migrate: false });
        const applied = await migrate(database.pool);
        process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "schema is up to date\n");
      }),
    );
}
