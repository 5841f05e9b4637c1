// The repository id of a command, given as --repo-id ID or as the first argument (`repo sync rhel9-baseos`).
import { InvalidArgumentError, type Command } from "commander";
import { unknownRepositoryMessage, type LoadedConfig } from "../core/config/load.js";
import type { Database } from "../core/db/client.js";
import { findRepositoryRow } from "../core/db/repositories.js";
import { ExitCode, UsageError } from "../core/errors.js";

export interface RepoIdOptions {
  /** The command cannot run without one (commander's requiredOption would refuse the positional form). */
  required?: boolean;
}

/**
 * Declare `[repo-id]` and `--repo-id <id>` on cmd; before the action runs, the argument is copied into
 * opts.repoId, so actions read opts.repoId whichever form was used. The action receives the argument first.
 */
export function repoIdArgument(cmd: Command, description: string, opts: RepoIdOptions = {}): Command {
  const usage = (c: Command, message: string) => c.error(`error: ${message}`, { exitCode: ExitCode.usage, code: "chantal.repoId" });
  return cmd
    .argument("[repo-id]", `${description} (or --repo-id)`)
    .option("--repo-id <id>", opts.required ? `${description} (required, here or as the argument)` : description)
    .hook("preAction", (_parent, c) => {
      const positional = c.processedArgs[0] as string | undefined;
      const option = c.getOptionValue("repoId") as string | undefined;
      if (positional !== undefined && option !== undefined && positional !== option)
        usage(c, `the repository id is given twice, "${positional}" and --repo-id ${option}: give it once`);
      if (positional !== undefined) c.setOptionValue("repoId", positional);
      if (opts.required && c.getOptionValue("repoId") === undefined) usage(c, "missing repository id: give it as the argument or with --repo-id ID");
    });
}

/** commander argParser for a whole number ≥ 0 (--limit): a bad value is a usage error naming it. */
export function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError("expected a whole number ≥ 0");
  return Number(value);
}

/**
 * A read command's id must name a configured repository or one still in the database (left the YAML, not yet
 * removed); anything else is a typo, refused with the closest configured id.
 */
export async function checkKnownRepositoryId(loaded: LoadedConfig, database: Database, id: string): Promise<void> {
  const configured = loaded.config.repositories.map((r) => r.id);
  if (configured.includes(id) || (await findRepositoryRow(database.pool, id))) return;
  throw new UsageError(unknownRepositoryMessage(configured, id, loaded.dir));
}
