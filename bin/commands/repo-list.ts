// `chantal-run repo list`: list repositories from the configuration and the database, with their last sync.
import type { Command } from "commander";
import { repositoriesWithLastRun } from "../../core/db/repositories.js";
import { freshnessJson, repositoriesFreshness } from "../../core/freshness/report.js";
import { redactUrl } from "../../core/redact.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { action } from "../context.js";
import { LocalTimes, printJson, printTable } from "../output.js";

export function register(repo: Command): void {
  repo
    .command("list")
    .description("list repositories from the configuration and the database, with their last sync")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { json?: boolean }) => {
        const { config } = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const runs = new Map((await repositoriesWithLastRun(database.pool)).map((r) => [r.repoId, r]));
        const fresh = new Map(
          (await repositoriesFreshness(database.pool, blobStoreOf(config), config, new Date(), { warn: (m) => ctx.log.warn(m) })).map((f) => [f.repoId, f]),
        );
        const rows = config.repositories.map((r) => {
          const last = runs.get(r.id);
          return {
            id: r.id,
            type: r.type,
            enabled: r.enabled,
            upstream_url: redactUrl(r.upstream_url),
            schedule: r.schedule?.enabled ? r.schedule.cron : null,
            timezone: r.schedule?.enabled ? (r.schedule.timezone ?? config.scheduler.timezone ?? null) : null,
            last_sync: last?.startedAt ?? null,
            last_status: last?.status ?? null,
            freshness: freshnessJson(fresh.get(r.id)),
            in_config: true,
          };
        });
        for (const [id, last] of runs) {
          if (config.repositories.some((r) => r.id === id)) continue;
          rows.push({
            id,
            type: last.type as "rpm" | "apt",
            enabled: false,
            upstream_url: redactUrl(last.upstreamUrl),
            schedule: null,
            timezone: null,
            last_sync: last.startedAt ?? null,
            last_status: last.status,
            freshness: freshnessJson(fresh.get(id)),
            in_config: false,
          });
        }
        if (opts.json) return printJson(rows);
        const times = new LocalTimes();
        printTable(
          rows.map((r) => ({
            ...r,
            id: r.in_config ? r.id : `${r.id} (not in config)`,
            enabled: r.enabled ? "yes" : "no",
            schedule: r.schedule ? `${r.schedule}${r.timezone ? ` (${r.timezone})` : ""}` : "(manual only)",
            last_sync: r.last_sync ? `${times.format(r.last_sync)} ${r.last_status}` : "never",
            freshness: r.freshness.state,
          })),
          [
            { key: "id", title: "ID" },
            { key: "type", title: "TYPE" },
            { key: "enabled", title: "ENABLED" },
            { key: "upstream_url", title: "UPSTREAM" },
            { key: "schedule", title: "SCHEDULE" },
            { key: "last_sync", title: "LAST SYNC" },
            { key: "freshness", title: "FRESHNESS" },
          ],
        );
        times.printNote();
      }),
    );
}
