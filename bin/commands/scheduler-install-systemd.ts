// `scheduler install-systemd`: print or write the hardened unit, running as the dedicated user (created on request).
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { packageRoot } from "../../core/package-info.js";
import { schedulerHostName } from "../../core/schedule/hosts.js";
import { DEFAULT_SERVICE_USER, DEFAULT_UNIT_PATH, renderSchedulerUnit, unitOptionsFor } from "../../core/schedule/systemd.js";
import {
  chownRecursive,
  createServiceUser,
  createUserCommand,
  directoriesToHandOver,
  lookupServiceUser,
  ServiceUserError,
  unreachablePaths,
  type ServiceUser,
} from "../../core/schedule/service-user.js";
import { UsageError } from "../../core/errors.js";
import { action } from "../context.js";

interface InstallOptions {
  write?: boolean;
  unitPath: string;
  user: string;
  createUser?: boolean;
  hostName?: string;
}

export function register(scheduler: Command): void {
  scheduler
    .command("install-systemd")
    .description("print the hardened systemd unit for this installation and configuration (or --write it)")
    .option("--write", "write the unit file, create the data directories it allows writing to and give them to the user")
    .option("--unit-path <path>", "where --write puts the unit", DEFAULT_UNIT_PATH)
    .option("--user <name>", "the unprivileged user the service runs as (User= and Group=)", DEFAULT_SERVICE_USER)
    .option("--create-user", "with --write: create the user (useradd --system) when it does not exist")
    .option("--host-name <name>", "written into ExecStart as `scheduler start --host-name <name>` (several scheduler hosts on one database)")
    .action(
      action(async (ctx, opts: InstallOptions) => {
        if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(opts.user)) throw new UsageError(`--user "${opts.user}" is not a user name`);
        if (opts.user === "root") {
          throw new UsageError(
            `--user root: the unit runs Chantal unprivileged, with no capabilities; give a dedicated user (default ${DEFAULT_SERVICE_USER})`,
          );
        }
        if (opts.createUser && !opts.write) throw new UsageError("--create-user needs --write (printing the unit changes nothing)");
        // Before the configuration is read: a bad name is refused like `scheduler start --host-name` refuses it.
        if (opts.hostName !== undefined) schedulerHostName(opts.hostName);
        const loaded = await ctx.loadConfig();
        const cliPath = join(packageRoot, "bin", "chantal-run.js");
        const unitOptions = unitOptionsFor(loaded, {
          nodePath: process.execPath,
          cliPath,
          user: opts.user,
          ...(opts.hostName !== undefined ? { hostName: opts.hostName } : {}),
        });
        const unit = renderSchedulerUnit(unitOptions);
        if (!opts.write) {
          process.stdout.write(unit);
          return;
        }
        const home = loaded.config.storage.base_path;
        let user: ServiceUser | undefined = await lookupServiceUser(opts.user);
        if (!user && !opts.createUser) {
          throw new ServiceUserError(
            `user '${opts.user}' does not exist: create it with\n  ${createUserCommand(opts.user, home).join(" ")}\n` +
              `or run this command again with --create-user`,
          );
        }
        user ??= await createServiceUser(opts.user, home);
        // ProtectSystem=strict: the service cannot create what ReadWritePaths names, so the directories must exist first.
        for (const dir of unitOptions.readWritePaths) await mkdir(dir, { recursive: true, mode: 0o755 });
        const { chown, shared } = directoriesToHandOver(unitOptions.readWritePaths);
        await chownRecursive(chown, user);
        const unreadable = await unreachablePaths(user, [
          ...unitOptions.readWritePaths.map((path) => ({ path, need: "w" as const })),
          { path: process.execPath, need: "x" },
          { path: cliPath, need: "r" },
          // config.yaml and conf.d/*.yaml, as the loader read them: what the service must be able to read.
          ...loaded.files.map((file) => ({ path: join(loaded.dir, file), need: "r" as const })),
        ]);
        if (unreadable.length > 0) {
          throw new ServiceUserError(
            `user '${user.name}' cannot reach (read, execute, or write a directory): ${unreadable.join(" ")}\n` +
              `make every parent directory searchable (chmod o+x), install Chantal where every user can read it (npm install -g, ` +
              `not under /root), and let the user read the configuration: chgrp -R ${user.name} ${loaded.dir} && chmod -R g+rX ${loaded.dir}`,
          );
        }
        await mkdir(dirname(opts.unitPath), { recursive: true });
        const tmp = `${opts.unitPath}.tmp-${process.pid}`;
        await writeFile(tmp, unit, { mode: 0o644 });
        await rename(tmp, opts.unitPath);
        process.stdout.write(
          `wrote ${opts.unitPath} (runs as ${user.name}, uid ${user.uid})\n` +
            `created (if missing) and gave to ${user.name}: ${chown.join(" ") || "nothing"}\n` +
            (shared.length > 0 ? `shared directories, not chowned: make ${shared.join(" ")} writable by ${user.name} yourself\n` : "") +
            `next: systemctl daemon-reload && systemctl enable --now chantal-scheduler\n` +
            `other chantal commands on this host: sudo -u ${user.name} chantal-run …\n`,
        );
      }),
    );
}
