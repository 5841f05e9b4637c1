// manifest.json, the first member of every archive: what the backup holds and the sha256 of every other member.
import { z } from "zod";
import { ChantalError } from "../errors.js";

/** Bumped when the archive layout changes incompatibly; a reader refuses versions it does not know (2: database_uncompressed_bytes). */
export const BACKUP_VERSION = 2;
export const MANIFEST_NAME = "manifest.json";
export const CONFIG_PREFIX = "config/";

export class BackupInvalidError extends ChantalError {}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase sha256 hex digest");
const count = z.number().int().min(0);

export const MemberSchema = z.strictObject({ sha256: sha256Hex, size: count });

export const PAYLOAD_NAMES = ["payload.tar.gz.pgp", "payload.tar.pgp"] as const;
export function payloadName(compress: boolean): (typeof PAYLOAD_NAMES)[number] {
  return compress ? PAYLOAD_NAMES[0] : PAYLOAD_NAMES[1];
}

/** manifest.json's `encryption` (outer manifest only): who can read the payload, and the ciphertext's sha256. */
export const EncryptionSchema = z.strictObject({
  method: z.literal("openpgp"),
  /** Primary-key fingerprints of the recipients (informative: the payload's own session-key packets decide). */
  recipients: z.array(z.string().regex(/^[0-9A-F]{40,64}$/, "must be an uppercase key fingerprint")).min(1),
  payload: z.enum(PAYLOAD_NAMES),
  payload_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  payload_size: z.number().int().min(0),
});

export const ManifestSchema = z.strictObject({
  backup_version: z.number().int().min(1),
  chantal_version: z.string().min(1),
  /** The last applied migration id: the schema version of the dumped database. */
  database_version: z.string().min(1),
  /** Every applied migration id, in order. */
  database_migrations: z.array(z.string().min(1)).min(1),
  created_at: z.iso.datetime({ offset: true }),
  hostname: z.string(),
  repositories_count: count,
  packages_count: count,
  snapshots_count: count,
  /** Row count of every table in the dump, checked after a restore. */
  tables: z.record(z.string(), count),
  includes_config: z.boolean(),
  compression: z.enum(["gzip", "none"]),
  database_file: z.enum(["database.sql.gz", "database.sql"]),
  database_size_bytes: count,
  /** Bytes of the dump once decompressed (backup_version 2): reading stops as soon as a dump exceeds it. */
  database_uncompressed_bytes: count.optional(),
  /** The configuration directory the files came from (informative). */
  config_dir: z.string().optional(),
  /** Paths relative to the configuration directory; each is the member config/<path>. */
  config_files: z.array(z.string().min(1)),
  /** Every member but manifest.json itself. */
  members: z.record(z.string(), MemberSchema),
  /** backup.encrypt: the outer manifest of an encrypted backup (members then describe the encrypted archive's). */
  encryption: EncryptionSchema.optional(),
});

export type Manifest = z.output<typeof ManifestSchema>;
export type MemberDigest = z.output<typeof MemberSchema>;
export type Encryption = z.output<typeof EncryptionSchema>;

/** The manifest of the archive inside an encrypted one: the outer manifest without its `encryption`. */
export function innerManifest(m: Manifest): Manifest {
  const { encryption: _, ...inner } = m;
  return inner;
}

/** Parse and check a manifest's own consistency; throws BackupInvalidError naming the problem. */
export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BackupInvalidError(`manifest.json is not valid JSON: ${(err as Error).message}`);
  }
  const version = (raw as { backup_version?: unknown } | null)?.backup_version;
  if (typeof version === "number" && version > BACKUP_VERSION) {
    throw new BackupInvalidError(`manifest.json has backup_version ${version}; this Chantal reads up to ${BACKUP_VERSION}: upgrade Chantal`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BackupInvalidError(`manifest.json: ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  const m = parsed.data;
  const expected = new Set([m.database_file, ...m.config_files.map((f) => CONFIG_PREFIX + f)]);
  for (const name of expected) if (!m.members[name]) throw new BackupInvalidError(`manifest.json lists no sha256 for member ${name}`);
  for (const name of Object.keys(m.members)) if (!expected.has(name)) throw new BackupInvalidError(`manifest.json lists an unexpected member ${name}`);
  if (m.members[m.database_file]!.size !== m.database_size_bytes)
    throw new BackupInvalidError(`manifest.json: database_size_bytes differs from the size of ${m.database_file}`);
  if (m.includes_config !== m.config_files.length > 0)
    throw new BackupInvalidError(`manifest.json: includes_config is ${m.includes_config} but ${m.config_files.length} config files are listed`);
  if ((m.compression === "gzip") !== m.database_file.endsWith(".gz"))
    throw new BackupInvalidError(`manifest.json: compression ${m.compression} does not match ${m.database_file}`);
  if (m.database_migrations.at(-1) !== m.database_version)
    throw new BackupInvalidError(`manifest.json: database_version is not the last of database_migrations`);
  if (m.backup_version >= 2 && m.database_uncompressed_bytes === undefined)
    throw new BackupInvalidError(`manifest.json: database_uncompressed_bytes is missing (backup_version ${m.backup_version})`);
  if (m.compression === "none" && m.database_uncompressed_bytes !== undefined && m.database_uncompressed_bytes !== m.database_size_bytes) {
    throw new BackupInvalidError(`manifest.json: database_uncompressed_bytes differs from database_size_bytes of an uncompressed dump`);
  }
  return m;
}

/** Older backups do not record the dump's decompressed size: a gzip'd dump of ours never expands this much. */
const MAX_GZIP_RATIO = 64;
const GZIP_SLACK = 64 * 1024 * 1024;

/** The most bytes the dump may decompress to: its declared size, else a ratio no dump of ours reaches. */
export function dumpByteLimit(m: Manifest | undefined, storedBytes: number, gzip: boolean): number {
  if (m?.database_uncompressed_bytes !== undefined) return m.database_uncompressed_bytes;
  return gzip ? storedBytes * MAX_GZIP_RATIO + GZIP_SLACK : storedBytes;
}
