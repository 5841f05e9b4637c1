// repo show: one repository's configuration, last runs, contents, snapshots, published URLs and client configuration.
import type { Command } from "commander";
import { findRepository } from "../../core/config/load.js";
import { repositorySummary } from "../../core/db/repository-summary.js";
import { recentRuns } from "../../core/db/sync-runs.js";
import { freshnessJson, repositoriesFreshness } from "../../core/freshness/report.js";
import { formatClientConfig, publishedUrl, type ClientConfig } from "../../core/publish/client-config.js";
import { baseUrlOf, clientConfigOf, publishedLocation } from "../../core/publish/targets.js";
import { redactUrl } from "../../core/redact.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { listSnapshots } from "../../core/snapshots/snapshots.js";
import { action } from "../context.js";
import { formatTable, LocalTimes, printJson } from "../output.js";
import { repoIdArgument } from "../repo-id.js";

const RECENT_RUNS = 5;

/** MB like the sync's summary; small test-sized repositories in kB, so that they do not read "0.0 MB". */
function mb(bytes: number): string {
  return bytes < 1_048_576 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1_048_576).toFixed(1)} MB`;
}

export function register(repo: Command): void {
  repoIdArgument(
    repo.command("show").description("one repository: configuration, last runs, package count and size, snapshots, published URLs and client configuration"),
    "the repository",
    { required: true },
  )
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId: string; json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const { config } = loaded;
        const r = findRepository(loaded, opts.repoId);
        const database = await ctx.openDatabase();
        const summary = await repositorySummary(database.pool, r.id);
        const runs = await recentRuns(database.pool, { repoId: r.id, limit: RECENT_RUNS });
        const snapshots = await listSnapshots(database.pool, r.id);
        const [fresh] = await repositoriesFreshness(database.pool, blobStoreOf(config), config, new Date(), {
          repoId: r.id,
          warn: (m) => ctx.log.warn(m),
        });
        const freshness = freshnessJson(fresh);
        const baseUrl = baseUrlOf(config, r);
        const urlOf = (name: string) => (baseUrl ? publishedUrl(baseUrl, r.id, name) : null);
        const latestPublished = summary?.publishedChecksum != null;
        const published = [
          ...(latestPublished ? [{ name: "latest", path: publishedLocation(config, r.id, "latest"), url: urlOf("latest") }] : []),
          ...snapshots
            .filter((s) => s.publishedAt)
            .map((s) => ({ name: `snapshots/${s.name}`, path: publishedLocation(config, r.id, `snapshots/${s.name}`), url: urlOf(`snapshots/${s.name}`) })),
        ];
        const clients: ClientConfig | null =
          latestPublished && summary ? await clientConfigOf(database.pool, config, r, "latest", { owner: "repository", id: summary.id }) : null;
        const source = loaded.sources.get(r.id);
        const shown = {
          id: r.id,
          type: r.type,
          enabled: r.enabled,
          description: r.description ?? null,
          upstream_url: redactUrl(r.upstream_url),
          config_file: source?.file ?? null,
          schedule: r.schedule?.enabled
            ? { cron: r.schedule.cron, timezone: r.schedule.timezone ?? config.scheduler.timezone ?? null, create_snapshot: r.schedule.create_snapshot }
            : null,
          apt: r.apt ?? null,
          verify_keyring: r.verify?.keyring ?? null,
          auth: r.auth?.type ?? null,
          publish_base_url: baseUrl ?? null,
          package_count: summary?.packageCount ?? 0,
          total_bytes: summary?.totalBytes ?? 0,
          freshness,
          last_runs: runs.map((x) => ({
            id: x.id,
            started_at: x.startedAt,
            finished_at: x.finishedAt ?? null,
            trigger: x.trigger,
            status: x.status,
            packages_total: x.packagesTotal,
            packages_downloaded: x.packagesDownloaded,
            packages_added: x.packagesAdded,
            packages_removed: x.packagesRemoved,
            bytes_downloaded: x.bytesDownloaded,
            snapshot: x.snapshotName,
            error: x.error,
          })),
          snapshots: snapshots.map((s) => ({
            name: s.name,
            created_at: s.createdAt,
            package_count: s.packageCount,
            total_bytes: s.totalSize,
            published_at: s.publishedAt ?? null,
            url: s.publishedAt ? urlOf(`snapshots/${s.name}`) : null,
          })),
          published,
          clients: clients ? { url: clients.url ?? null, path: clients.path, snippets: clients.snippets, hint: clients.hint ?? null } : null,
        };
        if (opts.json) return printJson(shown);
        const out: string[] = [];
        const times = new LocalTimes();
        const field = (k: string, v: string) => out.push(`${k.padEnd(12)}${v}`);
        field("repository", `${r.id} (${r.type})${r.enabled ? "" : ", disabled"}`);
        if (r.description) field("description", r.description);
        field("upstream", shown.upstream_url);
        if (source) field("config", source.file);
        field(
          "schedule",
          shown.schedule
            ? `${shown.schedule.cron}${shown.schedule.timezone ? ` (${shown.schedule.timezone})` : ""}${shown.schedule.create_snapshot ? ", with a snapshot" : ""}`
            : "(manual only)",
        );
        if (r.apt)
          field("apt", `${r.apt.distribution}: ${r.apt.components.join(" ")}; ${r.apt.architectures.join(" ")}${r.apt.include_sources ? "; sources" : ""}`);
        if (r.verify?.keyring) field("keyring", r.verify.keyring);
        field("base_url", baseUrl ?? "(not set: publish.base_url)");
        field("packages", summary ? `${shown.package_count} (${mb(shown.total_bytes)})` : "never synced");
        field("freshness", `${freshness.state}: ${freshness.reason}`);
        if (freshness.upstream_timestamp) field("upstream at", times.format(freshness.upstream_timestamp));
        else if (fresh?.revision) field("revision", fresh.revision);
        if (freshness.valid_until) field("valid until", times.format(freshness.valid_until));
        out.push("", "last runs:");
        out.push(
          runs.length === 0
            ? "  none"
            : formatTable(
                shown.last_runs.map((x) => ({
                  ...x,
                  started_at: times.format(x.started_at),
                  finished_at: times.format(x.finished_at),
                  mb: (x.bytes_downloaded / 1_048_576).toFixed(1),
                  error: x.error ?? "",
                })),
                ["id", "started_at", "trigger", "status", "packages_total", "packages_added", "packages_removed", "mb", "error"].map((k) => ({
                  key: k,
                  title: k.toUpperCase(),
                })),
              ),
        );
        out.push("", "snapshots:");
        out.push(
          snapshots.length === 0
            ? "  none"
            : formatTable(
                shown.snapshots.map((s) => ({
                  ...s,
                  created_at: times.format(s.created_at),
                  size: mb(s.total_bytes),
                  published_at: times.format(s.published_at) ?? "no",
                })),
                ["name", "created_at", "package_count", "size", "published_at"].map((k) => ({ key: k, title: k.toUpperCase() })),
              ),
        );
        out.push("", "published:");
        out.push(
          published.length === 0
            ? '  nothing (run "repo sync" or "publish repo")'
            : formatTable(published, [
                { key: "name", title: "NAME" },
                { key: "url", title: "URL" },
                { key: "path", title: "PATH" },
              ]),
        );
        if (clients) out.push("", "client configuration (latest):", formatClientConfig(clients).trimEnd());
        if (times.note()) out.push("", times.note());
        process.stdout.write(out.join("\n") + "\n");
      }),
    );
}
