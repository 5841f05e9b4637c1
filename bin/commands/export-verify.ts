// `chantal-run export verify BUNDLE`: check a bundle without importing it: signature, manifest, every volume and blob; --against: a delta's base is here. Exit 65 when anything is wrong.
import type { Command } from "commander";
import { recordedBlobs } from "../../core/db/package-sets.js";
import { ExitCode, UsageError } from "../../core/errors.js";
import { loadKeyring } from "../../core/openpgp/signature.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { verifyBundle, type BundleTrust } from "../../core/transfer/bundle-verify.js";
import { describeSelection } from "../../core/transfer/manifest.js";
import { action } from "../context.js";
import { formatBytes, printJson } from "../output.js";

const SHOWN = 20;

interface VerifyOptions {
  trustKey?: string;
  insecureSkipSignature?: boolean;
  against?: boolean;
  json?: boolean;
}

export function register(exp: Command): void {
  exp
    .command("verify")
    .description("check a bundle without importing it: the signature, the manifest, every volume and blob; exit 65 when anything is wrong")
    .argument("<bundle>", "the bundle directory (manifest.json, manifest.json.asc, blobs/ or volume-NNNN.tar)")
    .option("--trust-key <file>", "the exporter's public key (armored or binary key or keyring, or a directory of them)")
    .option("--insecure-skip-signature", "do not check the signature (an unsigned bundle, a medium you trust)")
    .option("--against", "also check that a delta's other blobs are in this installation's database and pool (run it on the import side)")
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, bundle: string, opts: VerifyOptions) => {
        if (opts.trustKey !== undefined && opts.insecureSkipSignature)
          throw new UsageError("--trust-key and --insecure-skip-signature contradict each other: give one");
        if (opts.trustKey === undefined && !opts.insecureSkipSignature)
          throw new UsageError("which key signed the bundle? give --trust-key FILE (the exporter's public key), or --insecure-skip-signature");
        const trust: BundleTrust = opts.trustKey !== undefined ? { keyring: await loadKeyring(opts.trustKey) } : { insecure: true };
        let against: ((shas: string[]) => Promise<Set<string>>) | undefined;
        if (opts.against) {
          const { config } = await ctx.loadConfig();
          const database = await ctx.openDatabase();
          const blobs = blobStoreOf(config);
          against = async (shas) => {
            const recorded = await recordedBlobs(database.pool, shas);
            const present = await blobs.haveMany(
              shas.filter((s) => recorded.has(s)),
              16,
            );
            return new Set(shas.filter((s) => !present.has(s)));
          };
        }
        const r = await verifyBundle(bundle, trust, { signal: ctx.signal, ...(against ? { against } : {}) });
        const m = r.manifest;
        const bytes = m.blobs.reduce((n, b) => n + b.size, 0);
        if (opts.json) {
          printJson({
            bundle,
            ok: r.problems.length === 0,
            exportId: m.export_id,
            kind: m.kind,
            baseExportId: m.base_export_id,
            baseDescription: m.base_description,
            instanceId: m.instance_id,
            createdAt: new Date(m.created_at),
            selection: describeSelection(m.selection),
            signedBy: r.signedBy,
            manifestSha256: r.manifestSha256,
            blobs: m.blobs.length,
            bytes,
            volumes: m.volumes.length,
            external: r.external,
            problems: r.problems,
          });
          return r.problems.length ? ExitCode.dataError : ExitCode.ok;
        }
        const lines = [
          `bundle ${bundle}: export ${m.export_id} (${m.kind}${m.base_description ? ` against ${m.base_description}` : ""}) of ${describeSelection(m.selection)} from instance ${m.instance_id}`,
          r.signedBy ? `  signature: good (trusted keys ${opts.trustKey})` : "  signature: NOT checked (--insecure-skip-signature)",
          `  ${m.snapshots.length} snapshots, ${m.blobs.length} blobs (${formatBytes(bytes)})${m.volumes.length ? ` in ${m.volumes.length} volumes` : ""}`,
        ];
        if (r.external)
          lines.push(
            `  ${r.external.referenced} further blobs are expected at the receiver${r.external.missing === null ? " (not checked: add --against on the import side)" : r.external.missing === 0 ? ": all here" : `: ${r.external.missing} missing`}`,
          );
        if (r.problems.length === 0) lines.push("✓ the bundle is complete and intact");
        else {
          lines.push(`✗ ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}:`);
          for (const p of r.problems.slice(0, SHOWN)) lines.push(`  ${p}`);
          if (r.problems.length > SHOWN) lines.push(`  … ${r.problems.length - SHOWN} more (--json lists them all)`);
        }
        process.stdout.write(`${lines.join("\n")}\n`);
        return r.problems.length ? ExitCode.dataError : ExitCode.ok;
      }),
    );
}
