// How the configuration reaches the Fargate task: the YAML files go to the config bucket (read by the
// task at start), and every ${VAR} they need without a default comes from an SSM parameter
// /chantal/<stage>/<VAR> (SecureString), which ECS injects as an environment variable. The app itself
// provides the variables below, so a cloud config.yaml can name the buckets it cannot know in advance.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { configFiles } from "../config/files.js";
import { loadConfig, type LoadedConfig } from "../config/load.js";
import { ConfigError, type ConfigIssue } from "../errors.js";
import { deploymentPlan, planProblemIssues, type DeploymentPlan } from "./plan.js";
import { type CloudSafety, type CloudSafetyIssue, cloudSafety } from "./safety.js";

/** Set by the SST app on the task: `storage.bucket: ${CHANTAL_POOL_BUCKET}`, `backup.target: ${CHANTAL_BACKUP_TARGET}`. */
export const APP_VARIABLES = {
  /** s3://<config bucket>/config/ — where the entry downloads config.yaml and conf.d/ from. */
  configUri: "CHANTAL_CONFIG_S3_URI",
  /** The pool + published bucket's name. */
  poolBucket: "CHANTAL_POOL_BUCKET",
  /** s3://<backups bucket>/backups */
  backupTarget: "CHANTAL_BACKUP_TARGET",
  /** cloud.mirror: the URL clients read the published trees at (CloudFront or the bucket), for publish.base_url. */
  mirrorUrl: "CHANTAL_MIRROR_URL",
} as const;

/** verify-full or require (cloud.database.tls): set by the SST app on the task; the entry adds sslmode to the database URL it composes. */
export const DATABASE_TLS_VARIABLE = "CHANTAL_DATABASE_TLS";
/** Amazon RDS's CA bundle in the image (Dockerfile, build argument RDS_CA_BUNDLE_URL). */
export const RDS_CA_BUNDLE = "/etc/ssl/certs/rds-global-bundle.pem";

/**
 * The task's database, set by the SST app: host, port, user and database name as plain environment; the password
 * only as an ECS secret from the SecureString parameter the app creates (databasePasswordParameterName), so the
 * task definition never holds it. The entry composes the URL (functions/entry.ts taskDatabaseUrl).
 */
export const DATABASE_VARIABLES = {
  host: "CHANTAL_DATABASE_HOST",
  port: "CHANTAL_DATABASE_PORT",
  user: "CHANTAL_DATABASE_USER",
  name: "CHANTAL_DATABASE_NAME",
  password: "CHANTAL_DATABASE_PASSWORD",
} as const;

/** Variables the task has without a parameter of the user's: the app's own, and what ECS/Fargate set. */
const PROVIDED = new Set<string>([
  ...Object.values(APP_VARIABLES),
  ...Object.values(DATABASE_VARIABLES),
  DATABASE_TLS_VARIABLE,
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
]);

/** Key prefix of the configuration files in the config bucket (CHANTAL_CONFIG_S3_URI points at it). */
export const CONFIG_PREFIX = "config/";

/** The object key of one configuration file (config.yaml, conf.d/10-repos.yaml). */
export function configObjectKey(file: string): string {
  return CONFIG_PREFIX + file;
}

const PATTERN = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** ${VAR} references in the string values of one YAML text: required (no default) and optional. */
export function referencedVariables(yamlText: string): { required: string[]; optional: string[] } {
  const required = new Set<string>();
  const optional = new Set<string>();
  const walk = (node: unknown): void => {
    if (typeof node === "string") {
      for (const m of node.matchAll(PATTERN)) if (m[1]) (m[2] === undefined ? required : optional).add(m[1]);
    } else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") Object.values(node).forEach(walk);
  };
  walk(parse(yamlText));
  for (const name of required) optional.delete(name);
  return { required: [...required].sort(), optional: [...optional].sort() };
}

/** The variables that must come from SSM parameters: required somewhere and not provided by the app. */
export function taskSecretVariables(yamlTexts: string[]): string[] {
  const names = new Set(yamlTexts.flatMap((t) => referencedVariables(t).required));
  return [...names].filter((n) => !PROVIDED.has(n)).sort();
}

