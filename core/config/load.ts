// Reads config.yaml then conf.d/*.yaml (sorted, files.ts), validates each file, merges them and reports every problem at once.
import { readFile, stat } from "node:fs/promises";
import { join, resolve, isAbsolute } from "node:path";
import { LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { didYouMean } from "../closest.js";
import { ConfigError, UsageError, type ConfigIssue } from "../errors.js";
import { configFiles, MAIN_CONFIG_FILE } from "./files.js";
import { formatKeyPath } from "./key-path.js";
import { describeKeyPath, lineOf, parseKeyPath, unknownKeyHint } from "./issue-location.js";
import { interpolateTree } from "./interpolate.js";
import { ConfigFileSchema, ConfigSchema, type Config, type ConfigFile, type NotifyConfig, type RepositoryConfig } from "./schema.js";

export const DEFAULT_CONFIG_DIR = "/etc/chantal";

/** yaml's limit on alias expansion (its default is 100, which a shared `<<: *defaults` in 100 repositories reaches). */
const MAX_ALIAS_COUNT = 1000;

export interface LoadedConfig {
  /** Absolute config directory. */
  dir: string;
  /** Files read, relative to dir, in merge order. */
  files: string[];
  config: Config;
  /** Where each repository was defined. */
  sources: Map<string, { file: string; index: number; line?: number }>;
}

/** --config-dir, else $CHANTAL_CONFIG_DIR, else /etc/chantal. */
export function resolveConfigDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(flag ?? env.CHANTAL_CONFIG_DIR ?? DEFAULT_CONFIG_DIR);
}

async function listConfigFiles(dir: string): Promise<string[]> {
  const main = join(dir, MAIN_CONFIG_FILE);
  try {
    await stat(main);
  } catch {
    throw new ConfigError([{ file: main, path: "", message: "configuration file not found (use --config-dir DIR or CHANTAL_CONFIG_DIR)" }]);
  }
  return configFiles(dir);
}

function zodIssues(file: string, error: z.ZodError): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    if (issue.code === "unrecognized_keys") {
      const parent = issue.path.filter((p): p is string | number => typeof p !== "symbol");
      return issue.keys.map((key) => ({
        file,
        path: formatKeyPath([...issue.path, key]),
        message: `unknown key${unknownKeyHint(ConfigFileSchema, parent, key)}`,
      }));
    }
    return [{ file, path: formatKeyPath(issue.path), message: issue.message }];
  });
}

/** Repository (or group) ids as written, even in a file that fails validation, so duplicates are still reported. */
function rawRepositoryIds(raw: unknown, section: "repositories" | "groups" = "repositories"): (string | undefined)[] {
  const repos = (raw as Record<string, unknown>)[section];
  if (!Array.isArray(repos)) return [];
  return repos.map((r) => (r && typeof r === "object" && typeof (r as { id?: unknown }).id === "string" ? (r as { id: string }).id : undefined));
}

interface ParsedFile {
  data?: ConfigFile;
  ids: (string | undefined)[];
  issues: ConfigIssue[];
  /** The issue with its file's line and the repository's id in place of `repositories[i]`. */
  locate?: (issue: ConfigIssue) => ConfigIssue;
}

function locator(
  file: string,
  doc: Document,
  lines: LineCounter,
  ids: (string | undefined)[],
  groupIds: (string | undefined)[],
): (issue: ConfigIssue) => ConfigIssue {
  return (issue) => {
    if (issue.file !== file || !issue.path) return issue;
    const path = parseKeyPath(issue.path);
    const line = lineOf(doc, lines, path);
    return { file: line ? `${file}:${line}` : file, path: describeKeyPath(path, ids, groupIds), message: issue.message };
  };
}

function parseFile(file: string, text: string, env: NodeJS.ProcessEnv): ParsedFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    return {
      ids: [],
      issues: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { file: pos ? `${file}:${pos.line}:${pos.col}` : file, path: "", message: `invalid YAML: ${e.message.split("\n")[0]}` };
      }),
    };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    // yaml throws a ReferenceError for an alias bomb ("billion laughs"): a configuration error, not a crash.
    const detail = err instanceof Error ? err.message : String(err);
    return {
      ids: [],
      issues: [
        {
          file,
          path: "",
          message: `invalid YAML: ${detail} (aliases expand to more than ${MAX_ALIAS_COUNT} nodes): write the values out or use fewer aliases`,
        },
      ],
    };
  }
  if (typeof raw !== "object" || Array.isArray(raw))
    return {
      ids: [],
      issues: [
        {
          file,
          path: "",
          message:
            "must be a mapping of sections (storage, database, proxy, http, repositories, scheduler, backup, publish, filter, signing, snapshots, pool, freshness, metrics, web, groups, environments, export, cloud, notify)",
        },
      ],
    };
  const { value, issues } = interpolateTree(raw, env, file);
  const parsed = ConfigFileSchema.safeParse(value);
  if (!parsed.success) issues.push(...zodIssues(file, parsed.error));
  const ids = rawRepositoryIds(raw);
  const locate = locator(file, doc, lines, ids, rawRepositoryIds(raw, "groups"));
  return { data: parsed.success ? parsed.data : undefined, ids, issues: issues.map(locate), locate };
}

