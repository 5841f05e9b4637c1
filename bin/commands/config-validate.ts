import type { Command } from "commander";
import { action } from "../context.js";

export function register(config: Command): void {
  config
    .command("validate")
    .description("check config.yaml and conf.d/*.yaml; exit 0 when valid, 78 with every problem otherwise")
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, opts: { json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const repos = loaded.config.repositories;
        const summary = { valid: true, config_dir: loaded.dir, files: loaded.files, repositories: repos.length, scheduled: repos.filter((r) => r.schedule?.enabled).length };
        if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
        else process.stdout.write(`configuration is valid: ${loaded.files.length} file(s), ${summary.repositories} repositories (${summary.scheduled} scheduled) in ${loaded.dir}\n`);
      }),
    );
}
