// Real embedded PostgreSQL servers, real chantal child processes: sharing, lifetime and error messages.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { acquireEmbeddedPostgres, type EmbeddedLease } from "../../core/db/embedded.js";
import { applicationName } from "../../core/db/application-name.js";
import { connectPool } from "../../core/db/client.js";
import { migrate } from "../../core/db/migrate.js";
import { DatabaseError } from "../../core/errors.js";
import { serverPort as serverPortForTest } from "../../core/free-port.js";
import { silentLogger } from "../../core/log.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TIMEOUT = 90_000;
const bases: string[] = [];
const require_ = createRequire(import.meta.url);

// Each test gets its own base path, reachable by the 'postgres' user when the suite runs as root.
async function makeBase(): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), "chantal-embedded-"));
  await chmod(base, 0o755);
  bases.push(base);
  return base;
}

function dataDir(base: string): string {
  return join(base, "postgres", "data");
}

function postmasterPid(base: string): number | undefined {
  const file = join(dataDir(base), "postmaster.pid");
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Last-resort cleanup: a fast shutdown (SIGINT) of any postmaster a test left behind.
async function forceStop(base: string): Promise<void> {
  const pid = postmasterPid(base);
  if (!pid || !alive(pid)) return;
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

async function serverIsStopped(base: string): Promise<boolean> {
  const state = JSON.parse(await readFile(join(base, "postgres", "connection.json"), "utf8")) as { port: number };
  const client = new pg.Client({ host: "127.0.0.1", port: state.port, user: "x", database: "x", connectionTimeoutMillis: 3000 });
  const refused = await client.connect().then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === "ECONNREFUSED",
  );
  await client.end().catch(() => undefined);
  return refused && postmasterPid(base) === undefined;
}

// Named like Chantal's own connections, so a release right after does not count one that is still closing.
async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName("embedded-test") });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

// A chantal-like child: waits until startAt, acquires, reports the postmaster start time, holds, releases.
async function writeChildScript(dir: string): Promise<string> {
  const file = join(dir, "child.mts");
  const url = (p: string) => JSON.stringify(pathToFileURL(p).href);
  await writeFile(
    file,
    `import { acquireEmbeddedPostgres } from ${url(join(ROOT, "core/db/embedded.ts"))};
import { createLogger } from ${url(join(ROOT, "core/log.ts"))};
import pg from ${url(require_.resolve("pg", { paths: [ROOT] }))};
const [basePath, startAt, holdMs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
const lease = await acquireEmbeddedPostgres({ basePath, log: createLogger({ json: true, level: "debug" }) });
const client = new pg.Client({ connectionString: lease.url });
await client.connect();
const { rows } = await client.query("SELECT pg_postmaster_start_time()::text AS started");
await client.end();
process.stdout.write(JSON.stringify({ started: rows[0].started }) + "\\n");
await new Promise((r) => setTimeout(r, holdMs));
await lease.release();
`,
  );
  return file;
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runChild(script: string, base: string, startAt: number, holdMs: number): Promise<ChildResult> {
  const env = { ...process.env };
  delete env.CHANTAL_EMBEDDED_KEEP;
  return new Promise((resolveChild) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, base, String(startAt), String(holdMs)], { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolveChild({ code, stdout, stderr }));
  });
}

function logMessages(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => (JSON.parse(l) as { msg: string }).msg);
}

