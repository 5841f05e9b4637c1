// snapshot create | list | diff | delete
import type { Command } from "commander";
import { findRepository } from "../../core/config/load.js";
import { acquireLock, repositoryLockRequest } from "../../core/db/locks.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { ChantalError } from "../../core/errors.js";
import { snapshotNameFromTemplate } from "../../core/snapshots/name.js";
import { createSnapshot, deleteSnapshotRow, diffSnapshots, formatEvr, getSnapshot, listSnapshots } from "../../core/snapshots/snapshots.js";
import { publishSnapshot, unpublishSnapshot } from "../../core/sync/publish-repo.js";
import { action } from "../context.js";
import { printJson, printTable } from "../output.js";

export function register(program: Command): void {
  const snapshot = program.command("snapshot").description("freeze, compare and delete snapshots of a repository");

  snapshot
    .command("create")
    .description("freeze the repository's current package set and metadata")
    .requiredOption("--repo-id <id>", "repository")
    .option("--name <name>", "snapshot name or template ({date} {time} {datetime} {repo_id})", "{repo_id}-{datetime}")
    .option("--description <text>", "free text")
    .option("--publish", "also publish it under <published>/<repo-id>/snapshots/<name>")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { repoId: string; name: string; description?: string; publish?: boolean; json?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const repo = findRepository(loaded, opts.repoId);
        const database = await ctx.openDatabase();
        const row = await ensureRepository(database.pool, repo);
        const name = snapshotNameFromTemplate(opts.name, { repoId: repo.id, now: new Date() });
        const snap = await createSnapshot(database.pool, row.id, repo.id, name, opts.description);
        const published = opts.publish ? (await publishSnapshot(database.pool, loaded.config, snap, new Date(), ctx.signal)).path : undefined;
        if (opts.json) return printJson({ ...snap, published });
        process.stdout.write(`created snapshot ${snap.name} of ${repo.id}: ${snap.packageCount} packages, ${(snap.totalSize / 1_048_576).toFixed(1)} MB${published ? `\npublished: ${published}` : ""}\n`);
      }),
    );

  snapshot
    .command("list")
    .description("list snapshots, newest first")
    .option("--repo-id <id>", "only this repository")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, opts: { repoId?: string; json?: boolean }) => {
        const database = await ctx.openDatabase();
        const rows = await listSnapshots(database.pool, opts.repoId);
        if (opts.json) return printJson(rows);
        printTable(
          rows.map((s) => ({ repository: s.repoId, name: s.name, packages: s.packageCount, mb: (s.totalSize / 1_048_576).toFixed(1), created: s.createdAt.toISOString(), published: s.publishedAt?.toISOString() ?? "no" })),
          ["repository", "name", "packages", "mb", "created", "published"].map((k) => ({ key: k, title: k.toUpperCase() })),
        );
      }),
    );

  snapshot
    .command("diff")
    .description("packages added, removed and updated (by name and arch, in RPM EVR order) from snapshot A to B")
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

  snapshot
    .command("delete")
    .description("delete a snapshot (its blobs stay in the pool); a published one only with --force")
    .requiredOption("--repo-id <id>", "repository")
    .requiredOption("--name <name>", "snapshot")
    .option("--force", "also unpublish it")
    .action(
      action(async (ctx, opts: { repoId: string; name: string; force?: boolean }) => {
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const snap = await getSnapshot(database.pool, opts.repoId, opts.name);
        if (snap.publishedAt && !opts.force) {
          throw new ChantalError(`snapshot ${snap.name} of ${snap.repoId} is published (since ${snap.publishedAt.toISOString()}): clients may use it; add --force to unpublish and delete it`);
        }
        const repoRow = await ensureRepository(database.pool, findRepository(loaded, opts.repoId));
        const lock = await acquireLock(database.url, repositoryLockRequest(repoRow.id, `snapshot delete ${snap.name}`, { waitMs: 30_000, signal: ctx.signal }));
        try {
          const unpublished = await unpublishSnapshot(loaded.config, snap);
          await deleteSnapshotRow(database.pool, snap.id);
          process.stdout.write(`deleted snapshot ${snap.name} of ${snap.repoId}${unpublished ? " (unpublished)" : ""}\n`);
        } finally {
          await lock.release();
        }
      }),
    );
}
