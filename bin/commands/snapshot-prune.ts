// `chantal-run snapshot prune`: apply snapshots.retention (keep_last, keep_days): delete older snapshots, never a published one unless include_published.
import type { Command } from "commander";
import { pruneSnapshots, retentionOf } from "../../core/lifecycle/snapshot-retention.js";
import { action } from "../context.js";
import { printJson } from "../output.js";
import { checkKnownRepositoryId, repoIdArgument } from "../repo-id.js";

export function register(snapshot: Command): void {
  repoIdArgument(
    snapshot
      .command("prune")
      .description(
        "apply snapshots.retention (keep_last, keep_days): delete the snapshots it does not keep (a published one only with include_published); their blobs go with the next pool gc",
      ),
    "only this repository (default: every configured repository with a retention)",
  )
    .option("--dry-run", "list what would be deleted; delete nothing")
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId?: string; dryRun?: boolean; json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        if (opts.repoId) await checkKnownRepositoryId(loaded, database, opts.repoId);
        const ids = opts.repoId ? [opts.repoId] : loaded.config.repositories.map((r) => r.id).filter((id) => retentionOf(loaded.config, id));
        const results = await pruneSnapshots(loaded.config, database, ids, { dryRun: opts.dryRun ?? false, now: new Date(), signal: ctx.signal });
        if (opts.json) return printJson(results);
        const verb = opts.dryRun ? "would delete" : "deleted";
        const lines = results.map((r) => {
          const published = r.kept.filter((k) => k.reason === "published").map((k) => k.name);
          return (
            `${r.repoId}: ${verb} ${r.deleted.length} snapshot(s)${r.deleted.length ? ` (${r.deleted.join(", ")})` : ""}, kept ${r.kept.length}` +
            (published.length ? `; kept because published: ${published.join(", ")} (retention.include_published: true prunes them too)` : "")
          );
        });
        if (results.length === 0) lines.push("no repository has a snapshots.retention: nothing to prune");
        process.stdout.write(lines.join("\n") + "\n");
      }),
    );
}
