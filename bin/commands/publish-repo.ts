// `chantal-run publish repo`: publish the current state of a repository (or --all) to <published>/<repo-id>/latest.
import type { Command } from "commander";
import { findRepository } from "../../core/config/load.js";
import { repositoryLockRequest, withLock } from "../../core/db/locks.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { UsageError } from "../../core/errors.js";
import { publishLatest } from "../../core/publish/trees.js";
import { formatClientConfig } from "../../core/publish/client-config.js";
import { clientConfigOf } from "../../core/publish/targets.js";
import { action } from "../context.js";
import { repoIdArgument } from "../repo-id.js";

/** Publishing waits for a running sync of the repository: it never races the sync's own publish. */
const PUBLISH_WAIT_MS = 3600_000;

export function register(publish: Command): void {
  repoIdArgument(publish.command("repo").description("publish the current state of a repository (or --all) to <published>/<repo-id>/latest"), "repository")
    .option("--all", "every repository that has been synced")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId?: string; all?: boolean }) => {
        if (!opts.repoId === !opts.all) throw new UsageError("give either a repository id (or --repo-id ID) or --all");
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const repos = opts.all ? loaded.config.repositories : [findRepository(loaded, opts.repoId!)];
        for (const repo of repos) {
          const row = await ensureRepository(database.pool, repo);
          if (opts.all && !row.indexChecksum) continue;
          const result = await withLock(
            database.url,
            repositoryLockRequest(row.id, `publish ${repo.id}`, { waitMs: PUBLISH_WAIT_MS, signal: ctx.signal }),
            () => publishLatest(database.pool, loaded.config, { id: row.id, repoId: repo.id }, ctx.signal),
          );
          process.stdout.write(`published ${repo.id}: ${result.path} (${result.files} files)\n`);
          process.stdout.write(formatClientConfig(await clientConfigOf(database.pool, loaded.config, repo, "latest", { owner: "repository", id: row.id })));
        }
      }),
    );
}
