// `chantal-run storage usage`: per repository the bytes of its current set, its snapshots only and those shared with others; the pool, its free space, what pool gc would free.
import type { Command } from "commander";
import { DEFAULT_PROTECT_MINUTES } from "../../core/lifecycle/gc.js";
import { storageUsage } from "../../core/storage/usage.js";
import { action } from "../context.js";
import { formatBytes, printJson, printTable } from "../output.js";
import { checkKnownRepositoryId, repoIdArgument } from "../repo-id.js";

export function register(storage: Command): void {
  repoIdArgument(
    storage
      .command("usage")
      .description(
        "per repository the bytes of its current set, of its snapshots only and those shared with other repositories; the pool's total, its free space and what pool gc would free",
      ),
    "only this repository (the pool's figures stay whole)",
  )
    .option("--json", "print the result as JSON (bytes as numbers)")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId?: string; json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        if (opts.repoId) await checkKnownRepositoryId(loaded, database, opts.repoId);
        const protectMinutes = loaded.config.pool?.gc?.protect_minutes ?? DEFAULT_PROTECT_MINUTES;
        const u = await storageUsage(database.pool, loaded.config, {
          ...(opts.repoId ? { repoId: opts.repoId } : {}),
          protectMs: protectMinutes * 60_000,
          signal: ctx.signal,
        });
        if (opts.json) return printJson(u);
        printTable(
          u.repositories.map((r) => ({
            repository: r.repoId,
            current: formatBytes(r.current.bytes),
            snapshots_only: formatBytes(r.snapshotsOnly.bytes),
            shared: formatBytes(r.shared.bytes),
            total: formatBytes(r.total.bytes),
          })),
          [
            { key: "repository", title: "REPOSITORY" },
            { key: "current", title: "CURRENT" },
            { key: "snapshots_only", title: "SNAPSHOTS ONLY" },
            { key: "shared", title: "SHARED" },
            { key: "total", title: "TOTAL" },
          ],
        );
        process.stdout.write(
          [
            `referenced by any repository (shared blobs once): ${formatBytes(u.referenced.bytes)} in ${u.referenced.blobs} blobs`,
            `pool ${u.pool.location}: ${formatBytes(u.pool.bytes)} in ${u.pool.blobs} blobs${u.freeBytes !== null ? `, ${formatBytes(u.freeBytes)} free on its filesystem` : ""}`,
            `pool gc would free ${formatBytes(u.reclaimable.bytes)} in ${u.reclaimable.blobs} blobs (orphans older than ${protectMinutes} minutes)`,
          ].join("\n") + "\n",
        );
      }),
    );
}
