// db backup: dump (one snapshot) -> staging dir with config copies and manifest.json -> tar[.gz] streamed to a
// directory (atomic rename) or S3 (multipart) -> verified -> retention applied.
import { createWriteStream } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { DirMode, makeDirectory } from "../fs-dirs.js";
import { hostname, tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import pg from "pg";
import type { Config } from "../config/schema.js";
import { readMigrations } from "../db/migrate.js";
import { acquireLock, exclusiveMaintenanceRunning, LockHeldError, maintenanceLockRequest } from "../db/locks.js";
import { ChantalError, errorMessage, LockBusyError } from "../errors.js";
import { ownedName, sweepLeftovers } from "../leftovers.js";
import type { Logger } from "../log.js";
import { chantalVersion } from "../package-info.js";
import { configMemberName, countingStream, digestingStream, listConfigFiles, packArchive, stageFile } from "./archive.js";
import { dumpSchema, type DumpResult } from "./dump.js";
import { encryptStream, loadRecipients, type Recipients } from "./encryption.js";
import { BACKUP_VERSION, MANIFEST_NAME, payloadName, type Manifest, type MemberDigest } from "./manifest.js";
import { backupFileName } from "./naming.js";
import { loadSigner, signManifest, SIGNATURE_NAME } from "./signing.js";
import { pruneBackups, type PruneResult } from "./prune.js";
import { isS3Url } from "../s3/url.js";
import { defaultTarget, LocalStore, openStore, type BackupStore } from "./store.js";
import { verifyBackup } from "./verify.js";

/** gzip level of the dump: level 1 is ~3x faster than the default 6 for a few percent more bytes. */
const DUMP_GZIP_LEVEL = 1;

export interface BackupRequest {
  /** A directory or s3://bucket/prefix (default backup.target, else backup.dir, else <base_path>/backups). */
  target?: string;
  /** Write exactly this file instead (no retention is applied beside it). */
  output?: string;
  includeConfig: boolean;
  compress: boolean;
  /** Apply backup.retention to the target afterwards (default true). */
  prune?: boolean;
}

export interface BackupEnv {
  config: Config;
  /** The configuration directory, archived under config/ with includeConfig. */
  configDir: string;
  databaseUrl: string;
  log: Logger;
  signal: AbortSignal;
  now: () => Date;
}

export interface BackupCounts {
  repositories: number;
  packages: number;
  snapshots: number;
  tables: Record<string, number>;
}

export interface BackupOutcome {
  location: string;
  name: string;
  size: number;
  counts: BackupCounts;
  manifest: Manifest;
  /** Config entries left out (symlinks, special files, Chantal's data inside the config dir). */
  skippedConfig: string[];
  prune?: PruneResult;
  /** Retention failed after a good backup (the backup stays). */
  pruneError?: string;
}

interface Destination {
  store: BackupStore;
  name: string;
  /** Where the staging directory goes: beside the archive for a local one, else the temp dir. */
  stagingParent: string;
  applyRetention: boolean;
}

/** Staging directories hold a dump and the configuration (secrets): a killed backup's are swept by the next one. */
const STAGING_STEM = ".chantal-backup-staging";

function destination(req: BackupRequest, env: BackupEnv, now: Date, encrypted: boolean): Destination {
  if (req.output) {
    if (isS3Url(req.output)) throw new ChantalError("--output names a local file; for S3 use --target s3://bucket/prefix");
    const file = resolve(req.output);
    return { store: new LocalStore(dirname(file)), name: basename(file), stagingParent: dirname(file), applyRetention: false };
  }
  const target = defaultTarget(env.config, req.target);
  const store = openStore(target, env.config);
  const stagingParent = store instanceof LocalStore ? store.dir : tmpdir();
  return { store, name: backupFileName(now, req.compress, encrypted), stagingParent, applyRetention: req.prune !== false };
}

async function takeSharedMaintenanceLock(env: BackupEnv) {
  try {
    return await acquireLock(env.databaseUrl, maintenanceLockRequest("shared", "backup", { signal: env.signal }));
  } catch (err) {
    if (err instanceof LockHeldError) throw new LockBusyError(`${exclusiveMaintenanceRunning(err.holders)}: backup not started`);
    throw err;
  }
}

/** Dump the database into <staging>/<file>, returning the dump's counts and the stored file's digest. */
async function writeDumpFile(
  env: BackupEnv,
  path: string,
  compress: boolean,
  createdAt: Date,
): Promise<{ dump: DumpResult; digest: MemberDigest; uncompressedBytes: number }> {
  const client = new pg.Client({ connectionString: env.databaseUrl, application_name: "chantal-backup" });
  client.on("error", () => undefined);
  await client.connect();
  const onAbort = () => void client.end().catch(() => undefined);
  env.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const head = countingStream();
    const d = digestingStream();
    const written = compress
      ? pipeline(head.stream, createGzip({ level: DUMP_GZIP_LEVEL }), d.stream, createWriteStream(path, { mode: 0o600 }))
      : pipeline(head.stream, d.stream, createWriteStream(path, { mode: 0o600 }));
    const dumped = dumpSchema(client, head.stream, { known: await readMigrations(), chantalVersion, createdAt, signal: env.signal }).then((r) => {
      head.stream.end();
      return r;
    });
    const [dump] = await Promise.all([dumped, written]);
    return { dump, digest: d.digest(), uncompressedBytes: head.bytes() };
  } finally {
    env.signal.removeEventListener("abort", onAbort);
    await client.end().catch(() => undefined);
  }
}