// What earlier versions left: initdb's superuser chantal is the only role and owns the database, the schema and
// every object (it ran the migrations); connection.json has no app role. Built with today's code, then undone.
async function makeOldStyleDataDir(base: string): Promise<void> {
  const lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
  const admin = await connectPool(lease.adminUrl, { max: 1 });
  try {
    await admin.query("ALTER DATABASE chantal OWNER TO chantal");
    await migrate(admin);
    await admin.query("INSERT INTO chantal.repositories (repo_id, type, upstream_url) VALUES ('old', 'apt', 'http://127.0.0.1/')");
    await admin.query("DROP ROLE chantal_app");
    const [owners] = (
      await admin.query(
        "SELECT count(DISTINCT relowner)::int AS n, min(pg_get_userbyid(relowner)) AS o FROM pg_class WHERE relnamespace = 'chantal'::regnamespace",
      )
    ).rows;
    expect(owners).toEqual({ n: 1, o: "chantal" });
  } finally {
    await admin.end();
    await lease.release();
  }
  const file = join(base, "postgres", "connection.json");
  const { port, password, createdAt } = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  await writeFile(file, `${JSON.stringify({ port, password, user: "chantal", database: "chantal", createdAt }, null, 2)}\n`, { mode: 0o600 });
  expect(await serverIsStopped(base)).toBe(true);
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

describe("embedded PostgreSQL", () => {
  const savedKeep = process.env.CHANTAL_EMBEDDED_KEEP;
  delete process.env.CHANTAL_EMBEDDED_KEEP;

  afterEach(() => {
    delete process.env.CHANTAL_EMBEDDED_KEEP;
  });

  afterAll(async () => {
    for (const base of bases) {
      await forceStop(base);
      await rm(base, { recursive: true, force: true });
    }
    if (savedKeep !== undefined) process.env.CHANTAL_EMBEDDED_KEEP = savedKeep;
  });

  it(
    "starts a server, serves queries, and stops it on the last release",
    async () => {
      const base = await makeBase();
      const lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      expect(lease.url).toMatch(/^postgres:\/\/chantal_app:[0-9a-f]+@127\.0\.0\.1:\d+\/chantal$/);
      expect(await query<{ one: number }>(lease.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
      const user = await query<{ u: string; d: string }>(lease.url, "SELECT current_user AS u, current_database() AS d");
      expect(user).toEqual([{ u: "chantal_app", d: "chantal" }]);

      await lease.release();
      await lease.release(); // idempotent
      expect(await serverIsStopped(base)).toBe(true);

      const stateMode = statSync(join(base, "postgres", "connection.json")).mode & 0o777;
      expect(stateMode).toBe(0o600);
    },
    TIMEOUT,
  );

  it(
    "lets two processes started at the same moment share one server, initialised once",
    async () => {
      const base = await makeBase();
      const script = await writeChildScript(base);
      const startAt = Date.now() + 1500;
      const [a, b] = await Promise.all([runChild(script, base, startAt, 2500), runChild(script, base, startAt, 2500)]);

      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      const messages = [...logMessages(a.stderr), ...logMessages(b.stderr)];
      expect(messages.filter((m) => m === "initializing embedded PostgreSQL")).toHaveLength(1);
      expect(messages.filter((m) => m === "starting embedded PostgreSQL")).toHaveLength(1);
      expect(messages.filter((m) => m.startsWith("stopping embedded PostgreSQL"))).toHaveLength(1);
      const started = [a, b].map((r) => (JSON.parse(r.stdout.trim()) as { started: string }).started);
      expect(started[0]).toBe(started[1]);

      const serverLog = await readFile(join(base, "postgres", "server.log"), "utf8");
      expect(serverLog.match(/starting PostgreSQL/g)).toHaveLength(1);
      expect(await serverIsStopped(base)).toBe(true);
    },
    TIMEOUT,
  );

  it(
    "keeps the server alive while this process holds a lease and another process releases",
    async () => {
      const base = await makeBase();
      const lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      const script = await writeChildScript(base);
      const child = await runChild(script, base, 0, 0);

      expect(child.code, child.stderr).toBe(0);
      expect(logMessages(child.stderr).some((m) => m.startsWith("stopping"))).toBe(false);
      expect(await query<{ one: number }>(lease.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);

      await lease.release();
      expect(await serverIsStopped(base)).toBe(true);
    },
    TIMEOUT,
  );

  it(
    "leaves the server running on release when CHANTAL_EMBEDDED_KEEP=1, and a later acquire reuses it",
    async () => {
      const base = await makeBase();
      process.env.CHANTAL_EMBEDDED_KEEP = "1";
      const first = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      await first.release();
      const pid = postmasterPid(base);
      expect(pid && alive(pid)).toBe(true);

      delete process.env.CHANTAL_EMBEDDED_KEEP;
      const second = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      expect(postmasterPid(base)).toBe(pid);
      await second.release();
      expect(await serverIsStopped(base)).toBe(true);
    },
    TIMEOUT,
  );

  it.skipIf(!existsSync("/proc/self/environ"))(
    "starts the server with a clean environment: no secret of the CLI's environment reaches the postmaster",
    async () => {
      const base = await makeBase();
      const secret = `s3cret-${Date.now().toString(36)}`;
      const saved = { proxy: process.env.HTTPS_PROXY, token: process.env.CHANTAL_TEST_REPO_PASSWORD };
      process.env.HTTPS_PROXY = `http://user:${secret}@proxy.invalid:3128`;
      process.env.CHANTAL_TEST_REPO_PASSWORD = secret;
      let lease: EmbeddedLease | undefined;
      try {
        lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      } finally {
        restoreEnv("HTTPS_PROXY", saved.proxy);
        restoreEnv("CHANTAL_TEST_REPO_PASSWORD", saved.token);
      }
      try {
        const pid = postmasterPid(base);
        expect(pid).toBeDefined();
        const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
        expect(environ).not.toContain(secret);
        const names = environ
          .split("\0")
          .filter(Boolean)
          .map((kv) => kv.slice(0, kv.indexOf("=")));
        // Ours, plus what pg_ctl (PGDATA, PGSYSCONFDIR, PG_GRANDPARENT_PID) and its /bin/sh (PWD) add themselves.
        const added = ["PGDATA", "PGSYSCONFDIR", "PG_GRANDPARENT_PID", "PWD"];
        expect(names.filter((n) => !["PATH", "LANG", "LC_ALL", "TZ", ...added].includes(n))).toEqual([]);
      } finally {
        await lease?.release();
      }
    },
    TIMEOUT,
  );

  it(
    "connects Chantal as a role that is no superuser, which still migrates, locks, takes over and swaps schemas",
    async () => {
      const base = await makeBase();
      const lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      const pool = await connectPool(lease.url, { max: 3 });
      try {
        const [role] = await query<Record<string, boolean>>(
          lease.url,
          "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        );
        expect(role).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false });
        const toProgram = await query(lease.url, "COPY (SELECT 1) TO PROGRAM 'id'").catch((e: unknown) => e);
        expect(toProgram).toMatchObject({ code: "42501", message: expect.stringMatching(/permission denied/) });
        const createDb = await query(lease.url, "CREATE DATABASE other_app").catch((e: unknown) => e);
        expect(createDb).toMatchObject({ code: "42501" });
        expect(await query<{ s: boolean }>(lease.adminUrl, "SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user")).toEqual([{ s: true }]);

        expect((await migrate(pool)).length).toBeGreaterThan(0);
        const [owner] = await query<{ o: string }>(lease.url, "SELECT pg_get_userbyid(nspowner) AS o FROM pg_namespace WHERE nspname = 'chantal'");
        expect(owner).toEqual({ o: "chantal_app" });

        // --force takeover: pg_terminate_backend of a session of the same role.
        const holder = await pool.connect();
        holder.on("error", () => undefined);
        const { rows } = await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        expect(await query<{ t: boolean }>(lease.url, `SELECT pg_terminate_backend(${rows[0]!.pid}) AS t`)).toEqual([{ t: true }]);
        holder.release(true);

        // What a restore does: rename the live schema aside, create a new one, drop the old.
        await pool.query("ALTER SCHEMA chantal RENAME TO chantal_pre_restore");
        await pool.query("CREATE SCHEMA chantal");
        await pool.query("DROP SCHEMA chantal_pre_restore CASCADE");
      } finally {
        await pool.end();
        await lease.release();
      }
    },
    TIMEOUT,
  );

  it(
    "converts a data dir from before the app role (superuser chantal owns everything), once, under two concurrent starts",
    async () => {
      const base = await makeBase();
      await makeOldStyleDataDir(base);
      const script = await writeChildScript(base);
      const startAt = Date.now() + 1500;
      const [a, b] = await Promise.all([runChild(script, base, startAt, 1500), runChild(script, base, startAt, 1500)]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      const messages = [...logMessages(a.stderr), ...logMessages(b.stderr)];
      expect(messages.filter((m) => m.startsWith("creating the role"))).toHaveLength(1);
      expect(messages.filter((m) => m.startsWith("handing the embedded database"))).toHaveLength(1);

      const lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      const pool = await connectPool(lease.url, { max: 2 });
      try {
        expect(await query<{ u: string; s: boolean }>(lease.url, "SELECT current_user AS u, rolsuper AS s FROM pg_roles WHERE rolname = current_user")).toEqual(
          [{ u: "chantal_app", s: false }],
        );
        const notOwned = await query<{ name: string }>(
          lease.adminUrl,
          `SELECT c.relname AS name FROM pg_class c WHERE c.relnamespace = 'chantal'::regnamespace AND pg_get_userbyid(c.relowner) <> 'chantal_app'
           UNION ALL SELECT t.typname FROM pg_type t WHERE t.typnamespace = 'chantal'::regnamespace AND pg_get_userbyid(t.typowner) <> 'chantal_app'
           UNION ALL SELECT nspname FROM pg_namespace WHERE nspname = 'chantal' AND pg_get_userbyid(nspowner) <> 'chantal_app'
           UNION ALL SELECT datname FROM pg_database WHERE datname = 'chantal' AND pg_get_userbyid(datdba) <> 'chantal_app'`,
        );
        expect(notOwned).toEqual([]);
        expect(await migrate(pool)).toEqual([]);
        expect((await pool.query("SELECT repo_id FROM chantal.repositories")).rows).toEqual([{ repo_id: "old" }]);
        await pool.query("INSERT INTO chantal.repositories (repo_id, type, upstream_url) VALUES ('new', 'rpm', 'http://127.0.0.1/')"); // its sequence too
        await pool.query("ALTER TABLE chantal.repositories ADD COLUMN note text"); // owner, not just privileges
        const state = JSON.parse(await readFile(join(base, "postgres", "connection.json"), "utf8")) as Record<string, unknown>;
        expect(state).toMatchObject({ user: "chantal", appUser: "chantal_app", appPassword: expect.stringMatching(/^[0-9a-f]{48}$/) });
      } finally {
        await pool.end();
        await lease.release();
      }
      expect(await serverIsStopped(base)).toBe(true);
    },
    TIMEOUT,
  );

  it(
    "after a kill -9 of the server, its stale postmaster.pid (still 'ready') is not taken for a started server",
    async () => {
      const base = await makeBase();
      process.env.CHANTAL_EMBEDDED_KEEP = "1";
      const first = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      await first.release();
      const old = postmasterPid(base)!;
      process.kill(old, "SIGKILL");
      for (let i = 0; i < 100 && alive(old); i++) await new Promise((r) => setTimeout(r, 20));
      expect(
        readFileSync(join(dataDir(base), "postmaster.pid"), "utf8")
          .split("\n")[7]
          ?.trim(),
      ).toBe("ready");

      delete process.env.CHANTAL_EMBEDDED_KEEP;
      const second = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      try {
        expect(postmasterPid(base)).not.toBe(old);
        expect(await query<{ one: number }>(second.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
      } finally {
        await second.release();
      }
      expect(await serverIsStopped(base)).toBe(true);
    },
    TIMEOUT,
  );

  it(
    "a server that cannot start (its port taken) fails with the port named, not as a wait for it to be ready",
    async () => {
      const base = await makeBase();
      const first = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
      await first.release();
      const { port } = JSON.parse(await readFile(join(base, "postgres", "connection.json"), "utf8")) as { port: number };
      const squatter = createServer();
      await new Promise<void>((ok) => squatter.listen(port, "127.0.0.1", ok));
      try {
        const started = Date.now();
        const err = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger(), startTimeoutMs: 20_000 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DatabaseError);
        expect((err as Error).message).toContain(`Port ${port} on 127.0.0.1 is taken by another program`);
        expect(Date.now() - started).toBeLessThan(15_000);
        expect(postmasterPid(base)).toBeUndefined();
      } finally {
        await new Promise((ok) => squatter.close(ok));
      }
    },
    TIMEOUT,
  );

  it(
    "a new cluster whose port was taken between initdb and its first start moves to another port and starts",
    async () => {
      const base = await makeBase();
      const squatter = createServer();
      await new Promise<void>((ok) => squatter.listen(0, "127.0.0.1", ok));
      const takenPort = (squatter.address() as { port: number }).port;
      const ports = [takenPort];
      const choosePort = async () => ports.shift() ?? (await serverPortForTest());
      try {
        const lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger(), choosePort });
        try {
          const { port } = JSON.parse(await readFile(join(base, "postgres", "connection.json"), "utf8")) as { port: number };
          expect(port).not.toBe(takenPort);
          expect(lease.url).toContain(`@127.0.0.1:${port}/`);
          expect(await query<{ one: number }>(lease.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
        } finally {
          await lease.release();
        }
      } finally {
        await new Promise((ok) => squatter.close(ok));
      }
    },
    TIMEOUT,
  );

  it("fails clearly when the base path is not a usable directory", async () => {
    const base = await makeBase();
    await writeFile(join(base, "postgres"), "not a directory");
    const err = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).toMatch(/storage base path .* cannot hold the embedded PostgreSQL/);
    expect((err as Error).message).toMatch(/storage\.base_path/);

    const fileBase = join(base, "a-file");
    await writeFile(fileBase, "");
    const err2 = await acquireEmbeddedPostgres({ basePath: fileBase, log: silentLogger() }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(DatabaseError);
    expect((err2 as Error).message).toMatch(/not a directory/);
  });

  it.skipIf(process.getuid?.() !== 0)("as root, explains when the postgres user cannot reach the base path", async () => {
    const base = await makeBase();
    const locked = join(base, "locked");
    await mkdir(locked, { mode: 0o700 });
    const err = await acquireEmbeddedPostgres({ basePath: join(locked, "store"), log: silentLogger() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    const message = (err as Error).message;
    expect(message).toMatch(/user 'postgres'.*cannot reach/);
    // The parent that blocks, and a fix that works: never "choose" or "chmod" the very path that failed.
    expect(message).toContain(`${locked} (mode 0700, owner root) is not searchable by it`);
    expect(message).toContain(`chmod o+x ${locked}"`);
    expect(message).toMatch(/storage\.base_path that is not under/);
    expect(message).not.toContain(`chmod o+x ${join(locked, "store")}`);
    expect(message).not.toMatch(/such as \/var\/lib\/chantal/);
  });
});
