// `chantal-run metrics write --textfile DIR`: the daemon's /metrics once, as DIR/chantal.prom for node_exporter's textfile collector.
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { defaultTarget, openStore } from "../../core/backup/store.js";
import { metricsText } from "../../core/metrics/registry.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { action } from "../context.js";

export const TEXTFILE_NAME = "chantal.prom";

export function register(metrics: Command): void {
  metrics
    .command("write")
    .description("write the metrics the daemon serves at /metrics to DIR/chantal.prom (temp file and rename), for node_exporter's textfile collector")
    .requiredOption("--textfile <dir>", "the textfile collector's directory (node_exporter --collector.textfile.directory)")
    .action(
      action(async (ctx, opts: { textfile: string }) => {
        const { config } = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const text = await metricsText({
          db: database.pool,
          blobs: blobStoreOf(config),
          config,
          now: () => new Date(),
          backups: () => openStore(defaultTarget(config), config),
          warn: (m) => ctx.log.warn(m),
        });
        await mkdir(opts.textfile, { recursive: true });
        const final = join(opts.textfile, TEXTFILE_NAME);
        // node_exporter skips names not ending in .prom: the temp file is never read half-written.
        const temp = join(opts.textfile, `.${TEXTFILE_NAME}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
        try {
          await writeFile(temp, text, { mode: 0o644 });
          await rename(temp, final);
        } catch (err) {
          await rm(temp, { force: true });
          throw err;
        }
        ctx.log.info({ file: final }, "metrics written");
      }),
    );
}
