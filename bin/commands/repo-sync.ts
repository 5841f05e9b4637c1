// `chantal-run repo sync`: mirror a repository (or --all enabled ones) into the pool and publish latest.
import type { Command } from "commander";
import type { SyncResult } from "../../functions/sync.js";
import { ExitCode, OutsideWindowError, UsageError } from "../../core/errors.js";
import { localTimeZone } from "../../core/local-time.js";
import { decideWindow, planWindows, waitReason } from "../../core/schedule/windows.js";
import { action } from "../context.js";
import { printJson, printTable } from "../output.js";
import { progressReporter } from "../progress-bar.js";
import { syncSummaryLine } from "../../functions/sync-summary.js";
import { findRepository, type LoadedConfig } from "../../core/config/load.js";
import type { RepositoryConfig } from "../../core/config/schema.js";
import { ensureRepository } from "../../core/db/repositories.js";
import type { Database } from "../../core/db/client.js";
import { formatClientConfig } from "../../core/publish/client-config.js";
import { clientConfigOf } from "../../core/publish/targets.js";
import { repoIdArgument } from "../repo-id.js";
import { formatDryRunResult } from "../../functions/dry-run-report.js";
import { maxWaitMs, notifierFor } from "../../core/notify/notifier.js";
import { effectiveFilter } from "../../core/filter/effective.js";
import { prewarmPrimaryParser } from "../../core/rpm/primary-thread.js";
import { primaryMemoFile } from "../../core/rpm/primary-memo.js";
import { repositoryTypeOf } from "../../core/repository-types.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import type { Logger } from "pino";

interface SyncOptions {
  repoId?: string;
  all?: boolean;
  wait?: string | boolean;
  force?: boolean;
  full?: boolean;
  allowDowngrade?: boolean;
  publish?: boolean;
  snapshot?: string | boolean;
  json?: boolean;
  dryRun?: boolean;
  respectWindows?: boolean;
}

/** --respect-windows: the repositories scheduler.windows keeps from starting now, each with why and until when. */
function outsideWindows(loaded: LoadedConfig, ids: readonly string[], now: Date): { repoId: string; reason: string }[] {
  const windows = planWindows(loaded.config);
  return ids.flatMap((repoId) => {
    const d = decideWindow(windows, repoId, now.getTime());
    return d.action === "wait" ? [{ repoId, reason: waitReason(d, localTimeZone()) }] : [];
  });
}

