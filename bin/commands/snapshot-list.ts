// `chantal-run snapshot list`: list snapshots, newest first (--group: the group's snapshots with their members).
import type { Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { listGroupSnapshots } from "../../core/groups/group-snapshots.js";
import { findGroup } from "../../core/groups/groups.js";
import { listSnapshots } from "../../core/snapshots/snapshots.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";
import { checkKnownRepositoryId, repoIdArgument } from "../repo-id.js";

export function register(snapshot: Command): void {
  repoIdArgument(snapshot.command("list").description("list snapshots, newest first (--group: the group's snapshots)"), "only this repository")
    .option("--group <id>", "the snapshots of this group, each with its members")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId?: string; group?: string; json?: boolean }) => {
        if (opts.group !== undefined && opts.repoId !== undefined) throw new UsageError("give a repository id or --group, not both");
        const database = await ctx.openDatabase();
        const times = new LocalTimes();
        if (opts.group !== undefined) {
          const group = findGroup((await ctx.loadConfig()).config, opts.group);
          const rows = await listGroupSnapshots(database.pool, group.id);
          if (opts.json) return printJson(rows);
          printTable(
            rows.map((g) => ({
              group: g.groupId,
              name: g.name,
              members: g.members.map((m) => m.repoId).join(","),
              packages: g.members.reduce((n, m) => n + m.packageCount, 0),
              created: times.format(g.createdAt),
            })),
            ["group", "name", "members", "packages", "created"].map((k) => ({ key: k, title: k.toUpperCase() })),
          );
          return times.printNote();
        }
        if (opts.repoId) await checkKnownRepositoryId(await ctx.loadConfig(), database, opts.repoId);
        const rows = await listSnapshots(database.pool, opts.repoId);
        if (opts.json) return printJson(rows);
        printTable(
          rows.map((s) => ({
            repository: s.repoId,
            name: s.name,
            packages: s.packageCount,
            mb: (s.totalSize / 1_048_576).toFixed(1),
            created: times.format(s.createdAt),
            published: times.format(s.publishedAt) ?? "no",
          })),
          ["repository", "name", "packages", "mb", "created", "published"].map((k) => ({ key: k, title: k.toUpperCase() })),
        );
        times.printNote();
      }),
    );
}
