// `chantal-run promote history`: every promotion and rollback, newest first, with when, where from, who and the note.
import type { Command } from "commander";
import { promotionHistory } from "../../core/environments/promotions.js";
import { environmentIndex, findGroup } from "../../core/groups/groups.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";
import { wholeNumber } from "../repo-id.js";

export function register(noun: Command): void {
  const cmd = noun.command("history").description("every promotion and rollback, newest first (--group and --env filter)");
  cmd
    .option("--group <id>", "only this group")
    .option("--env <env>", "only this environment")
    .option("--limit <n>", "how many rows", wholeNumber, 50)
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { group?: string; env?: string; limit: number; json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        // A group or environment that left the configuration still has history: only a name never configured and never recorded is a typo.
        const database = await ctx.openDatabase();
        const rows = await promotionHistory(database.pool, {
          ...(opts.group !== undefined ? { groupId: opts.group } : {}),
          ...(opts.env !== undefined ? { environment: opts.env } : {}),
          limit: opts.limit,
        });
        if (rows.length === 0) {
          if (opts.group !== undefined) findGroup(loaded.config, opts.group);
          if (opts.env !== undefined) environmentIndex(loaded.config, opts.env);
        }
        if (opts.json) return printJson(rows);
        const times = new LocalTimes();
        printTable(
          rows.map((r) => ({
            id: r.id,
            when: times.format(r.promotedAt),
            group: r.groupId,
            environment: r.environment,
            snapshot: r.snapshotName,
            kind: r.kind + (r.forced ? " (forced)" : ""),
            by: `${r.osUser}@${r.host}`,
            note: r.note ?? "",
          })),
          ["id", "when", "group", "environment", "snapshot", "kind", "by", "note"].map((k) => ({ key: k, title: k.toUpperCase() })),
        );
        times.printNote();
      }),
    );
}
