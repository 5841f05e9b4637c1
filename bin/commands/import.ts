// `chantal-run import BUNDLE`: verify the bundle's signature, copy its blobs into the pool, create its repositories, snapshots and group snapshots; --publish, --promote-to ENV.
import type { Command } from "commander";
import {
  describeHolder,
  exclusiveMaintenanceRunning,
  importLockRequest,
  LockHeldError,
  maintenanceLockRequest,
  repositoryLockRequest,
  withLock,
} from "../../core/db/locks.js";
import { findRepositoryRow } from "../../core/db/repositories.js";
import { promote } from "../../core/environments/promote.js";
import { LockBusyError, UsageError } from "../../core/errors.js";
import { loadKeyring } from "../../core/openpgp/signature.js";
import { publishSnapshot } from "../../core/publish/trees.js";
import type { BundleTrust } from "../../core/transfer/bundle-verify.js";
import { importBundle } from "../../core/transfer/import.js";
import { action } from "../context.js";
import { formatBytes, printJson } from "../output.js";

const PUBLISH_WAIT_MS = 60_000;

interface ImportOptions {
  trustKey?: string;
  insecureSkipSignature?: boolean;
  publish?: boolean;
  promoteTo?: string;
  json?: boolean;
}

export function register(noun: Command): void {
  noun
    .argument("[bundle]", "the bundle directory (manifest.json, manifest.json.asc, blobs/ or volume-NNNN.tar); may be read-only")
    .option("--trust-key <file>", "the exporter's public key (armored or binary key or keyring)")
    .option("--insecure-skip-signature", "do not check the signature (an unsigned bundle, a medium you trust)")
    .option("--publish", "publish every imported snapshot")
    .option("--promote-to <env>", "promote the imported group snapshot (an environment export: the one the environment served) to ENV")
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, bundle: string | undefined, opts: ImportOptions) => {
        if (bundle === undefined) throw new UsageError("import needs a BUNDLE directory (or a verb: import list, import inventory)");
        if (opts.trustKey !== undefined && opts.insecureSkipSignature)
          throw new UsageError("--trust-key and --insecure-skip-signature contradict each other: give one");
        if (opts.trustKey === undefined && !opts.insecureSkipSignature)
          throw new UsageError(
            "import verifies the bundle's signature first: give --trust-key FILE (the exporter's public key, e.g. from signing export on the connected side), or --insecure-skip-signature for a medium you trust",
          );
        const trust: BundleTrust = opts.trustKey !== undefined ? { keyring: await loadKeyring(opts.trustKey) } : { insecure: true };
        const loaded = await ctx.loadConfig();
        const database = await ctx.openDatabase();
        // One import at a time: refused at once (exit 75) rather than waited for, since an import of a medium can take
        // hours and a second one would only queue behind it; its row tells `import list` which import is alive.
        const r = await withLock(database.url, importLockRequest(`import ${bundle}`, { signal: ctx.signal }), () =>
          // Shared, as a sync: pool gc (exclusive) must not delete blobs copied in before the database records them.
          withLock(database.url, maintenanceLockRequest("shared", `import ${bundle}`, { signal: ctx.signal }), () =>
            importBundle(database.pool, loaded.config, bundle, trust, { signal: ctx.signal }),
          ).catch((err: unknown) => {
            if (err instanceof LockHeldError) throw new LockBusyError(`${exclusiveMaintenanceRunning(err.holders)}: import of ${bundle} not started`);
            throw err;
          }),
        ).catch((err: unknown) => {
          if (err instanceof LockHeldError)
            throw new LockBusyError(
              `another import is running (${err.holders.map(describeHolder).join(", ") || "another session"}): import of ${bundle} not started; run it again when that one has finished (see "import list")`,
            );
          throw err;
        });
        const published: string[] = [];
        if (opts.publish) {
          for (const snap of r.snapshots) {
            const row = await findRepositoryRow(database.pool, snap.repoId);
            await withLock(
              database.url,
              repositoryLockRequest(row!.id, `publish ${snap.repoId}/${snap.name} (import)`, { waitMs: PUBLISH_WAIT_MS, signal: ctx.signal }),
              () => publishSnapshot(database.pool, loaded.config, snap, new Date(), ctx.signal),
            );
            published.push(`${snap.repoId}/${snap.name}`);
          }
        }
        const promoted: string[] = [];
        if (opts.promoteTo !== undefined) {
          const m = r.manifest;
          const targets =
            m.environments.length > 0
              ? m.environments.map((e) => ({ group: e.group, name: e.snapshot }))
              : m.group_snapshots.map((g) => ({ group: g.group, name: g.name }));
          if (targets.length === 0)
            throw new UsageError(`--promote-to ${opts.promoteTo}: export ${m.export_id} holds no group snapshot to promote (it is of one repository snapshot)`);
          for (const t of targets) {
            await promote(database, loaded.config, {
              groupId: t.group,
              snapshotName: t.name,
              to: opts.promoteTo,
              force: true,
              note: `import ${m.export_id}`,
              signal: ctx.signal,
            });
            promoted.push(`${t.group}/${t.name}`);
          }
        }
        if (opts.json)
          return printJson({
            exportId: r.exportId,
            kind: r.kind,
            alreadyImported: r.alreadyImported,
            blobsCopied: r.blobsCopied,
            bytesCopied: r.bytesCopied,
            blobsPresent: r.blobsPresent,
            snapshotsCreated: r.snapshotsCreated,
            snapshotsPresent: r.snapshotsPresent,
            groupSnapshotsCreated: r.groupSnapshotsCreated,
            published,
            promoted: promoted.length ? { environment: opts.promoteTo, groupSnapshots: promoted } : null,
          });
        const lines = r.alreadyImported
          ? [`export ${r.exportId} was imported before: nothing changed`]
          : [
              `imported export ${r.exportId} (${r.kind}): ${r.blobsCopied} blobs copied (${formatBytes(r.bytesCopied)}), ${r.blobsPresent} already in the pool`,
              ...r.snapshotsCreated.map((s) => `  snapshot ${s}: created`),
              ...r.snapshotsPresent.map((s) => `  snapshot ${s}: already here, same content`),
              ...r.groupSnapshotsCreated.map((s) => `  group snapshot ${s}: created`),
            ];
        for (const p of published) lines.push(`  published ${p}`);
        for (const p of promoted) lines.push(`  promoted ${p} to ${opts.promoteTo}`);
        process.stdout.write(lines.join("\n") + "\n");
      }),
    );
}
