// `chantal-run snapshot create`: freeze the repository's current package set and metadata.
import type { Command } from "commander";
import { findRepository } from "../../core/config/load.js";
import { repositoryLockRequest, withLock } from "../../core/db/locks.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { snapshotNameFromTemplate } from "../../core/snapshots/name.js";
import { createSnapshot } from "../../core/snapshots/snapshots.js";
import { publishSnapshot } from "../../core/publish/trees.js";
import { action } from "../context.js";
import { printJson } from "../output.js";
import { repoIdArgument } from "../repo-id.js";

export function register(snapshot: Command): void {
  repoIdArgument(snapshot.command("create").description("freeze the repository's current package set and metadata"), "repository", { required: true })
    .option("--name <name>", "snapshot name or template ({date} {time} {datetime} {repo_id})", "{repo_id}-{datetime}")
    .option("--description <text>", "free text")
    .option("--publish", "also publish it under <published>/<repo-id>/snapshots/<name>")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId: string; name: string; description?: string; publish?: boolean; json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const repo = findRepository(loaded, opts.repoId);
        const database = await ctx.openDatabase();
        const row = await ensureRepository(database.pool, repo);
        const name = snapshotNameFromTemplate(opts.name, { repoId: repo.id, now: new Date() });
        const snap = await createSnapshot(database.pool, row.id, repo.id, name, opts.description);
        // Publishing takes the repository lock, like every publish: it must not race a sync's publish of latest.
        const published = opts.publish
          ? (
              await withLock(database.url, repositoryLockRequest(row.id, `publish ${repo.id}/${snap.name}`, { waitMs: 3600_000, signal: ctx.signal }), () =>
                publishSnapshot(database.pool, loaded.config, snap, new Date(), ctx.signal),
              )
            ).path
          : undefined;
        if (opts.json) return printJson({ ...snap, published });
        process.stdout.write(
          `created snapshot ${snap.name} of ${repo.id}: ${snap.packageCount} packages, ${(snap.totalSize / 1_048_576).toFixed(1)} MB${published ? `\npublished: ${published}` : ""}\n`,
        );
      }),
    );
}
