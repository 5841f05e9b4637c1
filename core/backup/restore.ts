// db restore, all-or-nothing: inside ONE transaction the live schema is renamed aside, the dump recreates `chantal`, the
// row counts are checked against the manifest, newer migrations are applied, and the old schema is dropped. Any failure —
// or the process being killed — rolls the transaction back and the database is exactly as it was.
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import pg from "pg";
import { LockClass } from "../db/lock-ids.js";
import { acquireLock, describeHolder, LockHeldError, maintenanceLockRequest, type HeldLock } from "../db/locks.js";
import { applyMigrations, type Migration } from "../db/migrate.js";
import { forgetAllChecksums } from "../db/repositories.js";
import { inTransaction } from "../db/transaction.js";
import { ChantalError, DatabaseError, LockBusyError } from "../errors.js";
import { digestingStream, readArchive, readSmall } from "./archive.js";
import { qualified, SCHEMA } from "./dump.js";
import { loadDump } from "./load.js";
import { BackupInvalidError, CONFIG_PREFIX, dumpByteLimit, innerManifest, MANIFEST_NAME, type Manifest, type MemberDigest } from "./manifest.js";
import { MAX_SIGNATURE_BYTES, SIGNATURE_NAME } from "./signing.js";
import { memberChecks } from "./verify.js";

export class NewerSchemaError extends ChantalError {}

/** How long the restore waits for other sessions' table locks before giving up (and rolling back). */
const LOCK_TIMEOUT = "60s";

export interface TableCounts {
  repositories: number;
  packages: number;
  snapshots: number;
}

/** Migrations the backup lacks, applied after it is loaded; refuses a backup whose schema this version does not know. */
export function migrationsAfter(manifest: Manifest, known: Migration[]): Migration[] {
  const knownIds = new Set(known.map((m) => m.id));
  const unknown = manifest.database_migrations.filter((id) => !knownIds.has(id));
  if (unknown.length > 0) {
    throw new NewerSchemaError(
      `the backup's database schema (version ${manifest.database_version}, made by Chantal ${manifest.chantal_version}) is newer than this Chantal knows ` +
        `(latest ${known.at(-1)?.id ?? "none"}; unknown: ${unknown.join(", ")}): upgrade Chantal to restore it`,
    );
  }
  const applied = new Set(manifest.database_migrations);
  return known.filter((m) => !applied.has(m.id));
}

/** Current counts, or null when the database has no chantal schema yet. */
export async function currentCounts(q: pg.Pool | pg.ClientBase): Promise<TableCounts | null> {
  const exists = await q.query(`SELECT to_regclass('chantal.packages') AS t`);
  if (!exists.rows[0].t) return null;
  const r = await q.query(
    `SELECT (SELECT count(*) FROM chantal.repositories)::int AS repositories, (SELECT count(*) FROM chantal.packages)::int AS packages, (SELECT count(*) FROM chantal.snapshots)::int AS snapshots`,
  );
  return r.rows[0] as TableCounts;
}

/** The exclusive maintenance lock: refused while syncs (or backups) hold it shared, naming them. */
export async function takeRestoreLock(databaseUrl: string, purpose: string, signal?: AbortSignal): Promise<HeldLock> {
  try {
    return await acquireLock(databaseUrl, maintenanceLockRequest("exclusive", purpose, signal ? { signal } : {}));
  } catch (err) {
    if (err instanceof LockHeldError) {
      const who = err.holders.map((h) => `${h.purpose ?? "a Chantal process"} (${describeHolder(h)})`).join(", ");
      throw new LockBusyError(
        `refusing to restore while the database is in use by: ${who || "another Chantal process"}; wait for them to finish, or stop them`,
      );
    }
    throw err;
  }
}

export interface LoadOptions {
  manifest: Manifest;
  /** Migrations this version knows, to apply the ones the backup lacks. */
  known: Migration[];
  /** COMMIT (restore) or ROLLBACK (backup-verify --deep). */
  commit: boolean;
  /** Write the config/ members into this (new, empty) directory. */
  configStagingDir?: string;
  signal?: AbortSignal;
  onPhase?: (phase: "load" | "check" | "migrate" | "commit") => void;
}

