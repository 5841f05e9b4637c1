// `chantal-run config validate`: check config.yaml and conf.d/*.yaml; exit 0 when valid, 78 with every problem otherwise.
import type { Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { loadCloudConfig } from "../../core/cloud/cloud-config.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

export function register(config: Command): void {
  config
    .command("validate")
    .description("check config.yaml and conf.d/*.yaml; exit 0 when valid, 78 with every problem otherwise")
    .option("--json", "print the result as JSON")
    .option("--target <target>", 'also check that every schedule can run there: "aws" (EventBridge Scheduler)')
    .action(
      action(async (ctx, opts: { json?: boolean; target?: string }) => {
        if (opts.target !== undefined && opts.target !== "aws") throw new UsageError(`unknown --target "${opts.target}" (known: aws)`);
        // For AWS, also every schedule must be representable; variables that only the task has may be unset here.
        const loaded = opts.target === "aws" ? (await loadCloudConfig(ctx.configDir, process.env)).loaded : await ctx.loadConfig();
        const repos = loaded.config.repositories;
        const summary = {
          valid: true,
          config_dir: loaded.dir,
          files: loaded.files,
          repositories: repos.length,
          scheduled: repos.filter((r) => r.enabled && r.schedule?.enabled).length,
        };
        if (opts.json) printJson(summary);
        else
          process.stdout.write(
            `configuration is valid: ${loaded.files.length} file(s), ${summary.repositories} repositories (${summary.scheduled} scheduled) in ${loaded.dir}\n`,
          );
      }),
    );
}
