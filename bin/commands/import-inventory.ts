// `chantal-run import inventory`: have.json, every blob this installation holds (packages and metadata files), for `export create --have` on the other side.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { instanceId } from "../../core/db/instance.js";
import { INVENTORY_FORMAT, serializeInventory } from "../../core/transfer/inventory.js";
import { action } from "../context.js";

export function register(noun: Command): void {
  noun
    .command("inventory")
    .description("write have.json: every blob sha256 this installation's database records, for export create --have on the connected side")
    .option("--output <file>", "write to FILE (default: standard output)")
    .action(
      action(async (ctx, opts: { output?: string }) => {
        const database = await ctx.openDatabase();
        const r = await database.pool.query(`SELECT sha256 FROM chantal.packages UNION SELECT sha256 FROM chantal.metadata_files`);
        const bytes = serializeInventory({
          format: INVENTORY_FORMAT,
          instance_id: await instanceId(database.pool),
          created_at: new Date().toISOString(),
          blobs: r.rows.map((row) => (row.sha256 as string).trim()),
        });
        if (opts.output === undefined) process.stdout.write(bytes);
        else {
          await writeFile(opts.output, bytes);
          process.stderr.write(`wrote ${opts.output}: ${r.rows.length} blobs\n`);
        }
      }),
    );
}
