// `chantal-run snapshot diff`: packages added, removed and updated (by name and arch, in RPM or Debian version order) from snapshot A to B.
import type { Command } from "commander";
import { diffSnapshots, formatEvr, getSnapshot } from "../../core/snapshots/snapshots.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

export function register(snapshot: Command): void {
  snapshot
    .command("diff")
    .description("packages added, removed and updated (by name and arch, in RPM or Debian version order) from snapshot A to B")
    .requiredOption("--repo-id <id>", "repository")
    .argument("<a>", "older snapshot")
    .argument("<b>", "newer snapshot")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, a: string, b: string, opts: { repoId: string; json?: boolean }) => {
        const database = await ctx.openDatabase();
        const diff = await diffSnapshots(database.pool, await getSnapshot(database.pool, opts.repoId, a), await getSnapshot(database.pool, opts.repoId, b));
        if (opts.json) return printJson(diff);
        const lines = [
          ...diff.added.map((p) => `+ ${p.name}.${p.arch} ${formatEvr(p)}`),
          ...diff.removed.map((p) => `- ${p.name}.${p.arch} ${formatEvr(p)}`),
          ...diff.updated.map((u) => `${u.direction === "upgrade" ? "↑" : "↓"} ${u.name}.${u.arch} ${formatEvr(u.from)} -> ${formatEvr(u.to)}`),
        ];
        lines.push(`${diff.added.length} added, ${diff.removed.length} removed, ${diff.updated.length} updated`);
        process.stdout.write(lines.join("\n") + "\n");
      }),
    );
}
