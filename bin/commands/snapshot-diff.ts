// `chantal-run snapshot diff`: packages added, removed and updated (by name and arch, in RPM or Debian version order) from snapshot A to B; per member with --group.
import type { Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { getGroupSnapshot, memberOf } from "../../core/groups/group-snapshots.js";
import { findGroup } from "../../core/groups/groups.js";
import { diffSnapshots, formatEvr, getSnapshot, type SnapshotDiff } from "../../core/snapshots/snapshots.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

function diffLines(diff: SnapshotDiff, indent = ""): string[] {
  return [
    ...diff.added.map((p) => `${indent}+ ${p.name}.${p.arch} ${formatEvr(p)}`),
    ...diff.removed.map((p) => `${indent}- ${p.name}.${p.arch} ${formatEvr(p)}`),
    ...diff.updated.map((u) => `${indent}${u.direction === "upgrade" ? "↑" : "↓"} ${u.name}.${u.arch} ${formatEvr(u.from)} -> ${formatEvr(u.to)}`),
    `${indent}${diff.added.length} added, ${diff.removed.length} removed, ${diff.updated.length} updated`,
  ];
}

export function register(snapshot: Command): void {
  snapshot
    .command("diff")
    .description("packages added, removed and updated (by name and arch, in RPM or Debian version order) from snapshot A to B")
    .option("--repo-id <id>", "repository (or --group)")
    .option("--group <id>", "diff every member of the group's snapshots A and B")
    .argument("<a>", "older snapshot")
    .argument("<b>", "newer snapshot")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, a: string, b: string, opts: { repoId?: string; group?: string; json?: boolean }) => {
        if ((opts.group === undefined) === (opts.repoId === undefined)) throw new UsageError("give --repo-id ID or --group ID (one of them)");
        const database = await ctx.openDatabase();
        if (opts.repoId !== undefined) {
          const diff = await diffSnapshots(database.pool, await getSnapshot(database.pool, opts.repoId, a), await getSnapshot(database.pool, opts.repoId, b));
          if (opts.json) return printJson(diff);
          process.stdout.write(diffLines(diff).join("\n") + "\n");
          return;
        }
        const group = findGroup((await ctx.loadConfig()).config, opts.group!);
        const [ga, gb] = [await getGroupSnapshot(database.pool, group.id, a), await getGroupSnapshot(database.pool, group.id, b)];
        const repoIds = [...new Set([...ga.members, ...gb.members].map((m) => m.repoId))].sort();
        const members: { repoId: string; diff: SnapshotDiff | null; onlyIn?: string }[] = [];
        for (const repoId of repoIds) {
          const [ma, mb] = [memberOf(ga, repoId), memberOf(gb, repoId)];
          if (ma && mb) members.push({ repoId, diff: await diffSnapshots(database.pool, ma, mb) });
          else members.push({ repoId, diff: null, onlyIn: ma ? a : b });
        }
        if (opts.json) return printJson({ group: group.id, from: a, to: b, members });
        const out: string[] = [];
        for (const m of members) out.push(`${m.repoId}:`, ...(m.diff ? diffLines(m.diff, "  ") : [`  only in ${m.onlyIn}`]));
        process.stdout.write(out.join("\n") + "\n");
      }),
    );
}
