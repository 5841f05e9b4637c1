// `chantal-run config validate`: check config.yaml and conf.d/*.yaml; exit 0 when valid, 78 with every problem otherwise.
import type { Command } from "commander";
import { loadRecipients } from "../../core/backup/encryption.js";
import type { Config } from "../../core/config/schema.js";
import { ConfigError, UsageError } from "../../core/errors.js";
import { effectiveSigning } from "../../core/filter/effective.js";
import { loadSigningKey, signingLabel, SigningKeyError, type SecretKeySource } from "../../core/openpgp/sign.js";
import type { PlannedSchedule } from "../../core/cloud/plan.js";
import { assertCloudSafe, cloudSafetyIssue, loadCloudConfig } from "../../core/cloud/cloud-config.js";
import { concurrencyWarning, peakConcurrency } from "../../core/cloud/capacity.js";
import { skippedRunWarning, skippedRuns } from "../../core/cloud/daylight-saving.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

/** Every signing key of the configuration unlocks and can sign now (a wrong passphrase is found here, not at 3 a.m.). */
async function checkSigningKeys(config: Config): Promise<void> {
  const keys = new Map<string, SecretKeySource>();
  for (const repo of config.repositories) {
    const signing = effectiveSigning(config, repo);
    if (signing) keys.set(signingLabel(repo), signing);
  }
  const backup = config.backup.signing;
  if (backup?.key_file) keys.set("backup.signing", { key_file: backup.key_file, passphrase: backup.passphrase });
  const issues: ConfigError["issues"] = [];
  for (const [label, source] of keys) {
    await loadSigningKey(source, label).catch((err: unknown) => {
      if (!(err instanceof SigningKeyError)) throw err;
      issues.push(...err.issues);
    });
  }
  // backup.encrypt's recipients are public keys that can encrypt (a wrong file is found here, not by the next backup).
  if (config.backup.encrypt)
    await loadRecipients(config.backup.encrypt.recipients).catch((err: unknown) => {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
    });
  if (issues.length > 0) throw new ConfigError(issues);
}

/** cloud.max_concurrent_tasks against the week's busiest minute of the plan. */
function capacityWarnings(config: Config, schedules: PlannedSchedule[]): string[] {
  const c = config.cloud;
  if (c?.max_concurrent_tasks === undefined) return [];
  const peak = peakConcurrency(schedules, new Date(), c.typical_task_minutes);
  const w = concurrencyWarning(peak, c.max_concurrent_tasks, c.typical_task_minutes, c.spread_minutes);
  return w ? [w] : [];
}

export function register(config: Command): void {
  config
    .command("validate")
    .description("check config.yaml and conf.d/*.yaml, and that every signing key unlocks; exit 0 when valid, 78 with every problem otherwise")
    .option("--json", "print the result as JSON")
    .option("--target <target>", 'also check that every schedule can run there: "aws" (EventBridge Scheduler)')
    .action(
      action(async (ctx, opts: { json?: boolean; target?: string }) => {
        if (opts.target !== undefined && opts.target !== "aws") throw new UsageError(`unknown --target "${opts.target}" (known: aws)`);
        // For AWS, also every schedule must be representable; variables that only the task has may be unset here.
        const cloud = opts.target === "aws" ? await loadCloudConfig(ctx.configDir, process.env) : undefined;
        const loaded = cloud ? cloud.loaded : await ctx.loadConfig();
        // Valid, but a run a year may be lost: AWS drops a time that a daylight-saving change skips.
        if (cloud) assertCloudSafe(cloud);
        const warnings = cloud
          ? [
              ...cloud.safety.warnings.map((w) => {
                const i = cloudSafetyIssue(w, cloud.loaded);
                return `${i.file}: ${i.path}: ${i.message}`;
              }),
              ...skippedRuns(cloud.plan.schedules, new Date()).map(skippedRunWarning),
              ...capacityWarnings(cloud.loaded.config, cloud.plan.schedules),
            ]
          : [];
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        // The task's key files and passphrases are not on this host.
        if (opts.target !== "aws") await checkSigningKeys(loaded.config);
        const repos = loaded.config.repositories;
        const summary = {
          valid: true,
          config_dir: loaded.dir,
          files: loaded.files,
          repositories: repos.length,
          scheduled: repos.filter((r) => r.enabled && r.schedule?.enabled).length,
          ...(cloud ? { warnings } : {}),
        };
        if (opts.json) printJson(summary);
        else
          process.stdout.write(
            `configuration is valid: ${loaded.files.length} file(s), ${summary.repositories} repositories (${summary.scheduled} scheduled) in ${loaded.dir}\n`,
          );
      }),
    );
}
