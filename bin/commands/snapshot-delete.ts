// `chantal-run snapshot delete`: delete a snapshot (its blobs stay in the pool); a published one, or one an environment uses, only with --force.
import type { Command } from "commander";
import { repositoryLockRequest, withLock } from "../../core/db/locks.js";
import { findRepositoryRow } from "../../core/db/repositories.js";
import { ChantalError } from "../../core/errors.js";
import { deleteSnapshotRow, getSnapshot } from "../../core/snapshots/snapshots.js";
import { snapshotUses } from "../../core/environments/promotions.js";
import { describeUses } from "../../core/environments/protection.js";
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
        const uses = await snapshotUses(database.pool, snap.id);
        const usedBy = describeUses(uses);
        if (uses.length > 0 && !opts.force) {
          throw new ChantalError(
            `snapshot ${snap.name} of ${snap.repoId} is used by environment(s) ${usedBy}: promote another snapshot there first, or add --force (clients of those environments lose it)`,
          );
        }
        if (uses.length > 0) ctx.log.warn(`deleting snapshot ${snap.name} of ${snap.repoId}, which environment(s) ${usedBy} use`);
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