function countsOf(tables: Record<string, number>): BackupCounts {
  return { repositories: tables.repositories ?? 0, packages: tables.packages ?? 0, snapshots: tables.snapshots ?? 0, tables };
}

async function stageConfig(
  env: BackupEnv,
  staging: string,
  dest: Destination,
): Promise<{ files: string[]; skipped: string[]; members: Record<string, MemberDigest> }> {
  const backupDir = dest.store instanceof LocalStore ? dest.store.dir : undefined;
  const list = await listConfigFiles(env.configDir, env.config, backupDir);
  const members: Record<string, MemberDigest> = {};
  for (const f of list.files) members[configMemberName(f)] = await stageFile(join(env.configDir, f), join(staging, configMemberName(f)), env.signal);
  return { files: list.files, skipped: list.skipped, members };
}

/** The archive just written reads back with every sha256 right (local), or has the size we sent (S3). */
async function checkWritten(dest: Destination, size: number, env: BackupEnv): Promise<void> {
  if (dest.store instanceof LocalStore) {
    const report = await verifyBackup(dest.store, dest.name, { signal: env.signal });
    const bad = report.checks.find((c) => !c.ok);
    if (bad)
      throw new ChantalError(`the backup just written to ${dest.store.describe(dest.name)} does not verify (${bad.label}: ${bad.detail ?? ""}): removed`);
    return;
  }
  const stored = await dest.store.size(dest.name);
  if (stored !== size) throw new ChantalError(`the upload to ${dest.store.describe(dest.name)} has ${stored} bytes, ${size} were sent`);
}