function duplicateIssues(sources: RepositorySource[]): ConfigIssue[] {
  const first = new Map<string, RepositorySource>();
  const issues: ConfigIssue[] = [];
  for (const s of sources) {
    const prev = first.get(s.id);
    if (prev) {
      issues.push({
        file: s.file,
        path: `repositories[${s.index}].id`,
        message: `repository id "${s.id}" is already defined in ${prev.file}${prev.line ? `:${prev.line}` : ` (repositories[${prev.index}])`}`,
      });
    } else first.set(s.id, s);
  }
  return issues;
}

interface RepositorySource {
  file: string;
  index: number;
  id: string;
  /** The line of its id in file. */
  line?: number;
}

/** Later files override earlier ones key by key within a section; repositories and groups accumulate; a later environments list replaces an earlier one. */
function mergeFiles(files: ConfigFile[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  const repositories: RepositoryConfig[] = [];
  const groups: unknown[] = [];
  for (const f of files) {
    for (const [section, value] of Object.entries(f)) {
      if (value === undefined) continue;
      if (section === "repositories") repositories.push(...(value as RepositoryConfig[]));
      else if (section === "groups") groups.push(...(value as unknown[]));
      else if (section === "environments") merged[section] = value;
      else merged[section] = { ...((merged[section] as Record<string, unknown> | undefined) ?? {}), ...(value as Record<string, unknown>) };
    }
  }
  return { ...merged, repositories, groups };
}

/**
 * An issue of the merged document under `section.key` of a mapping section (scheduler.windows[0].repositories[1]) is in
 * the last file that sets that key (later files override key by key): it is named with its line.
 */
function sectionKeyOwner(issue: ConfigIssue, files: string[], parsed: ConfigFile[], locators: Map<string, (issue: ConfigIssue) => ConfigIssue>): ConfigIssue {
  const [section, key] = parseKeyPath(issue.path);
  if (typeof section !== "string" || typeof key !== "string" || ["repositories", "groups", "environments"].includes(section)) return issue;
  const at = parsed.findLastIndex((f) => (f as Record<string, Record<string, unknown> | undefined>)[section]?.[key] !== undefined);
  const file = files[at];
  if (at < 0 || file === undefined) return issue;
  return locators.get(file)?.({ ...issue, file }) ?? { ...issue, file };
}

type AbsolutePath = (p: string) => string;

function resolveProxyPaths<P extends { ca_bundle?: string | undefined } | undefined>(proxy: P, abs: AbsolutePath): P {
  return proxy?.ca_bundle ? { ...proxy, ca_bundle: abs(proxy.ca_bundle) } : proxy;
}

/** Files a repository names (keyring, certificates, CAs) are relative to the config directory. */
function resolveRepositoryPaths(repo: RepositoryConfig, abs: AbsolutePath): RepositoryConfig {
  const auth =
    repo.auth?.type === "client_cert"
      ? {
          ...repo.auth,
          ...(repo.auth.cert_dir ? { cert_dir: abs(repo.auth.cert_dir) } : {}),
          ...(repo.auth.cert_file ? { cert_file: abs(repo.auth.cert_file) } : {}),
          ...(repo.auth.key_file ? { key_file: abs(repo.auth.key_file) } : {}),
          ...(repo.auth.ca_file ? { ca_file: abs(repo.auth.ca_file) } : {}),
        }
      : repo.auth;
  return {
    ...repo,
    ...(auth ? { auth } : {}),
    ...(repo.proxy ? { proxy: resolveProxyPaths(repo.proxy, abs) } : {}),
    ...(repo.verify?.keyring ? { verify: { ...repo.verify, keyring: abs(repo.verify.keyring) } } : {}),
    ...(repo.signing ? { signing: { ...repo.signing, key_file: abs(repo.signing.key_file) } } : {}),
  };
}

/** The CA files of webhooks and of the SMTP server are relative to the config directory. */
function resolveNotifyPaths(notify: NotifyConfig, abs: AbsolutePath): NotifyConfig {
  const email = notify.email;
  return {
    ...notify,
    ...(notify.webhooks ? { webhooks: notify.webhooks.map((w) => (w.ca_file ? { ...w, ca_file: abs(w.ca_file) } : w)) } : {}),
    ...(email?.smtp.ca_file ? { email: { ...email, smtp: { ...email.smtp, ca_file: abs(email.smtp.ca_file) } } } : {}),
  };
}

function resolvePaths(config: Config, dir: string): Config {
  const abs: AbsolutePath = (p) => (isAbsolute(p) ? p : resolve(dir, p));
  const base = abs(config.storage.base_path);
  const pool = abs(config.storage.pool_path ?? join(base, "pool"));
  return {
    ...config,
    ...(config.proxy ? { proxy: resolveProxyPaths(config.proxy, abs) } : {}),
    ...(config.signing ? { signing: { ...config.signing, key_file: abs(config.signing.key_file) } } : {}),
    repositories: config.repositories.map((r) => resolveRepositoryPaths(r, abs)),
    scheduler: {
      ...config.scheduler,
      ...(config.scheduler.pid_file ? { pid_file: abs(config.scheduler.pid_file) } : {}),
      ...(config.scheduler.log_file ? { log_file: abs(config.scheduler.log_file) } : {}),
    },
    storage: {
      ...config.storage,
      base_path: base,
      pool_path: pool,
      published_path: abs(config.storage.published_path ?? join(base, "published")),
      // With S3 the temp dir need not share a filesystem with anything: blobs are uploaded, not renamed.
      temp_path: abs(config.storage.temp_path ?? (config.storage.backend === "s3" ? join(base, "tmp") : join(pool, ".tmp"))),
    },
    backup: {
      ...config.backup,
      dir: abs(config.backup.dir ?? join(base, "backups")),
      ...(config.backup.encrypt ? { encrypt: { recipients: config.backup.encrypt.recipients.map(abs) } } : {}),
    },
    ...(config.notify ? { notify: resolveNotifyPaths(config.notify, abs) } : {}),
    export: {
      ...config.export,
      dir: abs(config.export?.dir ?? join(base, "exports")),
      ...(config.export?.signing ? { signing: { ...config.export.signing, key_file: abs(config.export.signing.key_file) } } : {}),
    },
  };
}

export async function loadConfig(opts: { configDir: string; env?: NodeJS.ProcessEnv }): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const dir = resolve(opts.configDir);
  const files = await listConfigFiles(dir);
  const issues: ConfigIssue[] = [];
  const parsed: ConfigFile[] = [];
  const repoSources: RepositorySource[] = [];
  const locators = new Map<string, (issue: ConfigIssue) => ConfigIssue>();
  for (const file of files) {
    const text = await readFile(join(dir, file), "utf8");
    const r = parseFile(file, text, env);
    issues.push(...r.issues);
    if (r.locate) locators.set(file, r.locate);
    r.ids.forEach((id, index) => {
      const line = r.locate?.({ file, path: `repositories[${index}].id`, message: "" }).file.slice(file.length + 1);
      if (id !== undefined) repoSources.push({ file, index, id, ...(line ? { line: Number(line) } : {}) });
    });
    if (r.data) parsed.push(r.data);
  }
  issues.push(...duplicateIssues(repoSources).map((i) => locators.get(i.file)?.(i) ?? i));
  if (issues.length > 0) throw new ConfigError(issues);
  const merged = ConfigSchema.safeParse(mergeFiles(parsed));
  if (!merged.success) throw new ConfigError(zodIssues(files.join(", "), merged.error).map((i) => sectionKeyOwner(i, files, parsed, locators)));
  const sources = new Map(repoSources.map((s) => [s.id, { file: s.file, index: s.index, ...(s.line ? { line: s.line } : {}) }]));
  return { dir, files, config: resolvePaths(merged.data, dir), sources };
}

/** "unknown repository …" naming the closest configured id, for a mistyped id on the command line. */
export function unknownRepositoryMessage(configuredIds: readonly string[], id: string, configDir: string): string {
  const known = configuredIds.length ? `configured: ${configuredIds.join(", ")}` : `none is configured in ${configDir}`;
  const hint = didYouMean(configuredIds, id);
  return `unknown repository "${id}"${hint ? `:${hint}` : ""} (${known})`;
}

/** The repository with this id, or a usage error naming the closest configured id. */
export function findRepository(loaded: LoadedConfig, id: string): RepositoryConfig {
  const repo = loaded.config.repositories.find((r) => r.id === id);
  if (!repo) {
    throw new UsageError(
      unknownRepositoryMessage(
        loaded.config.repositories.map((r) => r.id),
        id,
        loaded.dir,
      ),
    );
  }
  return repo;
}
