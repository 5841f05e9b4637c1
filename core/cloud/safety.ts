// What a configuration would lose or lack on a Fargate task, found before the deploy: a pool on the task's ephemeral disk, backups not in S3, secrets not declared, files the image does not have.
import type { Config } from "../config/schema.js";

export interface CloudSafetyIssue {
  /** Key path in the configuration, e.g. `repositories[rhel9].auth.cert_dir`. */
  path: string;
  /** The repository, when the key is in one. */
  repository?: string;
  message: string;
}

export interface CloudSafety {
  errors: CloudSafetyIssue[];
  warnings: CloudSafetyIssue[];
}

/** A file or directory the configuration names, and where. */
interface NamedPath {
  path: string;
  key: string;
  repository?: string;
}

/** Every file and directory the task would read, key by key (writable paths such as base_path are the task's own). */
export function namedPaths(config: Config): NamedPath[] {
  const out: NamedPath[] = [];
  const add = (path: string | undefined, key: string, repository?: string) => {
    if (path) out.push({ path, key, ...(repository !== undefined ? { repository } : {}) });
  };
  add(config.proxy?.ca_bundle, "proxy.ca_bundle");
  add(config.proxy?.pac_file, "proxy.pac_file");
  add(config.signing?.key_file, "signing.key_file");
  add(config.backup.signing?.key_file, "backup.signing.key_file");
  add(config.backup.signing?.keyring, "backup.signing.keyring");
  add(config.export?.signing?.key_file, "export.signing.key_file");
  for (const r of config.repositories) {
    if (!r.enabled) continue;
    add(r.proxy?.ca_bundle, "proxy.ca_bundle", r.id);
    add(r.proxy?.pac_file, "proxy.pac_file", r.id);
    if (r.auth?.type === "client_cert") {
      add(r.auth.cert_dir, "auth.cert_dir", r.id);
      add(r.auth.cert_file, "auth.cert_file", r.id);
      add(r.auth.key_file, "auth.key_file", r.id);
      add(r.auth.ca_file, "auth.ca_file", r.id);
    }
    add(r.verify?.keyring, "verify.keyring", r.id);
    add(r.signing?.key_file, "signing.key_file", r.id);
  }
  return out;
}

/** `path` is `root` or lies under it (both absolute; a trailing slash on root is allowed). */
function within(path: string, root: string): boolean {
  const r = root.endsWith("/") ? root.slice(0, -1) : root;
  return path === r || path.startsWith(`${r}/`);
}

const where = (p: { key: string; repository?: string }) => (p.repository !== undefined ? `repositories[${p.repository}].${p.key}` : p.key);

/**
 * The checks of `config validate --target aws` (and `sst deploy`) beyond the schedules. `secretVariables` are the
 * ${VAR}s the task gets from SSM parameters (taskSecretVariables); `parameterOf` names a variable's parameter;
 * `unknownValue` is what a variable unset here reads as (the deploy's placeholder).
 */
export function cloudSafety(config: Config, secretVariables: readonly string[], parameterOf: (variable: string) => string, unknownValue = "\0"): CloudSafety {
  const errors: CloudSafetyIssue[] = [];
  const warnings: CloudSafetyIssue[] = [];
  if (config.storage.backend !== "s3")
    errors.push({
      path: "storage.backend",
      message:
        "is the filesystem: a Fargate task's disk is deleted when the task stops, so every pool blob and published tree would be lost after each run; " +
        "fix: storage: { backend: s3, s3: { bucket: ${CHANTAL_POOL_BUCKET} } }",
    });
  const target = config.backup.target;
  // A target from a variable only the task has (an SSM parameter) is not known here.
  if (config.backup.schedule?.enabled && target !== unknownValue && !target?.startsWith("s3://"))
    errors.push({
      path: "backup.target",
      message:
        `${target === undefined ? "is not set (backups would go to <base_path>/backups)" : `is ${JSON.stringify(target)}`}: on the task's ephemeral disk every backup is lost when the task stops; ` +
        "fix: backup: { target: ${CHANTAL_BACKUP_TARGET} } (the s3:// target of the Backups bucket)",
    });
  else if (!config.backup.schedule?.enabled)
    warnings.push({
      path: "backup.schedule",
      message:
        'is not set: no task backs up the database (snapshots, environments, history); add backup: { target: ${CHANTAL_BACKUP_TARGET}, schedule: { cron: "30 3 * * *" } }',
    });

  const declared = config.cloud?.secrets;
  if (declared === undefined) {
    if (secretVariables.length > 0)
      warnings.push({
        path: "cloud.secrets",
        message:
          `is not set: the task reads ${secretVariables.map((v) => parameterOf(v)).join(", ")} from SSM and stops at start if one is missing; ` +
          `create them, then list them as cloud: { secrets: [${secretVariables.join(", ")}] } so that this check refuses a variable nobody created`,
      });
  } else {
    for (const v of secretVariables)
      if (!declared.includes(v))
        errors.push({
          path: "cloud.secrets",
          message: `does not declare ${v}, which the configuration uses as \${${v}}: the task would stop at start without the SSM parameter ${parameterOf(v)}; fix: create it and add ${v} to cloud.secrets (or give the variable a default: \${${v}:-value})`,
        });
    for (const v of declared)
      if (!secretVariables.includes(v))
        warnings.push({ path: "cloud.secrets", message: `declares ${v}, which no \${${v}} without a default uses: remove it, or check the spelling` });
  }

  // private-endpoints has no route to the internet: every upstream must go through a proxy the VPC reaches.
  if (config.cloud?.network?.subnets === "private-endpoints") {
    const direct = config.repositories.filter((r) => r.enabled && !(r.proxy ?? config.proxy)?.https_proxy && !(r.proxy ?? config.proxy)?.http_proxy);
    if (direct.length > 0)
      errors.push({
        path: "cloud.network.subnets",
        message:
          `is private-endpoints (no internet route), but ${direct.map((r) => r.id).join(", ")} would connect to upstream directly; ` +
          "fix: set proxy.https_proxy to a proxy the VPC reaches (the same proxy block as on premises), or use subnets: private-nat",
      });
  }
  if (config.cloud?.mirror && config.publish?.base_url === undefined)
    warnings.push({
      path: "publish.base_url",
      message:
        "is not set: sync and publish print no client configuration for the mirror; set publish: { base_url: ${CHANTAL_MIRROR_URL} } (the URL cloud.mirror serves)",
    });

  const imagePaths = config.cloud?.image_paths ?? [];
  for (const p of namedPaths(config)) {
    if (imagePaths.some((root) => within(p.path, root))) continue;
    errors.push({
      path: where(p),
      ...(p.repository !== undefined ? { repository: p.repository } : {}),
      message:
        `names ${p.path}, which the task will not have (it has only the image and the configuration from S3); ` +
        'fix: build the image with it (Dockerfile, README "Files in the image") and list it in cloud.image_paths',
    });
  }
  return { errors, warnings };
}
