// `chantal-run export create`: write a signed bundle of a snapshot, a group snapshot or what an environment serves (full, or a delta --since/--have).
import type { Command } from "commander";
import { UsageError } from "../../core/errors.js";
import type { Selection } from "../../core/transfer/manifest.js";
import { createExport } from "../../core/transfer/export.js";
import { parseSize } from "../../core/transfer/plan.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { action } from "../context.js";
import { formatBytes, printJson } from "../output.js";

interface CreateOptions {
  repoId?: string;
  group?: string;
  snapshot?: string;
  env?: string;
  output?: string;
  format?: string;
  volumeSize?: string;
  since?: string;
  have?: string;
  unsigned?: boolean;
  json?: boolean;
}

/** --repo-id X --snapshot N | --group G --snapshot N | --env E [--group G]. */
export function selectionOf(opts: Pick<CreateOptions, "repoId" | "group" | "snapshot" | "env">): Selection {
  const want = "give --repo-id X --snapshot N, --group G --snapshot N, or --env E [--group G]";
  if (opts.env !== undefined) {
    if (opts.repoId !== undefined || opts.snapshot !== undefined) throw new UsageError(`--env exports what the environment serves now: ${want}`);
    return { kind: "environment", environment: opts.env, ...(opts.group !== undefined ? { group: opts.group } : {}) };
  }
  if (opts.snapshot === undefined) throw new UsageError(`which snapshot? ${want}`);
  if (opts.repoId !== undefined && opts.group !== undefined) throw new UsageError(`--repo-id and --group both name what to export: ${want}`);
  if (opts.repoId !== undefined) return { kind: "snapshot", repo_id: opts.repoId, snapshot: opts.snapshot };
  if (opts.group !== undefined) return { kind: "group", group: opts.group, snapshot: opts.snapshot };
  throw new UsageError(`which repository or group? ${want}`);
}

export function register(exp: Command): void {
  exp
    .command("create")
    .description(
      "write a signed bundle of a snapshot, a group snapshot or what an environment serves; --since/--have: a delta of only the blobs the other side lacks",
    )
    .option("--repo-id <id>", "export this repository's snapshot (with --snapshot)")
    .option("--group <id>", "export this group's snapshot (with --snapshot), or with --env only this group")
    .option("--snapshot <name>", "the snapshot to export")
    .option("--env <name>", "export what this environment serves now")
    .option("--output <dir>", "the bundle directory, which must not exist (default <export.dir>/<export id>)")
    .option("--format <form>", "dir (blobs/ files, the default) or tar (volume-NNNN.tar files)")
    .option("--volume-size <size>", "tar form split into volumes of at most this size (4G, 700M, 512K); implies --format tar")
    .option("--since <base>", "a delta: leave out the blobs of an earlier export (its id) or a snapshot (REPO/SNAPSHOT)")
    .option("--have <file>", "a delta: leave out the blobs the receiver lists in have.json (import inventory)")
    .option("--unsigned", "write no manifest.json.asc (the receiver must import with --insecure-skip-signature)")
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, opts: CreateOptions) => {
        const selection = selectionOf(opts);
        if (opts.format !== undefined && opts.format !== "dir" && opts.format !== "tar") throw new UsageError(`--format ${opts.format}: choose dir or tar`);
        if (opts.volumeSize !== undefined && opts.format === "dir")
          throw new UsageError("--volume-size splits tar volumes: it cannot be used with --format dir");
        const volumeSize = opts.volumeSize === undefined ? undefined : parseSize(opts.volumeSize);
        const format = opts.format ?? (volumeSize !== undefined ? "tar" : "dir");
        const { config } = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        const r = await createExport(database.pool, blobStoreOf(config), config, {
          selection,
          format,
          now: new Date(),
          signal: ctx.signal,
          ...(opts.output !== undefined ? { output: opts.output } : {}),
          ...(volumeSize !== undefined ? { volumeSize } : {}),
          ...(opts.since !== undefined ? { since: opts.since } : {}),
          ...(opts.have !== undefined ? { have: opts.have } : {}),
          ...(opts.unsigned ? { unsigned: true } : {}),
        });
        if (opts.json) return printJson(r);
        const lines = [
          `exported ${r.exportId} (${r.kind}${r.baseDescription ? ` against ${r.baseDescription}` : ""}) to ${r.path}`,
          `  snapshots: ${r.snapshots.join(", ")}`,
          `  blobs: ${r.blobsIncluded} included of ${r.blobsReferenced} referenced, ${formatBytes(r.bytesIncluded)} of ${formatBytes(r.bytesReferenced)}`,
        ];
        if (r.volumes.length > 0) lines.push(`  volumes: ${r.volumes.length} (${r.volumes.map((v) => `${v.file} ${formatBytes(v.size)}`).join(", ")})`);
        lines.push(r.signedBy ? `  signed by ${r.signedBy}` : "  unsigned (--unsigned): the receiver must pass --insecure-skip-signature");
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
    );
}
