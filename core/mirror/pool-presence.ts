// Which blobs of a plan the pool holds: the repository's current set by the database, the rest asked of the pool.
import { repositoryPackageSet } from "../db/package-sets.js";
import type { RepoSyncContext } from "./types.js";

function trustsPreviousSet(ctx: Pick<RepoSyncContext, "force" | "row">): boolean {
  return !ctx.force && ctx.row.indexChecksum !== null;
}

/**
 * Starts reading the set presentBlobs will trust, so that the query runs while the package list is parsed (the main
 * thread waits on the parser's worker then). An error is thrown where presentBlobs awaits it, not here.
 */
export function readPreviousSetAhead(ctx: Pick<RepoSyncContext, "db" | "row" | "force" | "previousSetRead">): void {
  if (!trustsPreviousSet(ctx) || ctx.previousSetRead) return;
  const read = repositoryPackageSet(ctx.db, ctx.row.id);
  read.catch(() => undefined);
  ctx.previousSetRead = read;
}

/**
 * The plan by difference against the previous set: when the repository's last sync completed (its index checksum is
 * recorded), every blob of its current set is in the pool — the commit flushed them before recording them, pool gc
 * removes only unreferenced blobs, and `pool verify --fix` and a restore forget the checksum when blobs go missing —
 * so only the other sha256s are stated (20,000 stats cost 1-2 s through the thread pool). `--full` (ctx.force) and a
 * dry run state them all, as before. The set read is kept in ctx.previousSet, for the commit to write only what changed.
 */
export async function presentBlobs(
  ctx: Pick<RepoSyncContext, "db" | "blobs" | "row" | "force" | "previousSet" | "previousSetRead">,
  shas: readonly string[],
): Promise<Set<string>> {
  if (!trustsPreviousSet(ctx) || shas.length === 0) return ctx.blobs.haveMany(shas);
  ctx.previousSet = await (ctx.previousSetRead ?? repositoryPackageSet(ctx.db, ctx.row.id));
  const known = new Set(ctx.previousSet.values());
  const present = new Set<string>();
  const ask: string[] = [];
  for (const s of shas) {
    const lower = s.toLowerCase();
    if (known.has(lower)) present.add(lower);
    else ask.push(s);
  }
  for (const s of await ctx.blobs.haveMany(ask)) present.add(s);
  return present;
}
