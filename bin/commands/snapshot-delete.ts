// `chantal-run snapshot delete`: delete a snapshot (its blobs stay in the pool); a published one only with --force.
import type { Command } from "commander";
import { repositoryLockRequest, withLock } from "../../core/db/locks.js";
import { findRepositoryRow } from "../../core/db/repositories.js";
import { ChantalError } from "../../core/errors.js";
import { deleteSnapshotRow, getSnapshot } from "../../core/snapshots/snapshots.js";
import { unpublishSnapshot } from "../../core/publish/trees.js";
import { action } from "../context.js";
import { formatLocalTimeWithZone } from "../output.js";
import { repoIdArgument } from "../repo-id.js";

export function register(snapshot: Command): void {
  repoIdArgument(snapshot.command("delete").description("delete a snapshot (its blobs stay in the pool); a published one only with --force"), "repository", {
    required: true,
  })
    .requiredOption("--name <name>", "snapshot")
    .option("--force", "also unpublish it")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId: string; name: string; force?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const snap = await getSnapshot(database.pool, opts.repoId, opts.name);
        if (snap.publishedAt && !opts.force) {
          throw new ChantalError(
            `snapshot ${snap.name} of ${snap.repoId} is published (since ${formatLocalTimeWithZone(snap.publishedAt)}): clients may use it; add --force to unpublish and delete it`,
          );
        }
        // The snapshot's row exists, so its repository's does: a repository removed with --keep-snapshots need not be configured.
        const repoRow = (await findRepositoryRow(database.pool, opts.repoId))!;
        await withLock(database.url, repositoryLockRequest(repoRow.id, `snapshot delete ${snap.name}`, { waitMs: 30_000, signal: ctx.signal }), async () => {
          const unpublished = await unpublishSnapshot(loaded.config, snap);
          await deleteSnapshotRow(database.pool, snap.id);
          process.stdout.write(`deleted snapshot ${snap.name} of ${snap.repoId}${unpublished ? " (unpublished)" : ""}\n`);
        });
      }),
    );
}
