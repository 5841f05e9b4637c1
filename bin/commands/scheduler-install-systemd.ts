import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { packageRoot } from "../../core/package-info.js";
import { DEFAULT_UNIT_PATH, renderSchedulerUnit, unitOptionsFor } from "../../core/schedule/systemd.js";
import { UsageError } from "../../core/errors.js";
import { action } from "../context.js";

interface InstallOptions {
  write?: boolean;
  unitPath: string;
  user?: string;
}

export function register(scheduler: Command): void {
  scheduler
    .command("install-systemd")
    .description("print the systemd unit for this installation and configuration (or --write it)")
    .option("--write", "write the unit file and create the data directories it allows writing to")
    .option("--unit-path <path>", "where --write puts the unit", DEFAULT_UNIT_PATH)
    .option("--user <name>", "run the service as this user (User= and Group=); default root")
    .action(
      action(async (ctx, opts: InstallOptions) => {
        if (opts.user !== undefined && !/^[a-z_][a-z0-9_-]*\$?$/i.test(opts.user)) throw new UsageError(`--user "${opts.user}" is not a user name`);
        const loaded = await ctx.loadConfig();
        const unitOptions = unitOptionsFor(loaded, { nodePath: process.execPath, cliPath: join(packageRoot, "bin", "chantal-run.js"), ...(opts.user ? { user: opts.user } : {}) });
        const unit = renderSchedulerUnit(unitOptions);
        if (!opts.write) {
          process.stdout.write(unit);
          return;
        }
        // ProtectSystem=strict: the service cannot create what ReadWritePaths names, so the directories must exist first.
        for (const dir of unitOptions.readWritePaths) await mkdir(dir, { recursive: true });
        await mkdir(dirname(opts.unitPath), { recursive: true });
        const tmp = `${opts.unitPath}.tmp-${process.pid}`;
        await writeFile(tmp, unit, { mode: 0o644 });
        await rename(tmp, opts.unitPath);
        process.stdout.write(
          `wrote ${opts.unitPath}\n` +
            `created (if missing): ${unitOptions.readWritePaths.join(" ")}\n` +
            `${opts.user ? `make them writable by ${opts.user}: chown -R ${opts.user}: ${unitOptions.readWritePaths.join(" ")}\n` : ""}` +
            `next: systemctl daemon-reload && systemctl enable --now chantal-scheduler\n`,
        );
      }),
    );
}
