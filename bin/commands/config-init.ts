// `chantal-run config init`: write a commented config.yaml and conf.d/example.yaml (two disabled repositories) into the configuration directory; never overwrites.
import type { Command } from "commander";
import { DEFAULT_CONFIG_DIR } from "../../core/config/load.js";
import { writeInitialConfig } from "../../core/config/init-files.js";
import { action } from "../context.js";

export function register(config: Command): void {
  config
    .command("init")
    .description("write a commented config.yaml and conf.d/example.yaml (two disabled repositories) into the configuration directory; never overwrites")
    .action(
      action(async (ctx) => {
        const written = await writeInitialConfig(ctx.configDir);
        for (const path of written) process.stdout.write(`wrote ${path}\n`);
        // The next command names the directory unless it is the one every command reads by default.
        const dirFlag = ctx.configDir === DEFAULT_CONFIG_DIR && !process.env.CHANTAL_CONFIG_DIR ? "" : ` --config-dir ${ctx.configDir}`;
        process.stdout.write(
          `\nNext: set upstream_url and enabled: true for a repository in conf.d/example.yaml, then run\n` +
            `  chantal-run${dirFlag} config validate\n` +
            `  chantal-run${dirFlag} repo sync --repo-id rocky9-baseos\n`,
        );
      }),
    );
}
