import type { Command } from "commander";
import { removeRepository } from "../../core/lifecycle/remove.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

export function register(repo: Command): void {
  repo
    .command("remove")
    .description("remove a repository that left the configuration: unpublish its trees and delete its database state (its blobs stay in the pool)")
    .requiredOption("--repo-id <id>", "the repository (first delete it from the YAML)")
    .option("--keep-snapshots", "keep its snapshots, their published trees and the repository row; only latest, the current sets and the runs go")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExample:\n  chantal-run repo remove --repo-id rocky8-baseos --keep-snapshots\n")
    .action(
      action(async (ctx, opts: { repoId: string; keepSnapshots?: boolean; json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const r = await removeRepository({ repoId: opts.repoId, keepSnapshots: opts.keepSnapshots ?? false }, { loaded, database, signal: ctx.signal });
        if (opts.json) return printJson(r);
        const d = r.deleted;
        process.stdout.write(
          `removed repository ${r.repoId}: unpublished ${r.unpublished.length ? r.unpublished.join(", ") : "nothing (no published tree)"}; ` +
            `deleted ${d.packageLinks} package and ${d.metadataLinks} metadata links, ${d.runs} runs, ${d.snapshots} snapshots${d.repository ? " and the repository row" : ""}\n` +
            (r.keptSnapshots.length ? `kept ${r.keptSnapshots.length} snapshots (${r.keptSnapshots.join(", ")}); "repo remove --repo-id ${r.repoId}" again removes them\n` : "") +
            `the blobs stay in the pool until a garbage collection\n`,
        );
      }),
    );
}
