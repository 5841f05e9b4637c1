// `chantal-run pool verify`: check that every blob the database references is in the pool with the right size (--deep: sha256); exit 1 when any is missing or bad.
import type { Command } from "commander";
import { verifyPool } from "../../core/storage/pool-verify.js";
import { describeHolder, LockHeldError, maintenanceLockRequest, withLock } from "../../core/db/locks.js";
import { LockBusyError } from "../../core/errors.js";
import { ExitCode } from "../../core/errors.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { action } from "../context.js";
import { printJson } from "../output.js";
import { repoIdArgument } from "../repo-id.js";

const SHOWN = 20;

export function register(pool: Command): void {
  repoIdArgument(
    pool
      .command("verify")
      .description("check that every blob the database references is in the pool with the right size (--deep: sha256); exit 1 when any is missing or bad"),
    "only the blobs of this repository (current set, metadata, snapshots)",
  )
    .option("--deep", "also hash every blob (reads the whole pool)")
    .option("--fix", "delete bad blobs and make the next sync of the affected repositories re-read upstream and download what is missing")
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: { repoId?: string; deep?: boolean; fix?: boolean; json?: boolean }) => {
        const { config } = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const blobs = blobStoreOf(config);
        const verify = () =>
          verifyPool(database.pool, blobs, {
            ...(opts.repoId ? { repoId: opts.repoId } : {}),
            deep: opts.deep ?? false,
            fix: opts.fix ?? false,
            signal: ctx.signal,
          });
        // --fix changes what syncs rely on (blobs, index checksums): it runs while no sync does, like a restore.
        const r = opts.fix
          ? await withLock(database.url, maintenanceLockRequest("exclusive", "pool verify --fix", { signal: ctx.signal }), verify).catch((err: unknown) => {
              if (err instanceof LockHeldError)
                throw new LockBusyError(`syncs are running (${err.holders.map(describeHolder).join(", ")}): run pool verify --fix when they have finished`);
              throw err;
            })
          : await verify();
        if (opts.json) {
          printJson(r);
          return r.problems.length ? ExitCode.failed : ExitCode.ok;
        }
        const lines = [`checked ${r.checked.packages} packages and ${r.checked.metadata} metadata files in ${blobs.location}${opts.deep ? " (sha256)" : ""}`];
        if (r.problems.length === 0) lines.push("✓ every referenced blob is in the pool");
        else {
          const count = (k: string) => r.problems.filter((p) => p.kind === k).length;
          lines.push(`✗ ${count("missing")} missing, ${count("size")} with the wrong size, ${count("sha256")} with the wrong sha256`);
          for (const p of r.problems.slice(0, SHOWN))
            lines.push(
              `  ${p.kind.padEnd(7)} ${p.blob.padEnd(8)} ${p.sha256}${p.actualSize !== undefined ? ` (${p.actualSize} bytes, expected ${p.expectedSize})` : ""}`,
            );
          if (r.problems.length > SHOWN) lines.push(`  … ${r.problems.length - SHOWN} more (--json lists them all)`);
          if (r.repositories.length) lines.push(`repositories affected: ${r.repositories.join(", ")}`);
          if (r.snapshots.length) lines.push(`snapshots affected: ${r.snapshots.map((s) => `${s.repository}/${s.name}`).join(", ")}`);
          if (r.fixed) {
            lines.push(
              `fixed: removed ${r.fixed.removed} bad blobs; the next sync of ${r.fixed.resetRepositories.join(", ") || "(none)"} re-reads upstream and downloads what is missing`,
            );
            if (r.snapshots.length)
              lines.push("blobs only snapshots need come back only if upstream still has them; otherwise restore the pool from your file backup");
          } else {
            lines.push(
              "run `pool verify --fix`, then `repo sync --all` (a sync whose upstream index is unchanged does not re-download missing blobs until then)",
            );
          }
        }
        process.stdout.write(lines.join("\n") + "\n");
        return r.problems.length ? ExitCode.failed : ExitCode.ok;
      }),
    );
}