export function ssmParameterName(stage: string, variable: string): string {
  return `/chantal/${stage}/${variable}`;
}

/** The SecureString parameter `sst deploy` creates with the database password (ECS injects it as CHANTAL_DATABASE_PASSWORD). */
export function databasePasswordParameterName(stage: string): string {
  return ssmParameterName(stage, DATABASE_VARIABLES.password);
}

/** Placeholder for a variable unset where `sst deploy` runs: the plan needs only schedules, not secrets. */
export const DEPLOY_PLACEHOLDER = "set-in-the-task";

/** The environment to load the configuration with at deploy time: real values where set, placeholders elsewhere. */
export function deployTimeEnv(env: NodeJS.ProcessEnv, yamlTexts: string[]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  // The app's backup target is an s3:// URL on the task: the placeholder has that shape, for the checks of core/cloud/safety.ts.
  const placeholder = (name: string) => (name === APP_VARIABLES.backupTarget ? `s3://${DEPLOY_PLACEHOLDER}/backups` : DEPLOY_PLACEHOLDER);
  for (const t of yamlTexts) for (const name of referencedVariables(t).required) if (!out[name]) out[name] = placeholder(name);
  return out;
}

export interface ConfigFileText {
  /** Relative to the config directory: config.yaml, conf.d/10-repos.yaml */
  file: string;
  text: string;
}

/** The files the loader reads (core/config/files.ts), with their text. */
export async function readConfigFiles(dir: string): Promise<ConfigFileText[]> {
  const files = await configFiles(dir);
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(join(dir, file), "utf8") })));
}

export interface CloudConfig {
  /** Loaded with placeholders for the variables only the task has. */
  loaded: LoadedConfig;
  dir: string;
  files: ConfigFileText[];
  plan: DeploymentPlan;
  /** Variables the task gets from SSM parameters. */
  secretVariables: string[];
  /** What the task would lose or lack (core/cloud/safety.ts): errors stop `config validate --target aws` and `sst deploy`. */
  safety: CloudSafety;
}

/**
 * Everything `sst deploy` (and `cloud schedules`, `config validate --target aws`) needs from the
 * configuration directory: the files to upload, the plan and the SSM-backed variables. Variables that
 * only the task has may be unset here. A configuration AWS cannot schedule throws a ConfigError.
 */
export async function loadCloudConfig(dir: string, env: NodeJS.ProcessEnv): Promise<CloudConfig> {
  // A missing config.yaml is reported by the loader below, with its usual message.
  const files = await readConfigFiles(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  const texts = files.map((f) => f.text);
  const loaded = await loadConfig({ configDir: dir, env: deployTimeEnv(env, texts) });
  if (loaded.files.join("\n") !== files.map((f) => f.file).join("\n")) {
    throw new Error(`the loader read ${loaded.files.join(", ")} but the deploy would upload ${files.map((f) => f.file).join(", ")}`);
  }
  const plan = deploymentPlan(loaded.config);
  if (plan.problems.length > 0) {
    throw new ConfigError(planProblemIssues(plan.problems, loaded));
  }
  const secretVariables = taskSecretVariables(texts);
  const safety = cloudSafety(loaded.config, secretVariables, (v) => ssmParameterName("<stage>", v), DEPLOY_PLACEHOLDER);
  return { loaded, dir: loaded.dir, files, plan, secretVariables, safety };
}

/** A safety finding as a config issue: at the repository's entry when it is in one, else the files and the key path. */
export function cloudSafetyIssue(issue: CloudSafetyIssue, loaded: Pick<LoadedConfig, "files" | "sources">): ConfigIssue {
  const src = issue.repository !== undefined ? loaded.sources.get(issue.repository) : undefined;
  const file = src ? (src.line ? `${src.file}:${src.line}` : src.file) : loaded.files.join(", ");
  return { file, path: issue.path, message: `on AWS: ${issue.message}` };
}

/** Refuse a configuration that would lose data or fail at every start on AWS (exit 78, every finding). */
export function assertCloudSafe(cloud: Pick<CloudConfig, "safety" | "loaded">): void {
  if (cloud.safety.errors.length > 0) throw new ConfigError(cloud.safety.errors.map((i) => cloudSafetyIssue(i, cloud.loaded)));
}