export interface LoadOutcome {
  tables: Record<string, { expected: number; actual: number }>;
  migrated: string[];
  configFiles: number;
}

async function schemaExists(client: pg.ClientBase, name: string): Promise<boolean> {
  return (await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [name])).rowCount === 1;
}

async function tableCounts(client: pg.ClientBase, tables: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of tables) {
    const r = await client.query(`SELECT count(*)::bigint AS n FROM ${qualified(t)}`);
    out.set(t, Number(r.rows[0].n));
  }
  return out;
}

/** Where a config/ member is written, refusing anything that would leave the staging directory. */
function stagedPath(stagingDir: string, member: string): string {
  const rel = member.slice(CONFIG_PREFIX.length);
  const abs = resolve(stagingDir, rel);
  if (!rel || !abs.startsWith(resolve(stagingDir) + "/"))
    throw new BackupInvalidError(`archive member "${member}" would be written outside the configuration directory: refused`);
  return abs;
}

/** Read the archive once more inside the transaction: the dump goes into the database, config/ into the staging dir. */
async function loadMembers(client: pg.ClientBase, input: Readable, opts: LoadOptions): Promise<Map<string, MemberDigest>> {
  const digests = new Map<string, MemberDigest>();
  // The archive of an encrypted backup (decrypted) holds the outer manifest without its `encryption`.
  const manifestText = JSON.stringify(innerManifest(opts.manifest));
  await readArchive(
    input,
    async (m) => {
      if (m.path === MANIFEST_NAME) {
        const again = JSON.stringify(JSON.parse(await readSmall(m.body, 16 << 20, MANIFEST_NAME)));
        if (again !== manifestText) throw new BackupInvalidError("manifest.json changed since the archive was verified: refused");
        return;
      }
      // Checked by the verification that came first; the manifest it signs is compared above.
      if (m.path === SIGNATURE_NAME) return void (await readSmall(m.body, MAX_SIGNATURE_BYTES, SIGNATURE_NAME));
      const d = digestingStream();
      if (m.path === opts.manifest.database_file) {
        const decoded = new PassThrough({ highWaterMark: 1 << 20 });
        const feeding = opts.manifest.compression === "gzip" ? pipeline(m.body, d.stream, createGunzip(), decoded) : pipeline(m.body, d.stream, decoded);
        const loading = loadDump(client, decoded, {
          migrations: opts.manifest.database_migrations,
          known: opts.known,
          deferConstraints: true,
          limits: { maxBytes: dumpByteLimit(opts.manifest, m.size, opts.manifest.compression === "gzip") },
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        // A refused dump stops the reading at once (else the rest of the member would still be decompressed).
        loading.catch((err: Error) => decoded.destroy(err));
        await Promise.all([loading, feeding]);
      } else if (m.path.startsWith(CONFIG_PREFIX) && opts.configStagingDir && opts.manifest.members[m.path]) {
        const to = stagedPath(opts.configStagingDir, m.path);
        await mkdir(dirname(to), { recursive: true, mode: 0o700 });
        await pipeline(m.body, d.stream, createWriteStream(to, { mode: 0o600 }));
      } else if (opts.manifest.members[m.path]) {
        await pipeline(m.body, d.stream, new PassThrough().resume());
      } else {
        throw new BackupInvalidError(`archive member "${m.path}" is not in the manifest: refused`);
      }
      digests.set(m.path, d.digest());
    },
    opts.signal ? { signal: opts.signal } : {},
  );
  return digests;
}

/** The migrations the loaded rows record must be the manifest's: else the forward migrations would be wrong. */
async function checkLoadedMigrations(client: pg.ClientBase, manifest: Manifest): Promise<void> {
  const rows = (await client.query(`SELECT id FROM ${qualified("schema_migrations")} ORDER BY id`)).rows.map((r) => r.id as string);
  if (rows.join(",") !== manifest.database_migrations.join(",")) {
    throw new BackupInvalidError(
      `the dump's schema_migrations rows (${rows.join(", ") || "none"}) differ from the manifest's migrations (${manifest.database_migrations.join(", ")}): nothing was restored`,
    );
  }
}

/** Live lock holders are about sessions, not data: carry them over so `restore` itself is still named while it runs. */
async function carryLockHolders(client: pg.ClientBase, oldSchema: string): Promise<void> {
  const cols = "lock_class, lock_key, backend_pid, host, pid, purpose, since";
  await client.query("SAVEPOINT carry_lock_holders");
  try {
    await client.query(`INSERT INTO chantal.lock_holders (${cols}) SELECT ${cols} FROM ${pg.escapeIdentifier(oldSchema)}.lock_holders ON CONFLICT DO NOTHING`);
    await client.query("RELEASE SAVEPOINT carry_lock_holders");
  } catch {
    await client.query("ROLLBACK TO SAVEPOINT carry_lock_holders");
  }
}

/**
 * Replace the chantal schema with the archive's dump in one transaction on `client`. Throws (after ROLLBACK) on any
 * problem: a member whose sha256 differs, counts that differ from the manifest, a failed migration, a lock timeout.
 */
export async function loadBackupIntoDatabase(client: pg.ClientBase, input: Readable, opts: LoadOptions): Promise<LoadOutcome> {
  const pending = migrationsAfter(opts.manifest, opts.known);
  const oldSchema = `${SCHEMA}_pre_restore_${randomBytes(4).toString("hex")}`;
  try {
    return await inTransaction(
      client,
      async () => {
        await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
        // Processes starting meanwhile migrate under this lock: they wait for the restore instead of racing it.
        await client.query("SELECT pg_advisory_xact_lock($1, 0)", [LockClass.migrate]);
        const hadSchema = await schemaExists(client, SCHEMA);
        if (hadSchema) await client.query(`ALTER SCHEMA ${SCHEMA} RENAME TO ${pg.escapeIdentifier(oldSchema)}`);
        opts.onPhase?.("load");
        const digests = await loadMembers(client, input, opts);
        const bad = memberChecks(opts.manifest, digests).find((c) => !c.ok);
        if (bad) throw new BackupInvalidError(`${bad.label}: ${bad.detail ?? "failed"}: nothing was restored`);
        opts.onPhase?.("check");
        const expected = opts.manifest.tables;
        const actual = await tableCounts(client, Object.keys(expected));
        const tables: LoadOutcome["tables"] = {};
        for (const [t, n] of Object.entries(expected)) {
          tables[t] = { expected: n, actual: actual.get(t)! };
          if (actual.get(t) !== n)
            throw new BackupInvalidError(`table ${t} has ${actual.get(t)} rows after loading the dump, the manifest says ${n}: nothing was restored`);
        }
        await checkLoadedMigrations(client, opts.manifest);
        opts.onPhase?.("migrate");
        await applyMigrations(client, pending, "migrating the restored backup forward: migration");
        // The pool and published trees were not restored: the next sync re-plans against the pool (fetching what is missing) and republishes.
        await forgetAllChecksums(client);
        if (hadSchema && opts.commit) {
          await carryLockHolders(client, oldSchema);
          await client.query(`DROP SCHEMA ${pg.escapeIdentifier(oldSchema)} CASCADE`);
        }
        opts.onPhase?.("commit");
        const configFiles = [...digests.keys()].filter((k) => k.startsWith(CONFIG_PREFIX)).length;
        return { tables, migrated: pending.map((m) => m.id), configFiles };
      },
      { commit: opts.commit },
    );
  } catch (err) {
    if ((err as { code?: string }).code === "55P03") {
      throw new DatabaseError(
        `restore gave up waiting ${LOCK_TIMEOUT} for other sessions' locks on the chantal tables (a long query or an open transaction?): nothing was restored`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** A connection whose socket is cut when `signal` aborts: the server then rolls the open transaction back. */
export async function restoreConnection(databaseUrl: string, signal?: AbortSignal): Promise<{ client: pg.Client; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: "chantal-restore" });
  client.on("error", () => undefined);
  await client.connect();
  const cut = () => (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  signal?.addEventListener("abort", cut, { once: true });
  return {
    client,
    async close() {
      signal?.removeEventListener("abort", cut);
      await client.end().catch(() => undefined);
    },
  };
}
