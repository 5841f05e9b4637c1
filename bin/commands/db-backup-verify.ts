// `chantal-run db backup-verify`: check a backup: tar readable, manifest valid, every member's sha256, dump complete, config present (exit 1 on any failure).
import type { Command } from "commander";
import { formatCheck, optionalConfig } from "../../core/backup/format.js";
import { IDENTITY_PASSPHRASE_ENV, loadIdentity } from "../../core/backup/encryption.js";
import { deepVerify } from "../../core/backup/restore-backup.js";
import { loadVerifier } from "../../core/backup/signing.js";
import { locateBackup } from "../../core/backup/store.js";
import { verifyBackup, type VerifyCheck } from "../../core/backup/verify.js";
import { errorMessage, ExitCode } from "../../core/errors.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

export function register(db: Command): void {
  db.command("backup-verify")
    .description("check a backup: tar readable, manifest valid, every member's sha256, dump complete, config present (exit 1 on any failure)")
    .argument("<file-or-url>", "a backup file or s3://bucket/prefix/name")
    .option("--deep", "also load the dump into a scratch schema inside a transaction, compare the row counts with the manifest, and roll back")
    .option("--keyring <path>", "public keys the backup's signature must verify against (default: backup.signing)")
    .option("--identity <file>", "the secret key (armored) that decrypts an encrypted backup: one of backup.encrypt.recipients")
    .option("--identity-passphrase-env <var>", `the variable holding --identity's passphrase (default ${IDENTITY_PASSPHRASE_ENV})`)
    .option("--json", "print the checks as JSON")
    .action(
      action(async (ctx, fileOrUrl: string, opts: { deep?: boolean; json?: boolean; keyring?: string; identity?: string; identityPassphraseEnv?: string }) => {
        const config = await optionalConfig(ctx.loadConfig);
        const keyring = await loadVerifier(config?.backup.signing, opts.keyring);
        const identity = opts.identity ? await loadIdentity(opts.identity, process.env, opts.identityPassphraseEnv) : undefined;
        const { store, name } = locateBackup(fileOrUrl, config);
        try {
          const report = await verifyBackup(store, name, {
            signal: ctx.signal,
            requireContents: true,
            ...(keyring ? { keyring } : {}),
            ...(identity ? { identity } : {}),
          });
          const checks: VerifyCheck[] = [...report.checks];
          if (opts.deep && report.ok && report.manifest) {
            const database = await ctx.openDatabase();
            try {
              const loaded = await deepVerify(store, name, report.manifest, { databaseUrl: database.url, signal: ctx.signal }, identity);
              for (const [table, c] of Object.entries(loaded.tables))
                checks.push({ ok: c.actual === c.expected, label: `restored ${table}`, detail: `${c.actual} rows (manifest: ${c.expected})` });
              if (loaded.migrated.length) checks.push({ ok: true, label: "migrates forward", detail: loaded.migrated.join(", ") });
              checks.push({ ok: true, label: "scratch restore rolled back" });
            } catch (err) {
              checks.push({ ok: false, label: "restores into a scratch schema", detail: errorMessage(err) });
            }
          } else if (opts.deep) {
            checks.push({ ok: false, label: "restores into a scratch schema", detail: "skipped: the archive failed the checks above" });
          }
          const ok = checks.every((c) => c.ok);
          if (opts.json) printJson({ location: report.location, ok, checks });
          else process.stdout.write(`${report.location}\n${checks.map(formatCheck).join("\n")}\n${ok ? "backup is valid" : "backup is NOT valid"}\n`);
          return ok ? ExitCode.ok : ExitCode.failed;
        } finally {
          store.close();
        }
      }),
    );
}
