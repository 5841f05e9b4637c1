// `chantal-run publish snapshot`: publish a snapshot to <published>/<repo-id>/snapshots/<name>.
import type { Command } from "commander";
import { findRepository } from "../../core/config/load.js";
import { repositoryLockRequest, withLock } from "../../core/db/locks.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { getSnapshot } from "../../core/snapshots/snapshots.js";
import { publishSnapshot } from "../../core/publish/trees.js";
import { formatClientConfig } from "../../core/publish/client-config.js";
import { clientConfigOf } from "../../core/publish/targets.js";
import { action } from "../context.js";
import { repoIdArgument } from "../repo-id.js";

/** Publishing waits for a running sync of the repository: it never races the sync's own publish. */
const PUBLISH_WAIT_MS = 3600_000;

export function register(publish: Command): void {
  repoIdArgument(publish.command("snapshot").description("publish a snapshot to <published>/<repo-id>/snapshots/<name>"), "repository", { required: true })
    .requiredOption("--name <name>", "snapshot")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId: string; name: string }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const repo = findRepository(loaded, opts.repoId);
        const row = await ensureRepository(database.pool, repo);
        const snap = await getSnapshot(database.pool, opts.repoId, opts.name);
        const result = await withLock(
          database.url,
          repositoryLockRequest(row.id, `publish ${opts.repoId}/${opts.name}`, { waitMs: PUBLISH_WAIT_MS, signal: ctx.signal }),
          () => publishSnapshot(database.pool, loaded.config, snap, new Date(), ctx.signal),
        );
        process.stdout.write(`published snapshot ${snap.name} of ${snap.repoId}: ${result.path} (${result.files} files)\n`);
        process.stdout.write(
          formatClientConfig(await clientConfigOf(database.pool, loaded.config, repo, `snapshots/${snap.name}`, { owner: "snapshot", id: snap.id })),
        );
      }),
    );
}
