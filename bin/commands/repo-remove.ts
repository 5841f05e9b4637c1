// `chantal-run repo remove`: remove a repository that left the configuration: unpublish its trees and delete its database state (its blobs stay in the pool).
import type { Command } from "commander";
import { removeRepository } from "../../core/lifecycle/remove.js";
import { action } from "../context.js";
import { printJson } from "../output.js";
import { repoIdArgument } from "../repo-id.js";

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function register(repo: Command): void {
  repoIdArgument(
    repo
      .command("remove")
      .description("remove a repository that left the configuration: unpublish its trees and delete its database state (its blobs stay in the pool)"),
    "the repository (first delete it from the YAML)",
    { required: true },
  )
    .option("--keep-snapshots", "keep its snapshots, their published trees and the repository row; only latest, the current sets and the runs go")
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId: string; keepSnapshots?: boolean; json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const r = await removeRepository({ repoId: opts.repoId, keepSnapshots: opts.keepSnapshots ?? false }, { loaded, database, signal: ctx.signal });
        if (opts.json) return printJson(r);
        const d = r.deleted;
        process.stdout.write(
          `removed repository ${r.repoId}: unpublished ${r.unpublished.length ? r.unpublished.join(", ") : "nothing (no published tree)"}; ` +
            `deleted ${count(d.packageLinks, "package link")}, ${count(d.metadataLinks, "metadata link")}, ${count(d.runs, "run")}, ${count(d.snapshots, "snapshot")}${d.repository ? " and the repository row" : ""}\n` +
            (r.keptSnapshots.length
              ? `kept ${count(r.keptSnapshots.length, "snapshot")} (${r.keptSnapshots.join(", ")}); "repo remove --repo-id ${r.repoId}" again removes them\n`
              : "") +
            `the blobs stay in the pool until "pool gc" deletes those nothing else references\n`,
        );
      }),
    );
}