function waitSeconds(wait: string | boolean | undefined): number {
  if (wait === undefined || wait === false) return 0;
  if (wait === true) return 24 * 3600;
  const n = Number(wait);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--wait takes a number of seconds, not "${wait}"`);
  return n;
}

function summaryRow(r: SyncResult) {
  return {
    repository: r.repoId,
    status: r.status,
    packages: r.counts.packagesTotal,
    downloaded: r.counts.packagesDownloaded,
    added: r.counts.packagesAdded,
    removed: r.counts.packagesRemoved,
    mb: (r.counts.bytesDownloaded / 1_048_576).toFixed(1),
    seconds: (r.durationMs / 1000).toFixed(1),
    error: r.error ?? "",
  };
}

/** A run that leaves latest published (published now, or a no-op over a published tree) tells clients where it is. */
function leftPublished(r: SyncResult, publish: boolean): boolean {
  return r.published !== undefined || (publish && r.status === "noop");
}

async function latestClientConfig(loaded: LoadedConfig, database: Database, repoId: string): Promise<string> {
  const repo = findRepository(loaded, repoId);
  const row = await ensureRepository(database.pool, repo);
  return formatClientConfig(await clientConfigOf(database.pool, loaded.config, repo, "latest", { owner: "repository", id: row.id }));
}

/**
 * One unfiltered RPM repository: its primary's parser thread starts while the database does; so does, with
 * `startAhead`, the parse of a primary upstream changed (primary-ahead.ts). None for --all: most are no-ops.
 */
function prewarmParser(loaded: LoadedConfig, ids: readonly string[], full: boolean): RepositoryConfig | undefined {
  if (ids.length !== 1) return undefined;
  const repo = findRepository(loaded, ids[0]!);
  if (repo.type !== "rpm" || effectiveFilter(loaded.config, repo)) return undefined;
  // Its parse memo is read ahead too, unless --full parses every element.
  prewarmPrimaryParser(full ? {} : { memoFile: primaryMemoFile(loaded.config, repo.id) });
  return repo;
}

/** The head start's code is loaded after the database's start was asked for, like the sync's own. */
function startAhead(loaded: LoadedConfig, repo: RepositoryConfig, full: boolean, log: Logger, signal: AbortSignal): void {
  void import("../../core/rpm/primary-ahead.js")
    .then(({ parsePrimaryAhead }) =>
      parsePrimaryAhead({ config: loaded.config, repo, blobs: blobStoreOf(loaded.config), configDir: loaded.dir, full, log, signal }),
    )
    .catch(() => undefined);
}

/** `--dry-run` plans only: options that would change something beside the sync contradict it (exit 2). */
function refuseDryRunContradictions(opts: SyncOptions): void {
  if (!opts.dryRun) return;
  if (opts.snapshot !== undefined && opts.snapshot !== false) throw new UsageError("--dry-run creates no snapshot: leave out --snapshot");
  if (opts.force) throw new UsageError("--dry-run does not take a running sync's lock over: leave out --force");
}

export function register(repo: Command): void {
  const sync = repoIdArgument(
    repo.command("sync").description("mirror a repository (or --all enabled ones) into the pool and publish latest"),
    "the repository to sync",
  );
  sync
    .option("--all", "sync every enabled repository, going on past failures")
    .option("--wait [seconds]", "wait for a running sync of the same repository instead of failing (exit 75)")
    .option("--force", "take the repository lock over from a running sync (terminates its database session)")
    .option("--full", "re-read upstream metadata even when its index is unchanged")
    .option("--allow-downgrade", "accept upstream metadata older than the last synced (an APT Release with an older Date) for this run")
    .option("--no-publish", "do not publish latest after the sync")
    .option("--snapshot [template]", "create and publish a snapshot after a successful sync ({date} {time} {datetime} {repo_id})")
    .option(
      "--dry-run",
      "plan only: print per repository the upstream, kept, dropped, added-by-dependency and to-download packages and sizes (with --verbose the names); downloads no package and records no run, publishes and snapshots nothing (fetched metadata may be cached in the content-addressed pool)",
    )
    .option("--respect-windows", "refuse (exit 75) while scheduler.windows keeps the repository's scheduled syncs from starting; with --all, leave those out")
    .option("--json", "print the results as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: SyncOptions) => {
        if (!opts.repoId === !opts.all) throw new UsageError("give either a repository id (or --repo-id ID) or --all");
        refuseDryRunContradictions(opts);
        // The global -v/--verbose: debug logging, and with --dry-run the package names.
        const verbose = (sync.optsWithGlobals() as { verbose?: boolean }).verbose === true;
        const wait = waitSeconds(opts.wait); // a bad --wait is refused before the database starts
        const loaded = await ctx.loadConfig();
        let ids = opts.all ? loaded.config.repositories.filter((r) => r.enabled).map((r) => r.id) : [opts.repoId!];
        // Manual syncs ignore maintenance windows unless asked to respect them.
        if (opts.respectWindows && !opts.all) findRepository(loaded, opts.repoId!); // a mistyped id is a usage error first
        const refused = opts.respectWindows ? outsideWindows(loaded, ids, new Date()) : [];
        if (!opts.all && refused.length > 0)
          throw new OutsideWindowError(`repository ${refused[0]!.repoId} is ${refused[0]!.reason}; sync without --respect-windows to run it anyway`);
        for (const r of refused) process.stderr.write(`warning: ${r.repoId} not synced: it is ${r.reason} (--respect-windows)\n`);
        ids = ids.filter((id) => !refused.some((r) => r.repoId === id));
        const parsed = prewarmParser(loaded, ids, opts.full === true);
        // The sync's own modules (~80 ms of loading) load while the database starts instead of before it: the database's
        // start is asked for first, so its first steps are not queued behind the loading.
        const types = new Set(ids.map((id) => findRepository(loaded, id).type));
        const opened = Promise.all([ctx.openDatabase(), import("../../functions/sync.js"), ...[...types].map((t) => repositoryTypeOf(t)?.preload())]);
        // A dry run parses every element, as --full does (its ctx.force).
        if (parsed) startAhead(loaded, parsed, opts.full === true || opts.dryRun === true, ctx.log, ctx.signal);
        const [database, { combinedExitCode, runSync, syncExitCode }] = await opened;
        const progress = progressReporter(ctx.log);
        // Ctrl-C: the bar goes before the interruption is logged (core/runtime/signals.ts aborts, then logs).
        ctx.signal.addEventListener("abort", () => progress.stop(), { once: true });
        const results: SyncResult[] = [];
        // A dry run notifies nobody; a real one sends its events in the background and waits for them at the end (bounded).
        const notifier = opts.dryRun ? null : notifierFor(loaded.config, { log: ctx.log, configDir: loaded.dir });
        try {
          for (const repoId of ids) {
            if (ctx.signal.aborted) break;
            const snapshotTemplate = opts.snapshot === true ? "{repo_id}-{datetime}" : opts.snapshot || undefined;
            const result = await runSync(
              {
                repoId,
                trigger: "manual",
                waitSeconds: wait,
                force: opts.force ?? false,
                full: opts.full ?? false,
                allowDowngrade: opts.allowDowngrade ?? false,
                publish: opts.publish !== false && !opts.dryRun,
                ...(snapshotTemplate ? { snapshotTemplate } : {}),
                ...(opts.dryRun ? { dryRun: true } : {}),
              },
              { loaded, database, log: ctx.log, signal: ctx.signal, now: () => new Date(), onProgress: progress.onProgress, notifier },
            );
            results.push(result);
            // The structured result is for --verbose: the summary below (and its one error: line) is what a person reads.
            ctx.log.debug({ repo: repoId, status: result.status, run: result.runId, ...result.counts, error: result.error }, `sync ${result.status}`);
          }
        } finally {
          progress.stop();
        }
        const publish = opts.publish !== false;
        if (opts.json) printJson(opts.all ? results : results[0]);
        else if (opts.dryRun) {
          for (const r of results) {
            if (r.error) process.stderr.write(`error: ${r.repoId}: ${r.error}\n`);
            process.stdout.write(formatDryRunResult(r, verbose));
          }
        } else if (opts.all) {
          printTable(
            results.map(summaryRow),
            ["repository", "status", "packages", "downloaded", "added", "removed", "mb", "seconds", "error"].map((k) => ({ key: k, title: k.toUpperCase() })),
          );
          if (results.some((r) => leftPublished(r, publish))) process.stdout.write(`client configuration: "repo show --repo-id ID"\n`);
        } else {
          const r = results[0]!;
          // An interruption was logged once when the signal came (core/runtime/signals.ts): the summary line says the rest.
          const loggedInterrupt = r.status === "interrupted" && r.error === (ctx.signal.reason as Error | undefined)?.message && ctx.log.isLevelEnabled("warn");
          if (r.error && !loggedInterrupt) process.stderr.write(`error: ${r.error}\n`);
          process.stdout.write(syncSummaryLine(r) + `${r.published ? `\npublished: ${r.published}` : ""}${r.snapshot ? `\nsnapshot: ${r.snapshot}` : ""}\n`);
          if (leftPublished(r, publish)) process.stdout.write(await latestClientConfig(loaded, database, r.repoId));
        }
        await notifier?.settle(maxWaitMs(loaded.config), ctx.signal);
        const signalName = ctx.signal.aborted ? ((ctx.signal.reason as { signalName?: NodeJS.Signals }).signalName ?? "SIGTERM") : undefined;
        return combinedExitCode([...results.map((r) => syncExitCode(r, signalName)), ...refused.map(() => ExitCode.outsideWindow)]);
      }),
    );
}
