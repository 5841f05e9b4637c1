// `chantal-run db restore`: replace the database (all or nothing) and the configuration with a verified backup.
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { formatCounts, RESTORE_NEXT_STEPS } from "../../core/backup/format.js";
import { compactTimestamp } from "../../core/backup/naming.js";
import { IDENTITY_PASSPHRASE_ENV, loadIdentity } from "../../core/backup/encryption.js";
import { executeRestore, planRestore, type RestorePlan } from "../../core/backup/restore-backup.js";
import { loadVerifier } from "../../core/backup/signing.js";
import { locateBackup } from "../../core/backup/store.js";
import { ChantalError, UsageError } from "../../core/errors.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { action } from "../context.js";
import { dataKeyed, formatLocalTimeWithZone, printJson } from "../output.js";

interface RestoreOptions {
  yes?: boolean;
  keyring?: string;
  identity?: string;
  identityPassphraseEnv?: string;
  restoreConfig?: boolean;
  json?: boolean;
}

function describePlan(plan: RestorePlan, now: Date): string {
  const m = plan.manifest;
  return [
    `backup:        ${plan.location}`,
    `               made ${formatLocalTimeWithZone(new Date(m.created_at))} on ${m.hostname} by Chantal ${m.chantal_version}, schema version ${m.database_version}`,
    `verified:      ${plan.verification.checks.length} checks passed`,
    `current:       ${formatCounts(plan.current)}`,
    `after restore: ${formatCounts(plan.backup)}`,
    `schema:        ${plan.migrateForward.length ? `migrated forward after loading (${plan.migrateForward.join(", ")})` : "as in the backup"}`,
    `configuration: ${plan.restoreConfig ? `${plan.configDir} is replaced by the backup's ${m.config_files.length} files (the current one is moved to ${plan.configDir}.backup-${compactTimestamp(now)})` : m.includes_config ? "kept (--no-restore-config)" : "kept (the backup has none)"}`,
  ].join("\n");
}

/** Only the word `yes`, typed at a terminal, confirms; without a terminal only --yes does. */
async function confirmed(opts: RestoreOptions): Promise<boolean> {
  if (opts.yes) return true;
  if (!process.stdin.isTTY) throw new UsageError("refusing to restore without confirmation: no terminal to ask on; pass --yes to restore non-interactively");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question("This replaces the whole Chantal database. Type yes to restore: ");
    return answer.trim() === "yes";
  } finally {
    rl.close();
  }
}

export function register(db: Command): void {
  db.command("restore")
    .description("replace the database (all or nothing) and the configuration with a verified backup")
    .argument("<file-or-url>", "a backup file or s3://bucket/prefix/name")
    .option("--yes", "do not ask for confirmation (required without a terminal)")
    .option("--restore-config", "replace the configuration directory with the backup's (default when the backup has one)")
    .option("--no-restore-config", "restore the database only")
    .option("--keyring <path>", "public keys the backup's signature must verify against (default: backup.signing)")
    .option("--identity <file>", "the secret key (armored) that decrypts an encrypted backup: one of backup.encrypt.recipients")
    .option("--identity-passphrase-env <var>", `the variable holding --identity's passphrase (default ${IDENTITY_PASSPHRASE_ENV})`)
    .option("--json", "print the result as JSON")
    .action(
      action(async (ctx, fileOrUrl: string, opts: RestoreOptions) => {
        const loaded = await ctx.loadConfig();
        const keyring = await loadVerifier(loaded.config.backup.signing, opts.keyring);
        const identity = opts.identity ? await loadIdentity(opts.identity, process.env, opts.identityPassphraseEnv) : undefined;
        const database = await ctx.openDatabase();
        const { store, name } = locateBackup(fileOrUrl, loaded.config);
        const env = { databaseUrl: database.url, db: database.pool, log: ctx.log, signal: ctx.signal, now: () => new Date() };
        try {
          const plan = await planRestore(
            store,
            name,
            { restoreConfig: opts.restoreConfig !== false, configDir: loaded.dir, ...(keyring ? { keyring } : {}), ...(identity ? { identity } : {}) },
            env,
          );
          process.stderr.write(describePlan(plan, new Date()) + "\n");
          if (!(await confirmed(opts))) throw new ChantalError("restore cancelled: nothing was changed");
          const outcome = await executeRestore(plan, store, name, env, { blobs: blobStoreOf(loaded.config) });
          if (opts.json) return printJson({ ...outcome, tables: dataKeyed({ ...outcome.tables }), next_steps: RESTORE_NEXT_STEPS });
          const lines = [
            `restored ${outcome.location}: ${formatCounts(plan.backup)}`,
            ...(outcome.migrated.length ? [`migrated forward: ${outcome.migrated.join(", ")}`] : []),
            outcome.configRestored
              ? `configuration restored into ${plan.configDir}${outcome.configMovedTo ? ` (the previous one is in ${outcome.configMovedTo})` : ""}`
              : "configuration unchanged",
            ...(outcome.missingBlobs
              ? [`warning: ${outcome.missingBlobs} blobs the restored database references are missing from the pool (see pool verify)`]
              : []),
            "",
            "next steps:",
            ...RESTORE_NEXT_STEPS.map((s) => `  ${s}`),
          ];
          process.stdout.write(lines.join("\n") + "\n");
        } finally {
          store.close();
        }
      }),
    );
}
