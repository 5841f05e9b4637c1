// The container entry (Fargate task, CI job): `node dist/functions/entry.js sync --repo-id X [--snapshot T]`,
// `... backup`, `... pool-gc`, `... group-snapshot --group G [--name T]`, or the same request as SST_EVENT JSON. It runs exactly the handlers the local runner runs,
// logs JSON lines on stdout, and starts like the CLI (core/runtime/command.ts): SIGTERM is a clean abort, DESIGN.md's exit codes.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadConfig, resolveConfigDir, type LoadedConfig } from "../core/config/load.js";
import { openDatabase } from "../core/db/client.js";
import { type AbortedError, ConfigError, type ConfigIssue, UsageError } from "../core/errors.js";
import { jsonValue } from "../core/json-output.js";
import { createLogger, type Logger } from "../core/log.js";
import { runCommand } from "../core/runtime/command.js";
import type { Failure } from "../core/runtime/failure.js";
import { backupExitCode, backupRequestFromConfig, runBackup } from "./backup.js";
import { progressLines } from "./progress-lines.js";
import { runSync, syncExitCode } from "./sync.js";
import { maxWaitMs, notifierFor } from "../core/notify/notifier.js";
import { poolGcExitCode, runScheduledPoolGc } from "./pool-gc.js";
import { groupSnapshotExitCode, runScheduledGroupSnapshot } from "./group-snapshot.js";
import { DEFAULT_CLOUD_TIMEZONE } from "../core/cloud/plan.js";
import { syncMetricRecord } from "../core/cloud/metric-line.js";
import { DATABASE_TLS_VARIABLE, DATABASE_VARIABLES, databasePasswordParameterName, RDS_CA_BUNDLE } from "../core/cloud/cloud-config.js";

const TaskEventSchema = z.discriminatedUnion("handler", [
  z.strictObject({
    handler: z.literal("sync"),
    repoId: z.string().min(1),
    trigger: z.enum(["cloud", "schedule", "manual"]).default("cloud"),
    snapshotTemplate: z.string().min(1).optional(),
  }),
  z.strictObject({ handler: z.literal("backup"), trigger: z.enum(["cloud", "schedule", "manual"]).default("cloud") }),
  z.strictObject({ handler: z.literal("pool-gc"), trigger: z.enum(["cloud", "schedule", "manual"]).default("cloud") }),
  z.strictObject({
    handler: z.literal("group-snapshot"),
    groupId: z.string().min(1),
    trigger: z.enum(["cloud", "schedule", "manual"]).default("cloud"),
    nameTemplate: z.string().min(1).optional(),
  }),
]);
export type TaskInput = z.output<typeof TaskEventSchema>;

const USAGE = "usage: entry sync --repo-id ID [--snapshot TEMPLATE] | entry backup | entry pool-gc | entry group-snapshot --group ID [--name TEMPLATE]";
const SYNC_OPTIONS = { "repo-id": { type: "string" }, snapshot: { type: "string" } } as const;
const GROUP_OPTIONS = { group: { type: "string" }, name: { type: "string" } } as const;

function unexpected(arg: string): UsageError {
  return new UsageError(`unexpected argument "${arg}" (${USAGE})`);
}

function fromArgv(args: string[]): unknown {
  const [handler, ...rest] = args;
  const options = handler === "group-snapshot" ? GROUP_OPTIONS : SYNC_OPTIONS;
  // Not strict: its tokens let every refusal name the argument, in one message.
  const { values, tokens } = parseArgs({ args: rest, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind === "positional") throw unexpected(t.value);
    if (t.kind === "option-terminator") throw unexpected("--");
    if (!(t.name in options) || t.value === undefined) throw unexpected(t.rawName);
  }
  if (handler === "group-snapshot") {
    const name = values.name as string | undefined;
    return { handler, groupId: values.group, ...(name !== undefined ? { nameTemplate: name } : {}) };
  }
  const repoId = values["repo-id"] as string | undefined;
  const snapshot = values.snapshot as string | undefined;
  if (handler === "sync") return { handler, repoId, ...(snapshot !== undefined ? { snapshotTemplate: snapshot } : {}) };
  if (handler === "backup" || handler === "pool-gc") {
    const first = tokens[0];
    if (first?.kind === "option") throw unexpected(first.rawName); // a backup or a pool gc takes no options
    return { handler };
  }
  throw new UsageError(`unknown handler "${handler}" (sync, backup, pool-gc or group-snapshot)`);
}