export async function createBackup(req: BackupRequest, env: BackupEnv): Promise<BackupOutcome> {
  const createdAt = env.now();
  const encrypt = env.config.backup.encrypt;
  const dest = destination(req, env, createdAt, !!encrypt);
  // A key that cannot be read or unlocked (or cannot encrypt) fails the backup before anything is dumped.
  const signer = await loadSigner(env.config.backup.signing);
  const recipients = encrypt ? await loadRecipients(encrypt.recipients, createdAt) : undefined;
  const lock = await takeSharedMaintenanceLock(env);
  let staging: string | undefined;
  let written = false;
  try {
    await makeDirectory(dest.stagingParent, { mode: DirMode.private });
    const swept = await sweepLeftovers(dest.stagingParent, (n) => n.startsWith(STAGING_STEM));
    if (swept.length) env.log.info({ removed: swept.map((s) => `${s.name} (${s.why})`) }, "backup: removed staging directories that killed backups left");
    staging = join(dest.stagingParent, ownedName(STAGING_STEM));
    await mkdir(staging, { mode: 0o700 });
    const databaseFile = req.compress ? "database.sql.gz" : "database.sql";
    env.log.info({ target: dest.store.describe(dest.name) }, "backup: dumping the database");
    const { dump, digest, uncompressedBytes } = await writeDumpFile(env, join(staging, databaseFile), req.compress, createdAt);
    const config = req.includeConfig ? await stageConfig(env, staging, dest) : { files: [], skipped: [], members: {} };
    if (config.skipped.length) env.log.warn({ skipped: config.skipped }, "backup: configuration entries left out (not regular files, or Chantal's own data)");
    const counts = countsOf(dump.tables);
    const manifest: Manifest = {
      backup_version: BACKUP_VERSION,
      chantal_version: chantalVersion,
      database_version: dump.migrations.at(-1)!,
      database_migrations: dump.migrations,
      created_at: createdAt.toISOString(),
      hostname: hostname(),
      repositories_count: counts.repositories,
      packages_count: counts.packages,
      snapshots_count: counts.snapshots,
      tables: dump.tables,
      includes_config: config.files.length > 0,
      compression: req.compress ? "gzip" : "none",
      database_file: databaseFile,
      database_size_bytes: digest.size,
      database_uncompressed_bytes: uncompressedBytes,
      config_dir: resolve(env.configDir),
      config_files: config.files,
      members: { [databaseFile]: digest, ...config.members },
    };
    const writeManifest = async (m: Manifest) => {
      const manifestBytes = Buffer.from(JSON.stringify(m, null, 2) + "\n");
      await writeFile(join(staging!, MANIFEST_NAME), manifestBytes, { mode: 0o600 });
      // Signed right after the manifest (which holds every other member's sha256), so readers check it before the rest.
      if (signer) await writeFile(join(staging!, SIGNATURE_NAME), await signManifest(signer, manifestBytes), { mode: 0o600 });
    };
    await writeManifest(manifest);
    const heads = [MANIFEST_NAME, ...(signer ? [SIGNATURE_NAME] : [])];
    let archive = packArchive(staging, [...heads, databaseFile, ...config.files.map(configMemberName)], req.compress);
    let writtenManifest = manifest;
    if (recipients) {
      writtenManifest = await encryptArchive(archive, staging, manifest, recipients, req.compress, env);
      await writeManifest(writtenManifest);
      archive = packArchive(staging, [...heads, writtenManifest.encryption!.payload], false);
    }
    const counter = countingStream();
    env.log.info({ target: dest.store.describe(dest.name) }, "backup: writing the archive");
    await dest.store.write(dest.name, archive.pipe(counter.stream), env.signal);
    written = true;
    await checkWritten(dest, counter.bytes(), env);
    written = false; // verified: from here on it stays, whatever happens
    const outcome: BackupOutcome = {
      location: dest.store.describe(dest.name),
      name: dest.name,
      size: counter.bytes(),
      counts,
      manifest: writtenManifest,
      skippedConfig: config.skipped,
    };
    const policy = env.config.backup.retention;
    if (dest.applyRetention && policy) {
      try {
        outcome.prune = await pruneBackups(dest.store, policy, { verified: dest.name, signal: env.signal, log: env.log, ...timeZoneOf(env.config) });
      } catch (err) {
        outcome.pruneError = errorMessage(err);
        env.log.error({ target: dest.store.describe(), error: outcome.pruneError }, "backup written, but retention failed");
      }
    }
    return outcome;
  } catch (err) {
    if (written) await dest.store.remove(dest.name).catch(() => undefined);
    throw err;
  } finally {
    if (staging) await rm(staging, { recursive: true, force: true });
    await lock.release();
    dest.store.close();
  }
}

/**
 * The archive encrypted into <staging>/payload.tar[.gz].pgp (sha256 taken on the way), and the outer manifest naming it:
 * the ciphertext's digest is in the (signed) manifest, so it is checked without the secret key.
 */
async function encryptArchive(
  archive: Readable,
  staging: string,
  manifest: Manifest,
  recipients: Recipients,
  compress: boolean,
  env: BackupEnv,
): Promise<Manifest> {
  const payload = payloadName(compress);
  const d = digestingStream();
  await pipeline(await encryptStream(archive, recipients), d.stream, createWriteStream(join(staging, payload), { mode: 0o600 }), { signal: env.signal });
  const { sha256, size } = d.digest();
  return { ...manifest, encryption: { method: "openpgp", recipients: recipients.fingerprints, payload, payload_sha256: sha256, payload_size: size } };
}

/** Retention counts calendar days in the backup schedule's zone, else the scheduler's, else the host's. */
export function timeZoneOf(config: Config): { timeZone?: string } {
  const tz = config.backup.schedule?.timezone ?? config.scheduler.timezone;
  return tz ? { timeZone: tz } : {};
}
