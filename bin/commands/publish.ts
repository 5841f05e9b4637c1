// publish repo | snapshot
import type { Command } from "commander";
import { findRepository } from "../../core/config/load.js";
import { acquireLock, repositoryLockRequest } from "../../core/db/locks.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { UsageError } from "../../core/errors.js";
import { getSnapshot } from "../../core/snapshots/snapshots.js";
import { publishLatest, publishSnapshot } from "../../core/sync/publish-repo.js";
import { action, type CommandContext } from "../context.js";

/** Publishing takes the repository lock (waiting for a running sync) so that it never races a sync's own publish. */
async function withRepositoryLock<T>(ctx: CommandContext, url: string, id: number, purpose: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(url, repositoryLockRequest(id, purpose, { waitMs: 3600_000, signal: ctx.signal }));
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

export function register(program: Command): void {
  const publish = program.command("publish").description("write published trees: latest, or a snapshot");

  publish
    .command("repo")
    .description("publish the current state of a repository (or --all) to <published>/<repo-id>/latest")
    .option("--repo-id <id>", "repository")
    .option("--all", "every repository that has been synced")
    .action(
      action(async (ctx, opts: { repoId?: string; all?: boolean }) => {
        if (!opts.repoId === !opts.all) throw new UsageError("give either --repo-id ID or --all");
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const repos = opts.all ? loaded.config.repositories : [findRepository(loaded, opts.repoId!)];
        for (const repo of repos) {
          const row = await ensureRepository(database.pool, repo);
          if (opts.all && !row.indexChecksum) continue;
          const result = await withRepositoryLock(ctx, database.url, row.id, `publish ${repo.id}`, () => publishLatest(database.pool, loaded.config, { id: row.id, repoId: repo.id }, ctx.signal));
          process.stdout.write(`published ${repo.id}: ${result.path} (${result.files} files)\n`);
        }
      }),
    );

  publish
    .command("snapshot")
    .description("publish a snapshot to <published>/<repo-id>/snapshots/<name>")
    .requiredOption("--repo-id <id>", "repository")
    .requiredOption("--name <name>", "snapshot")
    .action(
      action(async (ctx, opts: { repoId: string; name: string }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const row = await ensureRepository(database.pool, findRepository(loaded, opts.repoId));
        const snap = await getSnapshot(database.pool, opts.repoId, opts.name);
        const result = await withRepositoryLock(ctx, database.url, row.id, `publish ${opts.repoId}/${opts.name}`, () => publishSnapshot(database.pool, loaded.config, snap, new Date(), ctx.signal));
        process.stdout.write(`published snapshot ${snap.name} of ${snap.repoId}: ${result.path} (${result.files} files)\n`);
      }),
    );
}
