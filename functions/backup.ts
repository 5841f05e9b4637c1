// The backup handler: one shape for the CLI, the local scheduler, a Fargate task and CI (DESIGN.md "The handler contract").
// It never exits the process: the caller maps the status to an exit code (backupExitCode).
import type { Config } from "../core/config/schema.js";
import { createBackup, type BackupCounts, type BackupEnv, type BackupOutcome, type BackupRequest } from "../core/backup/create.js";
import { AbortedError, ConfigError, errorMessage, failureCause, LockBusyError } from "../core/errors.js";
import { redactText } from "../core/redact.js";
import { backupEvents } from "../core/notify/events.js";
import type { Notifier } from "../core/notify/notifier.js";
import { statusExitCode } from "./exit-code.js";

export type { BackupRequest, BackupOutcome, BackupCounts };

export type BackupStatus = "success" | "skipped-locked" | "failed" | "interrupted";

/** What the handler needs: the same as core's backup environment. */
export type BackupContext = BackupEnv;

export interface BackupResult {
  status: BackupStatus;
  /** The archive's path or s3:// URL. */
  location: string | null;
  size: number;
  counts: BackupCounts | null;
  durationMs: number;
  /** Backups deleted by backup.retention afterwards. */
  pruned: string[];
  error?: string;
  /** A retention failure after a good backup (the status stays success). */
  pruneError?: string;
  outcome?: BackupOutcome;
}

/** The request a scheduled or cloud run makes: everything from the backup section of the configuration. */
export function backupRequestFromConfig(config: Config, overrides: Partial<BackupRequest> = {}): BackupRequest {
  return {
    includeConfig: config.backup.include_config,
    compress: config.backup.compress,
    ...(config.backup.target ? { target: config.backup.target } : {}),
    ...overrides,
  };
}

/** Back up, then hand backup.succeeded / backup.failed to the notifier (delivered in the background, never awaited). */
export async function runBackup(req: BackupRequest, ctx: BackupContext, opts: { notifier?: Notifier | null } = {}): Promise<BackupResult> {
  const notify = (r: Pick<BackupResult, "status" | "location" | "size" | "durationMs" | "error">) => {
    try {
      opts.notifier?.emit(backupEvents(r, { now: ctx.now() }));
    } catch (err) {
      ctx.log.warn({ error: errorMessage(err) }, "notifications of this backup not sent");
    }
  };
  const started = Date.now();
  try {
    const result = await backupOnce(req, ctx, started);
    notify(result);
    return result;
  } catch (err) {
    // A configuration that cannot work (exit 78) is still a backup that did not happen.
    if (err instanceof ConfigError) notify({ status: "failed", location: null, size: 0, durationMs: Date.now() - started, error: err.message });
    throw err;
  }
}

async function backupOnce(req: BackupRequest, ctx: BackupContext, started: number): Promise<BackupResult> {
  const base = { location: null, size: 0, counts: null, pruned: [] as string[] };
  try {
    const outcome = await createBackup(req, ctx);
    return {
      status: "success",
      location: outcome.location,
      size: outcome.size,
      counts: outcome.counts,
      durationMs: Date.now() - started,
      pruned: outcome.prune?.deleted ?? [],
      ...(outcome.pruneError ? { pruneError: outcome.pruneError } : {}),
      outcome,
    };
  } catch (err) {
    // A configuration that cannot work (an unreadable signing key) is exit 78 with its key path, not a failed run.
    if (err instanceof ConfigError) throw err;
    const cause = failureCause(err, ctx.signal);
    const status: BackupStatus = cause instanceof AbortedError ? "interrupted" : err instanceof LockBusyError ? "skipped-locked" : "failed";
    ctx.log.debug({ err }, "backup failed");
    return { status, ...base, durationMs: Date.now() - started, error: redactText(errorMessage(cause)) };
  }
}

/** Exit code of a backup result (DESIGN.md "Conventions"). */
export function backupExitCode(result: Pick<BackupResult, "status">, signal?: NodeJS.Signals): number {
  return statusExitCode(result.status, signal);
}
