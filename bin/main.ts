// chantal-run: parse argv and hand over to a command; each verb lives in bin/commands/<noun>-<verb>.ts.
import { Command, CommanderError } from "commander";
import { chantalVersion } from "../core/package-info.js";
import { ExitCode } from "../core/errors.js";
import * as configSchema from "./commands/config-schema.js";
import * as configValidate from "./commands/config-validate.js";
import * as dbMigrate from "./commands/db-migrate.js";
import * as dbStatus from "./commands/db-status.js";
import * as publish from "./commands/publish.js";
import * as repoHistory from "./commands/repo-history.js";
import * as repoList from "./commands/repo-list.js";
import * as repoSync from "./commands/repo-sync.js";
import * as snapshot from "./commands/snapshot.js";

export function buildProgram(): Command {
  const program = new Command("chantal-run")
    .description("Chantal: offline mirrors of RPM and APT repositories")
    .version(chantalVersion)
    .option("-c, --config-dir <dir>", "configuration directory (default $CHANTAL_CONFIG_DIR, else /etc/chantal)")
    .option("-v, --verbose", "debug logging")
    .showHelpAfterError()
    .exitOverride();

  const config = program.command("config").description("validate and describe the configuration");
  configValidate.register(config);
  configSchema.register(config);

  const db = program.command("db").description("database status and maintenance");
  dbStatus.register(db);
  dbMigrate.register(db);

  const repo = program.command("repo").description("repositories: list, sync, history");
  repoList.register(repo);
  repoSync.register(repo);
  repoHistory.register(repo);
  snapshot.register(program);
  publish.register(program);

  for (const c of program.commands) c.exitOverride();
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    throw err;
  }
}