/** The request: from argv when it names a handler, else from SST_EVENT. */
export function parseTaskInput(args: string[], env: NodeJS.ProcessEnv): TaskInput {
  let raw: unknown;
  if (args.length > 0) raw = fromArgv(args);
  else if (env.SST_EVENT) {
    try {
      raw = JSON.parse(env.SST_EVENT);
    } catch {
      throw new UsageError("SST_EVENT is not valid JSON");
    }
  } else throw new UsageError("no task: pass `sync --repo-id ID`, `backup`, `pool-gc`, `group-snapshot --group ID`, or SST_EVENT");
  const parsed = TaskEventSchema.safeParse(raw);
  if (!parsed.success)
    throw new UsageError(`invalid task input: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/**
 * The task's database URL from the app's variables (core/cloud/cloud-config.ts DATABASE_VARIABLES): host, port,
 * user and name as plain environment, the password as the ECS secret. Undefined when none is set (a local run
 * uses database.url or CHANTAL_DATABASE_URL); a partial set is a configuration error naming what is missing.
 */
export function taskDatabaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  const v = DATABASE_VARIABLES;
  const names = Object.values(v);
  if (!names.some((n) => env[n])) return undefined;
  const missing = [v.host, v.user, v.name, v.password].filter((n) => !env[n]);
  const port = env[v.port] || "5432";
  const set = names.filter((n) => env[n]).join(", ");
  const issues: ConfigIssue[] = missing.map((n) => ({
    file: "the task's environment",
    path: n,
    message:
      n === v.password
        ? `is not set (the task has ${set}): ECS injects it from the SSM parameter ${databasePasswordParameterName("<stage>")}, which sst deploy creates; fix: redeploy with sst deploy, or set it along with the others`
        : `is not set (the task has ${set}): sst deploy sets all of ${names.join(", ")}; fix: redeploy with sst deploy, or set it along with the others`,
  }));
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    issues.push({ file: "the task's environment", path: v.port, message: `is "${port}", not a TCP port (1-65535)` });
  if (issues.length > 0) throw new ConfigError(issues);
  const part = (n: string) => encodeURIComponent(env[n] as string);
  const tls = env[DATABASE_TLS_VARIABLE];
  // verify-full checks RDS's certificate against the CA bundle the Dockerfile puts in the image; require (pg: no-verify) only encrypts.
  const query = tls === "verify-full" ? `?sslmode=verify-full&sslrootcert=${encodeURIComponent(RDS_CA_BUNDLE)}` : tls === "require" ? "?sslmode=no-verify" : "";
  // The password is percent-encoded like the user and the name: pg decodes the userinfo, so @ : / % # ? survive.
  return `postgres://${part(v.user)}:${part(v.password)}@${hostPart(env[v.host] as string)}:${port}/${part(v.name)}${query}`;
}

/** An IPv6 literal in brackets, a name as it is. */
function hostPart(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

async function taskConfig(env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<LoadedConfig> {
  if (!env.CHANTAL_CONFIG_S3_URI) return loadConfig({ configDir: resolveConfigDir(undefined, env), env });
  const { downloadConfigDir } = await import("../core/cloud/config-source.js");
  const downloaded = await downloadConfigDir(env.CHANTAL_CONFIG_S3_URI, join(tmpdir(), "chantal-task"), { signal });
  return loadConfig({ configDir: downloaded.dir, env });
}

/** Pooled connections of one task, unless database.max_connections says otherwise. */
export const TASK_MAX_CONNECTIONS = 2;

async function runTask(input: TaskInput, env: NodeJS.ProcessEnv, log: Logger, signal: AbortSignal): Promise<number> {
  // Composed first: a task missing one of the database variables stops at once, naming it (exit 78).
  const composed = taskDatabaseUrl(env);
  const loaded = await taskConfig(env, signal);
  // A task is one sync (or backup): two pooled connections besides its lock connection, so a fleet fits max_connections.
  const database = await openDatabase({
    config: loaded.config,
    log,
    env: composed ? { ...env, CHANTAL_DATABASE_URL: composed } : env,
    defaultMaxConnections: TASK_MAX_CONNECTIONS,
    signal,
  });
  const now = () => new Date();
  const signalName = () => (signal.aborted ? (signal.reason as AbortedError).signalName : undefined) as NodeJS.Signals | undefined;
  // A task notifies on its own run, as a one-shot `repo sync` does, and waits for it at its end (bounded).
  const notifier = notifierFor(loaded.config, { log, configDir: loaded.dir, env });
  try {
    if (input.handler === "sync") {
      const progress = progressLines(log);
      const r = await runSync(
        { repoId: input.repoId, trigger: input.trigger, ...(input.snapshotTemplate ? { snapshotTemplate: input.snapshotTemplate } : {}) },
        { loaded, database, log, signal, now, onProgress: progress.onProgress, notifier },
      );
      log[r.status === "failed" || r.status === "interrupted" ? "error" : "info"]({ task: input, result: jsonValue(r) }, `sync ${r.status}`);
      // CloudWatch Logs reads this line's _aws block as metrics per repository (README "AWS", alarms).
      log.info(
        syncMetricRecord(
          {
            repoId: r.repoId,
            status: r.status,
            durationMs: r.durationMs,
            packagesDownloaded: r.counts.packagesDownloaded,
            bytesDownloaded: r.counts.bytesDownloaded,
          },
          now(),
        ),
        "sync metrics",
      );
      return syncExitCode(r, signalName());
    }
    if (input.handler === "group-snapshot") {
      // The template and zone of groups[].schedule (UTC by default on AWS); --name overrides the template.
      const group = loaded.config.groups.find((g) => g.id === input.groupId);
      const r = await runScheduledGroupSnapshot(
        {
          groupId: input.groupId,
          nameTemplate: input.nameTemplate ?? group?.schedule?.name ?? "{repo_id}-{datetime}",
          timeZone: group?.schedule?.timezone ?? loaded.config.scheduler.timezone ?? DEFAULT_CLOUD_TIMEZONE,
        },
        { config: loaded.config, database, log, signal, now },
      );
      log[r.status === "success" ? "info" : "error"]({ task: input, result: jsonValue(r) }, `group snapshot ${r.status}`);
      return groupSnapshotExitCode(r, signalName());
    }
    if (input.handler === "pool-gc") {
      const r = await runScheduledPoolGc(loaded.config, database, signal);
      log[r.status === "success" ? "info" : "error"](
        { task: input, result: jsonValue({ status: r.status, error: r.error, report: r.report }) },
        `pool gc ${r.status}`,
      );
      return poolGcExitCode(r, signalName());
    }
    const r = await runBackup(
      backupRequestFromConfig(loaded.config),
      { config: loaded.config, configDir: loaded.dir, databaseUrl: database.url, log, signal, now },
      { notifier },
    );
    log[r.status === "success" ? "info" : "error"](
      { task: input, result: jsonValue({ status: r.status, location: r.location, size: r.size, counts: r.counts, error: r.error }) },
      `backup ${r.status}`,
    );
    return backupExitCode(r, signalName());
  } finally {
    await notifier?.settle(maxWaitMs(loaded.config), signal);
    await database.close();
  }
}

export async function main(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const log = createLogger({ json: true, destination: 1 });
  // The CLI's start-up path: SIGTERM/SIGINT abort the task cleanly, a second one exits at once.
  const report = (failure: Failure) => log.error({ error: failure.lines.join("; ") }, "task failed");
  return runCommand({ log, report }, (signal) => runTask(parseTaskInput(args, env), env, log, signal));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
