// `chantal-run snapshot create`: freeze the repository's current package set and metadata (or every member of a group at once).
import type { Command } from "commander";
import { findRepository } from "../../core/config/load.js";
import { repositoryLockRequest, withLock } from "../../core/db/locks.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { UsageError } from "../../core/errors.js";
import { createGroupSnapshot } from "../../core/groups/group-snapshots.js";
import { findGroup } from "../../core/groups/groups.js";
import { snapshotNameFromTemplate } from "../../core/snapshots/name.js";
import { createSnapshot } from "../../core/snapshots/snapshots.js";
import { publishSnapshot } from "../../core/publish/trees.js";
import { action, type CommandContext } from "../context.js";
import { printJson } from "../output.js";
import { repoIdArgument, wholeNumber } from "../repo-id.js";

interface CreateOptions {
  repoId?: string;
  group?: string;
  name?: string;
  description?: string;
  publish?: boolean;
  wait?: number;
  json?: boolean;
}

/** --group: every member frozen under one name in one transaction; a member being synced is waited for (--wait) or named. */
async function createForGroup(ctx: CommandContext, groupId: string, opts: CreateOptions): Promise<void> {
  const loaded = await ctx.loadConfig();
  const group = findGroup(loaded.config, groupId);
  const database = await ctx.openDatabase();
  // {repo_id} in a group snapshot's name is the group's id: every member gets the same name.
  const name = snapshotNameFromTemplate(opts.name ?? "{repo_id}-{datetime}", { repoId: group.id, now: new Date() });
  const gs = await createGroupSnapshot(database.pool, database.url, loaded.config, group, name, {
    ...(opts.description ? { description: opts.description } : {}),
    waitMs: (opts.wait ?? 0) * 1000,
    signal: ctx.signal,
  });
  if (opts.json) return printJson(gs);
  const lines = gs.members.map((m) => `  ${m.repoId}: ${m.packageCount} packages, ${(m.totalSize / 1_048_576).toFixed(1)} MB`);
  process.stdout.write(`created snapshot ${gs.name} of group ${gs.groupId} (${gs.members.length} members)\n${lines.join("\n")}\n`);
}

export function register(snapshot: Command): void {
  repoIdArgument(
    snapshot.command("create").description("freeze the repository's current package set and metadata (--group: every member of a group at once)"),
    "repository (required unless --group)",
  )
    .option("--group <id>", "freeze every repository of this group under one name, in one transaction")
    .option(
      "--name <name>",
      "snapshot name or template ({date} {time} {datetime} {repo_id}; with --group {repo_id} is the group id; default {repo_id}-{datetime})",
    )
    .option("--description <text>", "free text")
    .option("--publish", "also publish it under <published>/<repo-id>/snapshots/<name>")
    .option("--wait <seconds>", "with --group: wait this long for members being synced (default: fail at once, naming them)", wholeNumber)
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: CreateOptions) => {
        if (opts.group !== undefined && opts.repoId !== undefined) throw new UsageError("give a repository id or --group, not both");
        if (opts.group !== undefined) {
          if (opts.publish) throw new UsageError("--publish applies to one repository: a group snapshot is published by promote");
          return createForGroup(ctx, opts.group, opts);
        }
        if (opts.repoId === undefined) throw new UsageError("missing repository id: give it as the argument, with --repo-id ID, or --group ID");
        const loaded = await ctx.loadConfig();
        const repo = findRepository(loaded, opts.repoId);
        const database = await ctx.openDatabase();
        const row = await ensureRepository(database.pool, repo);
        const name = snapshotNameFromTemplate(opts.name ?? "{repo_id}-{datetime}", { repoId: repo.id, now: new Date() });
        const snap = await createSnapshot(database.pool, row.id, repo.id, name, opts.description);
        // Publishing takes the repository lock, like every publish: it must not race a sync's publish of latest.
        const published = opts.publish
          ? (
              await withLock(database.url, repositoryLockRequest(row.id, `publish ${repo.id}/${snap.name}`, { waitMs: 3600_000, signal: ctx.signal }), () =>
                publishSnapshot(database.pool, loaded.config, snap, new Date(), ctx.signal),
              )
            ).path
          : undefined;
        if (opts.json) return printJson({ ...snap, published });
        process.stdout.write(
          `created snapshot ${snap.name} of ${repo.id}: ${snap.packageCount} packages, ${(snap.totalSize / 1_048_576).toFixed(1)} MB${published ? `\npublished: ${published}` : ""}\n`,
        );
      }),
    );
}
