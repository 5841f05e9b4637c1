// Benchmark: Chantal's first sync, no-op re-sync and peak RSS against `dnf reposync` and a raw `curl ×8` (8 curl
// processes fetching the same package URLs into files) on the same generated repositories, served from 127.0.0.1
// (nginx when installed, else bench/serve.ts), medians of N runs measured side by side in one invocation. See
// bench/README.md for the method and the latest numbers.
//
//   npm run bench -- [--quick] [--only small,large,noop,big-primary] [--runs 3] [--wait 70] [--json] ...
//   npm run bench:filter -- [--quick]   (= --only filter-big,retain: curated mirrors against the unfiltered sync)
//
// Everything it writes lives under $CHANTAL_BENCH_DIR (default /tmp/chantal-bench): the generated
// repositories (cached between invocations), nginx's config/pid/logs, the embedded PostgreSQL, and the
// per-run storage (deleted before each workload, then `sync` and a wait: PERFORMANCE.md's hygiene).
// Results go to stdout and to bench/results/latest.json.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, readdirSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { cpus, release, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { generateRpmRepo } from "../test/fixtures/rpm-repo-generator.js";
import { freePort, median, round, stopwatch, table } from "./lib.js";
import { NODE_FLAGS } from "../core/node-flags.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "bin", "chantal-run.js");
const MEM_TRACE = join(ROOT, "bench", "mem-trace.mjs");
const RESULTS_DIR = join(ROOT, "bench", "results");
const MB = 1_000_000;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------- options

type WorkloadId = "small" | "large" | "noop" | "big-primary" | "filter-big" | "retain";

/** One sync of a filter workload: the unfiltered baseline (no filter) or a filter, and what it must keep. */
interface FilterVariant {
  tool: string;
  /** The repository's filter: block (FilterSchema), written as JSON (a YAML flow mapping); absent: the baseline. */
  filter?: Record<string, unknown>;
  /** Lines added to the storage: block (`--fsync-compare`: `fsync: false`). */
  storageYaml?: string;
  /** Packages it must download and publish, of `names` names with `versions` versions each. */
  kept(names: number, versions: number): number;
  /** The issue 15 targets, checked against the baseline of the same run; `reportOnly`: shown, never MISSED. */
  ratioMax?: number;
  rssMb?: number;
  reportOnly?: boolean;
  what: string;
}

interface WorkloadDef {
  id: WorkloadId;
  title: string;
  /** `count` names (× `filter.versions` versions for filter workloads), `bytes` each. */
  full: { count: number; bytes: number };
  quick: { count: number; bytes: number };
  /**
   * PERFORMANCE.md / issue 3 targets at full size; `curlRatio`: the first sync ÷ `curl ×8` of the same run at most
   * this (issue 19 point 4), at any size.
   */
  targets: { firstSec?: number; noopSec?: number; rssMb?: number; curlRatio?: number };
  /** A curated-mirror workload (issue 15): Chantal only, each variant a fresh first sync + no-op per run, no dnf. */
  filter?: { versions: number; variants: FilterVariant[] };
}

const BASELINE: FilterVariant = { tool: "chantal", kept: (n, v) => n * v, what: "no filter (the baseline)" };
/** `--fsync-compare`: the same sync with storage.fsync: false, so that the flushes' cost is measured side by side. */
const NO_FSYNC: FilterVariant = { tool: "chantal-nofsync", storageYaml: "  fsync: false\n", kept: (n, v) => n * v, what: "storage.fsync: false" };

const WORKLOADS: WorkloadDef[] = [
  { id: "small", title: "5,000 × 20 KB", full: { count: 5_000, bytes: 20 * 1024 }, quick: { count: 1_000, bytes: 20 * 1024 }, targets: { firstSec: 3.5 } },
  { id: "large", title: "200 × 5 MB", full: { count: 200, bytes: 5 * MiB }, quick: { count: 40, bytes: 5 * MiB }, targets: { firstSec: 5, curlRatio: 1.2 } },
  {
    id: "noop",
    title: "20,000 × 2 KB",
    full: { count: 20_000, bytes: 2 * 1024 },
    quick: { count: 4_000, bytes: 2 * 1024 },
    targets: { firstSec: 8, noopSec: 1, rssMb: 150, curlRatio: 2 },
  },
  { id: "big-primary", title: "100,000 × 200 B", full: { count: 100_000, bytes: 200 }, quick: { count: 20_000, bytes: 200 }, targets: { rssMb: 300 } },
  {
    id: "filter-big",
    title: "100,000 × 200 B, filtered",
    full: { count: 100_000, bytes: 200 },
    quick: { count: 20_000, bytes: 200 },
    targets: {},
    filter: {
      versions: 1,
      variants: [
        BASELINE,
        // Names end in their index's last digit: leaving out the even ones keeps exactly half.
        {
          tool: "chantal-half",
          filter: { exclude: ["*0", "*2", "*4", "*6", "*8"] },
          kept: (n) => n / 2,
          ratioMax: 1.3,
          rssMb: 300,
          what: "exclude the even half",
        },
        // The same half with the dependency closure: primary's provides and files of every package are read and held for it.
        {
          tool: "chantal-half-deps",
          filter: { exclude: ["*0", "*2", "*4", "*6", "*8"], with_dependencies: true },
          kept: (n) => n / 2,
          ratioMax: 1.3,
          reportOnly: true,
          what: "the even half, with_dependencies",
        },
        // Active (an exclude) but leaves nothing out: the whole cost of regenerating, with every download of the baseline.
        {
          tool: "chantal-keep-all",
          filter: { exclude: ["no-such-package-*"] },
          kept: (n) => n,
          ratioMax: 1.3,
          reportOnly: true,
          what: "active filter keeping all",
        },
      ],
    },
  },
  {
    id: "retain",
    title: "10 versions × 10,000 names × 200 B",
    full: { count: 10_000, bytes: 200 },
    quick: { count: 2_000, bytes: 200 },
    targets: {},
    filter: {
      versions: 10,
      variants: [
        BASELINE,
        { tool: "chantal-retain1", filter: { retain_versions: 1 }, kept: (n) => n, ratioMax: 1.3, reportOnly: true, what: "retain_versions: 1" },
      ],
    },
  },
];
const MIRROR_WORKLOADS = WORKLOADS.filter((w) => !w.filter).map((w) => w.id);
const FILTER_WORKLOADS = WORKLOADS.filter((w) => w.filter).map((w) => w.id);
const ALIASES: Record<string, WorkloadId> = {
  many: "noop",
  "20k": "noop",
  big: "big-primary",
  bigprimary: "big-primary",
  memory: "big-primary",
  filter: "filter-big",
  "retain-versions": "retain",
};

const USAGE = `usage: npm run bench -- [options]
  --only LIST         workloads, comma-separated or repeated: small, large, noop (20,000 × 2 KB), big-primary
                      (default: these four), filter-big, retain (curated mirrors; npm run bench:filter runs both)
  --runs N            runs per workload, median reported (default 3; 1 with --quick)
  --big-runs N        runs for big-primary, filter-big and retain (default 1)
  --quick             reduced sizes (1,000 × 20 KB, 40 × 5 MB, 4,000 × 2 KB, 20,000 × 200 B; filter-big 20,000,
                      retain 10 × 2,000)
  --wait S            seconds to wait after deleting old data and sync (default 70; 5 with --quick)
  --dir DIR           bench data directory (default $CHANTAL_BENCH_DIR or /tmp/chantal-bench)
  --dnf-parallel L    dnf max_parallel_downloads values to compare (default 3,10; big-primary uses the first)
  --no-dnf            skip dnf reposync
  --no-curl           skip the curl ×8 baseline (8 curl processes, each fetching an eighth of the package URLs over
                      one keep-alive connection into files: small, large and noop)
  --server S          auto | nginx | node (default auto: nginx when installed)
  --fsync-compare     also sync each mirror workload with storage.fsync: false; prints the cost of the flushes
                      (target: on ÷ off ≤ 1.15)
  --concurrency N     Chantal's download_concurrency (default: Chantal's own default)
  --no-build          do not run \`npm run build\` first (uses dist/ as it is)
  --from-source       run Chantal from TypeScript (CHANTAL_FROM_SOURCE=1) instead of dist/
  --verbose           Chantal debug logs (kept under DIR/logs)
  --cpu-prof          CPU-profile Chantal's syncs (DIR/profiles/<workload>/run<N>/{first,noop}); prints the top self times
  --mem-trace         every thread of Chantal (workers too) logs process.memoryUsage() every 100 ms to
                      DIR/logs/<workload>/run<N>/<tool>-<first|noop>.log.mem.<main|workerN> (bench/mem-trace.mjs)
  --max-busy PCT      before each timing, wait until the CPUs are at most PCT% busy (default 20; shared machines)
  --quiet-max S       ... but at most S seconds (default 120; 20 with --quick)
  --regenerate        regenerate the cached repositories
  --keep              keep the synced data at the end (default: deleted)
  --json              print the results as JSON instead of the table
`;

interface Options {
  only: WorkloadId[];
  runs: number;
  bigRuns: number;
  quick: boolean;
  waitSec: number;
  dir: string;
  dnfParallel: number[];
  dnf: boolean;
  curl: boolean;
  server: "auto" | "nginx" | "node";
  concurrency: number | undefined;
  fsyncCompare: boolean;
  build: boolean;
  fromSource: boolean;
  verbose: boolean;
  cpuProf: boolean;
  memTrace: boolean;
  regenerate: boolean;
  maxBusyPct: number;
  quietMaxSec: number;
  keep: boolean;
  json: boolean;
}

function fail(message: string, code = 2): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

function positiveInt(name: string, raw: string | undefined, dflt: number, min = 1): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) fail(`${name} takes an integer >= ${min}, not "${raw}"\n${USAGE}`);
  return n;
}

function parseOptions(argv: string[]): Options {
  const parsed = (() => {
    try {
      return parseArgs({
        args: argv,
        options: {
          only: { type: "string", multiple: true },
          runs: { type: "string" },
          "big-runs": { type: "string" },
          quick: { type: "boolean", default: false },
          wait: { type: "string" },
          dir: { type: "string" },
          "dnf-parallel": { type: "string" },
          "no-dnf": { type: "boolean", default: false },
          "no-curl": { type: "boolean", default: false },
          server: { type: "string", default: "auto" },
          concurrency: { type: "string" },
          "fsync-compare": { type: "boolean", default: false },
          "no-build": { type: "boolean", default: false },
          "from-source": { type: "boolean", default: false },
          verbose: { type: "boolean", default: false },
          "cpu-prof": { type: "boolean", default: false },
          "mem-trace": { type: "boolean", default: false },
          regenerate: { type: "boolean", default: false },
          "max-busy": { type: "string" },
          "quiet-max": { type: "string" },
          keep: { type: "boolean", default: false },
          json: { type: "boolean", default: false },
          help: { type: "boolean", short: "h", default: false },
        },
        strict: true,
        allowPositionals: false,
      });
    } catch (err) {
      return fail(`${(err as Error).message}\n${USAGE}`);
    }
  })();
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const only: WorkloadId[] = [];
  for (const item of (v.only ?? [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    const id = (ALIASES[item] ?? item) as WorkloadId;
    if (!WORKLOADS.some((w) => w.id === id)) fail(`unknown workload "${item}" (${WORKLOADS.map((w) => w.id).join(", ")})`);
    if (!only.includes(id)) only.push(id);
  }
  const quick = v.quick;
  const server = v.server as Options["server"];
  if (!["auto", "nginx", "node"].includes(server)) fail(`--server takes auto, nginx or node, not "${v.server}"`);
  const dnfParallel = (v["dnf-parallel"] ?? "3,10").split(",").map((s) => positiveInt("--dnf-parallel", s.trim(), 3));
  return {
    only: only.length ? only : MIRROR_WORKLOADS,
    runs: positiveInt("--runs", v.runs, quick ? 1 : 3),
    bigRuns: positiveInt("--big-runs", v["big-runs"], 1),
    quick,
    waitSec: positiveInt("--wait", v.wait, quick ? 5 : 70, 0),
    dir: resolve(v.dir ?? process.env.CHANTAL_BENCH_DIR ?? "/tmp/chantal-bench"),
    dnfParallel,
    dnf: !v["no-dnf"],
    curl: !v["no-curl"],
    server,
    concurrency: v.concurrency === undefined ? undefined : positiveInt("--concurrency", v.concurrency, 8),
    fsyncCompare: v["fsync-compare"],
    build: !v["no-build"],
    fromSource: v["from-source"],
    verbose: v.verbose,
    cpuProf: v["cpu-prof"],
    memTrace: v["mem-trace"],
    regenerate: v.regenerate,
    maxBusyPct: positiveInt("--max-busy", v["max-busy"], 20, 0),
    quietMaxSec: positiveInt("--quiet-max", v["quiet-max"], quick ? 20 : 120, 0),
    keep: v.keep,
    json: v.json,
  };
}

// ---------------------------------------------------------------------------------------------------- small helpers

function say(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function syncDisks(): void {
  spawnSync("sync", { stdio: "ignore" });
}

function hasCommand(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: "ignore", timeout: 60_000 });
  return r.status === 0;
}

function findExecutable(name: string): string | null {
  for (const d of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/bin"])) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return null;
}

async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((done) => {
      const sock = connect(port, "127.0.0.1");
      sock.once("connect", () => {
        sock.destroy();
        done(true);
      });
      sock.once("error", () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

function lastLines(text: string, n = 3): string {
  return text.trim().split("\n").slice(-n).join(" / ");
}

async function countFiles(dir: string, suffix: string): Promise<number> {
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith(suffix)) n++;
    }
  };
  await walk(dir);
  return n;
}

// ---------------------------------------------------------------------------------------------------- cleanup registry

const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => say(`cleanup failed: ${(err as Error).message}`));
  })();
  return cleaning;
}
// process.on, not once: signal-exit (via proper-lockfile) re-raises the signal when it sees no other listener left.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    const code = sig === "SIGINT" ? 130 : 143;
    if (cleaning) return say(`${sig} again: still stopping servers`);
    say(`${sig}: stopping servers and exiting`);
    void runCleanups().finally(() => process.exit(code));
  });
}

// ---------------------------------------------------------------------------------------------------- repositories

interface RepoInfo {
  workload: WorkloadDef;
  name: string;
  dir: string;
  /** Packages: `names` × `versions`. */
  count: number;
  names: number;
  versions: number;
  bytes: number;
  totalBytes: number;
}

async function ensureRepo(opts: Options, w: WorkloadDef): Promise<RepoInfo> {
  const size = opts.quick ? w.quick : w.full;
  const versions = w.filter?.versions ?? 1;
  // Filter workloads get full filelists and other (a filtered sync rewrites all three); the name says so, for the cache.
  const name = `${w.id}-${size.count}x${size.bytes}${w.filter ? `-v${versions}-full` : ""}`;
  const dir = join(opts.dir, "repos", name);
  const marker = join(dir, ".bench-complete");
  const count = size.count * versions;
  const info: RepoInfo = { workload: w, name, dir, count, names: size.count, versions, bytes: size.bytes, totalBytes: count * size.bytes };
  if (!opts.regenerate && existsSync(marker)) return info;
  const tmp = `${dir}.generating`;
  await rm(tmp, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
  say(`generating ${name} (${count} packages × ${size.bytes} bytes) ...`);
  const t0 = Date.now();
  await generateRpmRepo(tmp, size.count, size.bytes, {
    seedName: `b${w.id.replace(/[^a-z]/g, "")}`,
    ...(w.filter ? { versionsPerName: versions, fullMetadata: true } : {}),
  });
  await writeFile(join(tmp, ".bench-complete"), `${JSON.stringify({ count, versions, bytes: size.bytes, generatedAt: new Date().toISOString() })}\n`);
  await rename(tmp, dir);
  say(`generated ${name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return info;
}

// ---------------------------------------------------------------------------------------------------- HTTP server

interface Served {
  kind: "nginx" | "node";
  baseUrl: string;
  stop(): Promise<void>;
}

function nginxConfig(dir: string, root: string, port: number): string {
  const asRoot = process.getuid?.() === 0;
  return `# generated by bench/run.ts
${asRoot ? "user root;\n" : ""}worker_processes auto;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  types { application/x-rpm rpm; application/xml xml; application/gzip gz; }
  default_type application/octet-stream;
  client_body_temp_path ${join(dir, "tmp", "body")};
  proxy_temp_path ${join(dir, "tmp", "proxy")};
  fastcgi_temp_path ${join(dir, "tmp", "fastcgi")};
  uwsgi_temp_path ${join(dir, "tmp", "uwsgi")};
  scgi_temp_path ${join(dir, "tmp", "scgi")};
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`;
}

async function startNginx(opts: Options, nginx: string): Promise<Served> {
  const dir = join(opts.dir, "nginx");
  await mkdir(join(dir, "tmp"), { recursive: true });
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  await writeFile(conf, nginxConfig(dir, join(opts.dir, "repos"), port));
  const errLog = join(dir, "error.log");
  const check = spawnSync(nginx, ["-t", "-q", "-p", dir, "-c", conf, "-e", errLog], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`nginx -t failed: ${check.stderr || check.stdout}`);
  const child = spawn(nginx, ["-p", dir, "-c", conf, "-e", errLog], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port, 10_000, child);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`nginx did not start: ${(err as Error).message} ${stderr}`);
  }
  const pid = child.pid!;
  say(`nginx ${pid} serving ${join(opts.dir, "repos")} on http://127.0.0.1:${port}/ (config ${conf})`);
  return {
    kind: "nginx",
    baseUrl: `http://127.0.0.1:${port}/`,
    stop: () => stopChild(child, "SIGQUIT", `nginx ${pid}`),
  };
}

async function startNodeServer(opts: Options): Promise<Served> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench", "serve.ts"), join(opts.dir, "repos"), "0"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((ok, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("bench/serve.ts did not start within 30 s")), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`bench/serve.ts exited with code ${code}`));
    });
  });
  say(`node static server ${child.pid} serving ${join(opts.dir, "repos")} on ${url}`);
  return { kind: "node", baseUrl: url, stop: () => stopChild(child, "SIGTERM", `node server ${child.pid}`) };
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals, name: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  child.kill(signal);
  const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
  if (timedOut) {
    child.kill("SIGKILL");
    await exited;
  }
  say(`stopped ${name}`);
}

async function startServer(opts: Options): Promise<Served> {
  const nginx = findExecutable("nginx");
  if (opts.server === "nginx" && !nginx) fail("--server nginx: nginx is not installed (apt-get install -y nginx)", 1);
  const served = opts.server !== "node" && nginx ? await startNginx(opts, nginx) : await startNodeServer(opts);
  cleanups.push(() => served.stop());
  return served;
}

// ---------------------------------------------------------------------------------------------------- database

interface BenchDatabase {
  kind: "embedded" | "TEST_DATABASE_URL" | "CHANTAL_DATABASE_URL";
  /** A fresh, migrated database per call. */
  fresh(name: string): Promise<string>;
  dropAll(): Promise<void>;
  close(): Promise<void>;
}

const DB_PREFIX = "chantal_bench_";
const TEMPLATE_DB = `${DB_PREFIX}template`;

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function openBenchDatabase(opts: Options, runChantal: (configDir: string, args: string[]) => Promise<void>): Promise<BenchDatabase> {
  let url: string;
  let kind: BenchDatabase["kind"];
  let release = async () => {};
  const external = process.env.TEST_DATABASE_URL ? "TEST_DATABASE_URL" : process.env.CHANTAL_DATABASE_URL ? "CHANTAL_DATABASE_URL" : null;
  if (external) {
    kind = external;
    url = process.env[external]!;
    say(`database: the server of ${external}; one fresh database per run (${DB_PREFIX}*)`);
  } else {
    kind = "embedded";
    const { acquireEmbeddedPostgres } = await import("../core/db/embedded.js");
    const { silentLogger } = await import("../core/log.js");
    const base = join(opts.dir, "pg");
    await mkdir(base, { recursive: true });
    say(`database: embedded PostgreSQL under ${base}, kept up for the whole benchmark; one fresh database per run`);
    const lease = await acquireEmbeddedPostgres({ basePath: base, log: silentLogger() });
    url = lease.adminUrl; // creates one database per run: the superuser, not the app role
    release = () => lease.release();
  }
  const admin = new pg.Client({ connectionString: url, application_name: "chantal-bench" });
  admin.on("error", () => undefined);
  await admin.connect();
  const closeAll = async () => {
    await admin.end().catch(() => undefined);
    await release();
  };
  cleanups.push(closeAll);

  const drop = async (name: string) => {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(async () => admin.query(`DROP DATABASE IF EXISTS "${name}"`));
  };
  const dropAll = async () => {
    const r = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2`, [`${DB_PREFIX}%`, TEMPLATE_DB]);
    for (const row of r.rows) await drop(row.datname);
  };

  // One migrated template per invocation (with the Chantal under test); each run clones it, so a run's time is its sync, not CREATE TABLE.
  await drop(TEMPLATE_DB);
  try {
    await admin.query(`CREATE DATABASE "${TEMPLATE_DB}"`);
  } catch (err) {
    throw new Error(`cannot create databases on ${kind} (${(err as Error).message}): the benchmark needs CREATEDB to give each run a fresh database`);
  }
  const tplDir = join(opts.dir, "template");
  await rm(tplDir, { recursive: true, force: true });
  await mkdir(join(tplDir, "config"), { recursive: true });
  await writeFile(
    join(tplDir, "config", "config.yaml"),
    `storage:\n  base_path: ${join(tplDir, "base")}\ndatabase:\n  url: ${JSON.stringify(withDatabase(url, TEMPLATE_DB))}\n`,
    { mode: 0o600 },
  );
  await runChantal(join(tplDir, "config"), ["db", "migrate"]);

  return {
    kind,
    async fresh(name) {
      const db = `${DB_PREFIX}${name.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}`;
      await drop(db);
      for (let attempt = 1; ; attempt++) {
        try {
          await admin.query(`CREATE DATABASE "${db}" TEMPLATE "${TEMPLATE_DB}"`);
          break;
        } catch (err) {
          // "source database is being accessed by other users": a backend of the migrate process still exiting.
          if (attempt >= 50 || !/being accessed/.test((err as Error).message)) throw err;
          await sleep(100);
        }
      }
      return withDatabase(url, db);
    },
    dropAll,
    async close() {
      if (!opts.keep) {
        await dropAll().catch(() => undefined);
        await drop(TEMPLATE_DB).catch(() => undefined);
      }
      await closeAll();
    },
  };
}

// ---------------------------------------------------------------------------------------------------- timed processes

interface Timed {
  code: number | null;
  wallSec: number;
  /** Peak RSS of the process (its VmHWM), from /usr/bin/time or /proc polling. */
  rssMb: number | null;
  /** User + system CPU seconds of the process and its waited-for children (/usr/bin/time only). */
  cpuSec: number | null;
  /** Fraction of all CPUs busy (anyone: the process, the server, the database, other users) while it ran. */
  machineBusy: number | null;
  /** Fraction of all CPUs busy in the second before it started (after waiting for a quiet machine). */
  busyBefore: number;
  stdout: string;
  startedAt: number;
  /** VmRSS of the measured process sampled every RSS_SAMPLE_MS: when its highest sample was (s after start), and that sample. */
  rssPeakAtSec: number | null;
  rssPeakSampleMb: number | null;
}

const RSS_SAMPLE_MS = 100;

/** The measured process: the spawned one, or the one /usr/bin/time runs (its only child). */
function measuredPid(pid: number, wrapped: boolean): number | undefined {
  if (!wrapped) return pid;
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
    return children[0] ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

function cpuTimes(): { idle: number; total: number } | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

function busyBetween(a: ReturnType<typeof cpuTimes>, b: ReturnType<typeof cpuTimes>): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return 1 - (b.idle - a.idle) / (b.total - a.total);
}

let quietMaxSec = 120;
let maxBusy = 0.2;

/** This machine is shared: wait (bounded) until the CPUs are mostly idle, so a timing is not someone else's test suite. */
async function waitForQuiet(): Promise<number> {
  const deadline = Date.now() + quietMaxSec * 1000;
  let warned = false;
  for (;;) {
    const a = cpuTimes();
    await sleep(1_000);
    const busy = busyBetween(a, cpuTimes()) ?? 0;
    if (busy <= maxBusy) return busy;
    if (Date.now() > deadline) {
      say(`machine still ${(busy * 100).toFixed(0)}% busy after ${quietMaxSec} s: timing anyway (recorded)`);
      return busy;
    }
    if (!warned) say(`machine ${(busy * 100).toFixed(0)}% busy (other processes): waiting up to ${quietMaxSec} s for < ${(maxBusy * 100).toFixed(0)}%`);
    warned = true;
  }
}

const GNU_TIME = existsSync("/usr/bin/time") && hasCommand("/usr/bin/time", ["-f", "%M", "true"]) ? "/usr/bin/time" : null;

async function timed(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; stderrFile: string; cwd?: string }): Promise<Timed> {
  await mkdir(dirname(o.stderrFile), { recursive: true });
  const rssFile = `${o.stderrFile}.rss`;
  const [file, argv] = GNU_TIME ? [GNU_TIME, ["-f", "%M %U %S", "-o", rssFile, cmd, ...args]] : [cmd, args];
  const errStream = createWriteStream(o.stderrFile);
  await new Promise((ok) => errStream.once("open", ok));
  syncDisks();
  const busyBefore = await waitForQuiet();
  const cpu0 = cpuTimes();
  const startedAt = Date.now();
  const elapsed = stopwatch();
  const child = spawn(file, argv, { env: o.env ?? process.env, cwd: o.cwd ?? ROOT, stdio: ["ignore", "pipe", errStream] });
  let stdout = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  let polledKb = 0;
  // The RSS timeline (every sample in <stderrFile>.rss-timeline, "seconds KB" per line) says which phase peaks.
  const timeline: string[] = [];
  let peak = { kb: 0, atSec: null as number | null };
  let pid: number | undefined;
  const poll = setInterval(
    () => {
      pid ??= measuredPid(child.pid!, GNU_TIME !== null);
      if (pid === undefined) return;
      try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const hwm = /VmHWM:\s+(\d+)/.exec(status);
        if (hwm) polledKb = Math.max(polledKb, Number(hwm[1]));
        const rss = /VmRSS:\s+(\d+)/.exec(status);
        if (rss) {
          const atSec = round((Date.now() - startedAt) / 1000, 2)!;
          timeline.push(`${atSec} ${rss[1]}`);
          if (Number(rss[1]) > peak.kb) peak = { kb: Number(rss[1]), atSec };
        }
      } catch {
        /* exited */
      }
    },
    GNU_TIME ? RSS_SAMPLE_MS : 20,
  );
  const code = await new Promise<number | null>((ok) => child.once("close", (c) => ok(c)));
  const wallSec = elapsed();
  const machineBusy = busyBetween(cpu0, cpuTimes());
  clearInterval(poll);
  await writeFile(`${o.stderrFile}.rss-timeline`, timeline.length ? `${timeline.join("\n")}\n` : "");
  errStream.end();
  let rssKb = polledKb || null;
  let cpuSec: number | null = null;
  if (GNU_TIME) {
    const text = await readFile(rssFile, "utf8").catch(() => "");
    const m = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(text.trim().split("\n").pop() ?? "");
    rssKb = m ? Number(m[1]) : null;
    cpuSec = m ? Number(m[2]) + Number(m[3]) : null;
  }
  return {
    code,
    wallSec,
    rssMb: rssKb === null ? null : rssKb / 1024,
    cpuSec,
    machineBusy,
    busyBefore,
    stdout,
    startedAt,
    rssPeakAtSec: peak.atSec,
    rssPeakSampleMb: peak.atSec === null ? null : round(peak.kb / 1024, 1),
  };
}

// ---------------------------------------------------------------------------------------------------- Chantal

/** `repo sync --json`: snake_case keys at every depth (core/json-output.ts). */
interface SyncJson {
  status: string;
  counts?: { packages_total: number; packages_downloaded: number; bytes_downloaded: number };
  duration_ms?: number;
  error?: string;
}

interface Phase {
  msg: string;
  atSec: number;
}

function chantalEnv(opts: Options): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CHANTAL_DATABASE_URL;
  delete env.DATABASE_URL;
  delete env.CHANTAL_CONFIG_DIR;
  delete env.NODE_OPTIONS;
  if (opts.fromSource) env.CHANTAL_FROM_SOURCE = "1";
  else delete env.CHANTAL_FROM_SOURCE;
  return env;
}

/** When each distinct log message first appeared, in seconds after the process started (the last progress line too). */
async function phasesOf(logFile: string, startedAt: number): Promise<Phase[]> {
  const out: Phase[] = [];
  let lastProgress: Phase | undefined;
  const seen = new Set<string>();
  for (const line of (await readFile(logFile, "utf8").catch(() => "")).split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const j = JSON.parse(line) as { time?: string; msg?: string };
      if (!j.time || !j.msg) continue;
      const p = { msg: j.msg, atSec: round((Date.parse(j.time) - startedAt) / 1000, 3)! };
      if (j.msg === "download progress") lastProgress = p;
      if (!seen.has(j.msg)) {
        seen.add(j.msg);
        out.push(p);
      }
    } catch {
      /* not a log line */
    }
  }
  if (lastProgress && out.at(-1) !== lastProgress) out.push({ msg: "download progress (last)", atSec: lastProgress.atSec });
  return out.sort((a, b) => a.atSec - b.atSec).slice(0, 40);
}

/**
 * With --mem-trace: each thread's largest V8 heap (heapTotal, what it holds of the RSS; heapUsed in parentheses) over
 * the run, from the <log>.mem.<thread> files of bench/mem-trace.mjs.
 */
async function memTraceSummary(logFile: string): Promise<string | undefined> {
  const dir = dirname(logFile);
  const prefix = `${logFile.slice(dir.length + 1)}.mem.`;
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith(prefix)).sort();
  if (files.length === 0) return undefined;
  const parts: string[] = [];
  for (const f of files) {
    let total = 0;
    let used = 0;
    for (const line of (await readFile(join(dir, f), "utf8")).split("\n")) {
      const [, , heapTotal, heapUsed] = line.split(" ").map(Number);
      if (heapTotal !== undefined && Number.isFinite(heapTotal)) total = Math.max(total, heapTotal);
      if (heapUsed !== undefined && Number.isFinite(heapUsed)) used = Math.max(used, heapUsed);
    }
    parts.push(`${f.slice(prefix.length)} ${total.toFixed(0)} (${used.toFixed(0)})`);
  }
  return `largest V8 heap per thread, MB: ${parts.join(", ")}`;
}

/** The last log message before `atSec`: the phase a peak falls in (the log timeline is coarse without --verbose). */
function peakPhase(phases: Phase[], atSec: number): string {
  const before = phases.filter((p) => p.atSec <= atSec).at(-1);
  return before ? `after "${before.msg}" (${before.atSec} s)` : "before the first log line";
}

interface ToolRun {
  tool: string;
  run: number;
  ok: boolean;
  error?: string;
  firstSec: number | null;
  firstRssMb: number | null;
  noopSec: number | null;
  noopRssMb: number | null;
  firstCpuSec?: number | null;
  noopCpuSec?: number | null;
  /** Fraction of the machine's CPUs busy during the first sync / in the second before it (see Timed). */
  firstMachineBusy?: number | null;
  firstBusyBefore?: number;
  firstReportedSec?: number | null;
  noopReportedSec?: number | null;
  phases?: Phase[];
  noopPhases?: Phase[];
  /** When the first sync's RSS peaked (the highest VmRSS sample, s after start) and the last log message before it. */
  firstRssPeakAtSec?: number | null;
  firstRssPeakAfter?: string;
  /** --mem-trace: the largest heap of each thread during the first sync. */
  firstMemTrace?: string;
  profile?: string;
  /** Filter workloads: packages the first sync downloaded, and what its published repodata lists. */
  firstDownloaded?: number;
  published?: PublishedCounts;
}

interface PublishedCounts {
  /** packages="N" of the published primary, filelists and other, and primary's <package> elements. */
  primaryAttribute: number | null;
  primaryElements: number;
  filelistsAttribute: number | null;
  otherAttribute: number | null;
}

/** The published tree's repodata, read as a client would: repomd.xml's locations, then each document's packages="N". */
async function publishedCounts(treeDir: string): Promise<PublishedCounts> {
  const repomd = await readFile(join(treeDir, "repodata", "repomd.xml"), "utf8");
  const document = async (type: string): Promise<string | null> => {
    const m = new RegExp(`<data type="${type}">[\\s\\S]*?<location href="([^"]+)"`).exec(repomd);
    if (!m) return null;
    const bytes = await readFile(join(treeDir, m[1]!));
    return (m[1]!.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
  };
  const attribute = (text: string | null, root: string) => {
    const m = text === null ? null : new RegExp(`<${root}\\b[^>]*\\bpackages="(\\d+)"`).exec(text);
    return m ? Number(m[1]) : null;
  };
  const primary = await document("primary");
  return {
    primaryAttribute: attribute(primary, "metadata"),
    primaryElements: primary?.match(/<package\b/g)?.length ?? 0,
    filelistsAttribute: attribute(await document("filelists"), "filelists"),
    otherAttribute: attribute(await document("other"), "otherdata"),
  };
}

async function chantalRun(
  opts: Options,
  repo: RepoInfo,
  run: number,
  served: Served,
  db: BenchDatabase,
  workDir: string,
  variant: FilterVariant = BASELINE,
): Promise<ToolRun> {
  const tool = variant.tool;
  const dir = join(workDir, `run${run}`, tool);
  const configDir = join(dir, "config");
  await mkdir(configDir, { recursive: true });
  const url = await db.fresh(`${repo.workload.id}_${tool}_${run}`);
  const repoId = `bench-${repo.workload.id}`;
  await writeFile(
    join(configDir, "config.yaml"),
    `# generated by bench/run.ts\nstorage:\n  base_path: ${join(dir, "base")}\n${variant.storageYaml ?? ""}database:\n  url: ${JSON.stringify(url)}\nrepositories:\n  - id: ${repoId}\n    type: rpm\n    upstream_url: ${served.baseUrl}${repo.name}/\n` +
      (opts.concurrency ? `    download_concurrency: ${opts.concurrency}\n` : "") +
      (variant.filter ? `    filter: ${JSON.stringify(variant.filter)}\n` : ""),
    { mode: 0o600 },
  );
  const expected = variant.kept(repo.names, repo.versions);
  // The baseline keeps its historical log and profile names (chantal-first.log); a filter variant's are prefixed with its tool.
  const logs = join(opts.dir, "logs", repo.workload.id, `run${run}`);
  const logName = (what: "first" | "noop") => join(logs, `${tool}-${what}.log`);
  const profileDir = join(opts.dir, "profiles", repo.workload.id, `run${run}`, ...(tool === "chantal" ? [] : [tool]));
  // Node runs with the flags of the chantal-run executable, as users run it.
  const args = (what: "first" | "noop") => [
    ...NODE_FLAGS,
    ...(opts.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, what)}`] : []),
    ...(opts.memTrace ? ["--import", MEM_TRACE] : []),
    CLI,
    "--config-dir",
    configDir,
    ...(opts.verbose ? ["--verbose"] : []),
    "repo",
    "sync",
    "--repo-id",
    repoId,
    "--json",
  ];
  const env = chantalEnv(opts);
  const parse = (t: Timed, what: string): SyncJson => {
    try {
      return JSON.parse(t.stdout) as SyncJson;
    } catch {
      throw new Error(`chantal ${what} exited with ${t.code} and printed no JSON result (log: ${logs})`);
    }
  };

  const result: ToolRun = { tool, run, ok: false, firstSec: null, firstRssMb: null, noopSec: null, noopRssMb: null };
  try {
    const envOf = (what: "first" | "noop") => (opts.memTrace ? { ...env, CHANTAL_MEM_TRACE: `${logName(what)}.mem` } : env);
    const first = await timed(process.execPath, args("first"), { env: envOf("first"), stderrFile: logName("first") });
    const fj = parse(first, "first sync");
    if (fj.status !== "success") throw new Error(`first sync: ${fj.status}${fj.error ? `: ${fj.error}` : ""}`);
    if (fj.counts) result.firstDownloaded = fj.counts.packages_downloaded;
    if (repo.workload.filter && !fj.counts) throw new Error("first sync printed no counts: cannot check the packages downloaded");
    if (fj.counts && fj.counts.packages_downloaded !== expected)
      throw new Error(`first sync downloaded ${fj.counts.packages_downloaded} packages, expected exactly ${expected} (${variant.what})`);
    if (repo.workload.filter) {
      const p = await publishedCounts(join(dir, "base", "published", repoId, "latest"));
      result.published = p;
      const wrong = Object.entries(p).filter(([, n]) => n !== expected);
      if (wrong.length > 0) throw new Error(`the published repodata lists ${wrong.map(([k, n]) => `${k} ${n}`).join(", ")}, expected ${expected}`);
    }
    Object.assign(result, {
      firstSec: first.wallSec,
      firstRssMb: first.rssMb,
      firstCpuSec: first.cpuSec,
      firstMachineBusy: first.machineBusy,
      firstBusyBefore: first.busyBefore,
      firstReportedSec: fj.duration_ms !== undefined ? fj.duration_ms / 1000 : null,
      phases: await phasesOf(logName("first"), first.startedAt),
      firstRssPeakAtSec: first.rssPeakAtSec,
    });
    if (first.rssPeakAtSec !== null) result.firstRssPeakAfter = peakPhase(result.phases ?? [], first.rssPeakAtSec);
    if (opts.memTrace) result.firstMemTrace = await memTraceSummary(logName("first"));
    if (opts.cpuProf) result.profile = profileDir;

    const noop = await timed(process.execPath, args("noop"), { env: envOf("noop"), stderrFile: logName("noop") });
    const nj = parse(noop, "no-op re-sync");
    if (nj.status !== "noop") throw new Error(`re-sync of an unchanged repository: ${nj.status}${nj.error ? `: ${nj.error}` : ""} (expected noop)`);
    Object.assign(result, {
      ok: true,
      noopSec: noop.wallSec,
      noopRssMb: noop.rssMb,
      noopCpuSec: noop.cpuSec,
      noopReportedSec: nj.duration_ms !== undefined ? nj.duration_ms / 1000 : null,
      noopPhases: await phasesOf(logName("noop"), noop.startedAt),
    });
  } catch (err) {
    result.error = (err as Error).message;
    say(`${tool} ${repo.workload.id} run ${run} FAILED: ${result.error}`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------- dnf reposync

const DNF_OK = (() => {
  if (!findExecutable("dnf")) return false;
  return hasCommand("dnf", ["reposync", "--help"]);
})();

async function dnfRun(opts: Options, repo: RepoInfo, run: number, parallel: number, served: Served, workDir: string): Promise<ToolRun> {
  const dir = join(workDir, `run${run}`, `dnf-p${parallel}`);
  const out = join(dir, "out");
  await mkdir(out, { recursive: true });
  const args = [
    "reposync",
    "-q",
    "-y",
    "--releasever=bench",
    `--repofrompath=bench,${served.baseUrl}${repo.name}/`,
    "--repo=bench",
    "-p",
    out,
    "--norepopath",
    `--setopt=max_parallel_downloads=${parallel}`,
    `--setopt=cachedir=${join(dir, "cache")}`,
    `--setopt=logdir=${join(dir, "log")}`,
    "--setopt=reposdir=/dev/null",
    "--setopt=bench.gpgcheck=0",
  ];
  const logs = join(opts.dir, "logs", repo.workload.id, `run${run}`);
  const env = { ...process.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" };
  const tool = `dnf-p${parallel}`;
  const result: ToolRun = { tool, run, ok: false, firstSec: null, firstRssMb: null, noopSec: null, noopRssMb: null };
  try {
    const first = await timed("dnf", args, { env, stderrFile: join(logs, `${tool}-first.log`) });
    if (first.code !== 0) throw new Error(`dnf reposync exited with ${first.code}: ${lastLines(first.stdout)} (log ${join(logs, `${tool}-first.log`)})`);
    const files = await countFiles(out, ".rpm");
    if (files !== repo.count) throw new Error(`dnf reposync left ${files} of ${repo.count} packages`);
    Object.assign(result, {
      firstSec: first.wallSec,
      firstRssMb: first.rssMb,
      firstCpuSec: first.cpuSec,
      firstMachineBusy: first.machineBusy,
      firstBusyBefore: first.busyBefore,
    });
    const noop = await timed("dnf", args, { env, stderrFile: join(logs, `${tool}-noop.log`) });
    if (noop.code !== 0) throw new Error(`dnf reposync (re-run) exited with ${noop.code}: ${lastLines(noop.stdout)} (log ${join(logs, `${tool}-noop.log`)})`);
    Object.assign(result, { ok: true, noopSec: noop.wallSec, noopRssMb: noop.rssMb, noopCpuSec: noop.cpuSec });
  } catch (err) {
    result.error = (err as Error).message;
    say(`${tool} ${repo.workload.id} run ${run} FAILED: ${result.error}`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------- curl ×8

const CURL_OK = findExecutable("curl") !== null && findExecutable("xargs") !== null;
const CURL_PROCESSES = 8;
const CURL_TOOL = "curl-x8";

/** Every package file of a generated repository, relative to it (what its primary lists). */
function packagePaths(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".rpm"))
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/**
 * The wire-and-disk baseline of issue 19 point 4: `xargs -P8 -n1 curl -K <part>`, 8 curl processes at once, each
 * given an eighth of the package URLs in a config file (url/output pairs: one keep-alive connection, one request at
 * a time, like a download slot of Chantal's) and writing each into a file under one directory of the same
 * filesystem; no hashing, no fsync, no database. It has no no-op run.
 */
async function curlRun(opts: Options, repo: RepoInfo, run: number, served: Served, workDir: string): Promise<ToolRun> {
  const dir = join(workDir, `run${run}`, CURL_TOOL);
  const out = join(dir, "out");
  await mkdir(out, { recursive: true });
  const paths = packagePaths(repo.dir);
  const parts = Array.from({ length: CURL_PROCESSES }, () => [] as string[]);
  paths.forEach((p, i) =>
    parts[i % CURL_PROCESSES]!.push(`url = ${JSON.stringify(`${served.baseUrl}${repo.name}/${p}`)}\noutput = ${JSON.stringify(join(out, `${i}.rpm`))}\n`),
  );
  const configs = parts.map((_, i) => join(dir, `part${i}.curlrc`));
  await Promise.all(parts.map((lines, i) => writeFile(configs[i]!, lines.join(""))));
  await writeFile(join(dir, "parts"), `${configs.join("\n")}\n`);
  const logs = join(opts.dir, "logs", repo.workload.id, `run${run}`);
  const result: ToolRun = { tool: CURL_TOOL, run, ok: false, firstSec: null, firstRssMb: null, noopSec: null, noopRssMb: null };
  try {
    const args = ["-a", join(dir, "parts"), `-P${CURL_PROCESSES}`, "-n1", "curl", "--silent", "--show-error", "--fail", "-K"];
    const first = await timed("xargs", args, { stderrFile: join(logs, `${CURL_TOOL}-first.log`) });
    if (first.code !== 0) throw new Error(`xargs curl exited with ${first.code} (log ${join(logs, `${CURL_TOOL}-first.log`)})`);
    const files = await countFiles(out, ".rpm");
    if (files !== paths.length || paths.length !== repo.count) throw new Error(`curl left ${files} of ${repo.count} packages`);
    Object.assign(result, {
      ok: true,
      firstSec: first.wallSec,
      firstRssMb: first.rssMb,
      firstCpuSec: first.cpuSec,
      firstMachineBusy: first.machineBusy,
      firstBusyBefore: first.busyBefore,
    });
  } catch (err) {
    result.error = (err as Error).message;
    say(`${CURL_TOOL} ${repo.workload.id} run ${run} FAILED: ${result.error}`);
  }
  await rm(out, { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------------------------------------------- CPU profiles

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

type ProfileLine = { fn: string; selfMs: number; pct: number };

async function summarizeProfiles(dir: string, top = 15): Promise<ProfileLine[]> {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")) : [];
  const self = new Map<string, number>();
  let total = 0;
  for (const f of files) {
    const p = JSON.parse(await readFile(join(dir, f), "utf8")) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const n = byId.get(id);
      if (!n) return;
      const cf = n.callFrame;
      const where = cf.url ? `${cf.url.replace(/^file:\/\//, "").replace(`${ROOT}/`, "")}:${cf.lineNumber + 1}` : "";
      const key = `${cf.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
      const dt = (p.timeDeltas[i] ?? 0) / 1000;
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    });
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, ms]) => ({ fn, selfMs: round(ms, 1)!, pct: round((100 * ms) / Math.max(total, 1), 1)! }));
}

// ---------------------------------------------------------------------------------------------------- results

interface ToolSummary {
  tool: string;
  runs: number;
  okRuns: number;
  firstSec: number | null;
  firstMBps: number | null;
  firstRssMb: number | null;
  firstCpuSec: number | null;
  /** Median fraction of the machine busy during the first syncs (1 = all CPUs). */
  firstMachineBusy: number | null;
  /** Median CPU seconds used by everything but the tool during its first sync (nginx, PostgreSQL, other users). */
  firstOtherCpuSec: number | null;
  /** Median share of the CPUs busy in the second before the first syncs started (other users' load). */
  firstBusyBefore: number | null;
  noopSec: number | null;
  noopRssMb: number | null;
}

interface TargetCheck {
  what: string;
  target: string;
  measured: string;
  ok: boolean | null;
  /** Shown for information: never counts as missed. */
  reportOnly?: boolean;
}

interface WorkloadResult {
  id: WorkloadId;
  title: string;
  packages: number;
  payloadBytes: number;
  totalMB: number;
  summaries: ToolSummary[];
  /**
   * dnf median first-sync time divided by Chantal's: > 1 means Chantal is faster. Filter workloads: a filter
   * variant's median divided by the unfiltered baseline's (issue 15: ≤ 1.30).
   */
  speedup: Record<string, number | null>;
  noopSpeedup: Record<string, number | null>;
  targets: TargetCheck[];
  samples: ToolRun[];
  profileTop?: { first: ProfileLine[]; noop: ProfileLine[] };
  /** Filter workloads: every sync's time and peak RSS against the unfiltered one and 300 MB (the summary table). */
  filterRows?: FilterRow[];
  /** `--fsync-compare`: first sync with the flushes and without (storage.fsync: false), medians, and on ÷ off. */
  fsyncCost?: { firstSec: number | null; noFsyncFirstSec: number | null; ratio: number | null };
  /** Chantal's median first sync ÷ curl ×8's median of the same invocation. */
  curlRatio?: number | null;
}

/** Issue 19 point 5: the flushes cost at most 15 % of the first sync. */
const FSYNC_RATIO_MAX = 1.15;

/** A "÷ at most" target of two medians of the same run. */
function ratioTarget(what: string, max: number, a: number | null, b: number | null): TargetCheck {
  const r = a !== null && b !== null && b > 0 ? round(a / b, 2) : null;
  return {
    what,
    target: `≤ ${max.toFixed(2)}`,
    measured: r === null ? "–" : `${r.toFixed(2)} (${a} s ÷ ${b} s)`,
    ok: r === null ? null : r <= max,
  };
}

function summarize(tool: string, samples: ToolRun[], totalBytes: number): ToolSummary {
  const ok = samples.filter((s) => s.tool === tool && s.ok);
  const first = median(ok.map((s) => s.firstSec!));
  return {
    tool,
    runs: samples.filter((s) => s.tool === tool).length,
    okRuns: ok.length,
    firstSec: round(first, 3),
    firstMBps: first ? round(totalBytes / MB / first, 1) : null,
    firstRssMb: round(median(ok.map((s) => s.firstRssMb ?? NaN)), 1),
    firstCpuSec: round(median(ok.map((s) => s.firstCpuSec ?? NaN)), 2),
    firstMachineBusy: round(median(ok.map((s) => s.firstMachineBusy ?? NaN)), 2),
    firstOtherCpuSec: round(median(ok.map((s) => (s.firstMachineBusy ?? NaN) * cpus().length * s.firstSec! - (s.firstCpuSec ?? NaN))), 2),
    firstBusyBefore: round(median(ok.map((s) => s.firstBusyBefore ?? NaN)), 2),
    noopSec: round(median(ok.map((s) => s.noopSec!)), 3),
    noopRssMb: round(median(ok.map((s) => s.noopRssMb ?? NaN)), 1),
  };
}

function checkTargets(w: WorkloadDef, quick: boolean, chantal: ToolSummary, dnfs: ToolSummary[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const fmt = (x: number | null, unit: string) => (x === null ? "–" : `${x} ${unit}`);
  for (const d of dnfs) {
    if (d.firstSec === null || chantal.firstSec === null) continue;
    out.push({
      what: `first sync vs ${d.tool}`,
      target: "at least as fast",
      measured: `${chantal.firstSec} s vs ${d.firstSec} s`,
      ok: chantal.firstSec <= d.firstSec,
    });
  }
  if (quick) return out; // PERFORMANCE.md's absolute targets are for the full sizes
  if (w.targets.firstSec !== undefined)
    out.push({
      what: "first sync",
      target: `≤ ${w.targets.firstSec} s`,
      measured: fmt(chantal.firstSec, "s"),
      ok: chantal.firstSec === null ? null : chantal.firstSec <= w.targets.firstSec,
    });
  if (w.targets.noopSec !== undefined) {
    out.push({
      what: "no-op re-sync (PERFORMANCE.md)",
      target: `≤ ${w.targets.noopSec} s`,
      measured: fmt(chantal.noopSec, "s"),
      ok: chantal.noopSec === null ? null : chantal.noopSec <= w.targets.noopSec,
    });
    out.push({
      what: "no-op re-sync (issue 3)",
      target: "< 2 s",
      measured: fmt(chantal.noopSec, "s"),
      ok: chantal.noopSec === null ? null : chantal.noopSec < 2,
    });
  }
  if (w.targets.rssMb !== undefined)
    out.push({
      what: "peak RSS, first sync",
      target: `≤ ${w.targets.rssMb} MB`,
      measured: fmt(chantal.firstRssMb, "MB"),
      ok: chantal.firstRssMb === null ? null : chantal.firstRssMb <= w.targets.rssMb,
    });
  return out;
}

/** Issue 15: each filter variant against the unfiltered sync of the same run; downloads and published counts exact. */
function checkFilterTargets(w: WorkloadDef, quick: boolean, repo: RepoInfo, summaries: ToolSummary[], samples: ToolRun[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const baseline = summaries.find((s) => s.tool === BASELINE.tool);
  for (const v of w.filter!.variants) {
    if (v === BASELINE) continue;
    const s = summaries.find((x) => x.tool === v.tool);
    const expected = v.kept(repo.names, repo.versions);
    const mine = samples.filter((x) => x.tool === v.tool);
    const downloaded = [...new Set(mine.map((x) => x.firstDownloaded ?? null))];
    out.push({
      what: `${v.tool}: packages downloaded (${v.what})`,
      target: `exactly ${expected.toLocaleString("en-US")}`,
      measured: downloaded.map((d) => (d === null ? "–" : d.toLocaleString("en-US"))).join(", "),
      ok: mine.length > 0 && mine.every((x) => x.firstDownloaded === expected),
    });
    const listed = mine.map((x) => x.published);
    out.push({
      what: `${v.tool}: published primary/filelists/other list`,
      target: `${expected.toLocaleString("en-US")} each`,
      measured: listed.map((p) => (p ? `${p.primaryAttribute}/${p.filelistsAttribute}/${p.otherAttribute} (${p.primaryElements} <package>)` : "–")).join(", "),
      ok: listed.length > 0 && listed.every((p) => p !== undefined && Object.values(p).every((n) => n === expected)),
    });
    if (v.ratioMax !== undefined) {
      const ratio = s?.firstSec != null && baseline?.firstSec ? round(s.firstSec / baseline.firstSec, 3) : null;
      out.push({
        what: `${v.tool}: first sync ÷ unfiltered`,
        target: `≤ ${v.ratioMax.toFixed(2)}`,
        measured: ratio === null ? "–" : `${ratio.toFixed(2)} (${s!.firstSec} s ÷ ${baseline!.firstSec} s)`,
        ok: ratio === null ? null : ratio <= v.ratioMax,
        ...(v.reportOnly ? { reportOnly: true } : {}),
      });
    }
    if (v.rssMb !== undefined && !quick) {
      out.push({
        what: `${v.tool}: peak RSS, first sync`,
        target: `< ${v.rssMb} MB`,
        measured: s?.firstRssMb == null ? "–" : `${s.firstRssMb} MB (unfiltered ${baseline?.firstRssMb ?? "–"} MB)`,
        ok: s?.firstRssMb == null ? null : s.firstRssMb < v.rssMb,
      });
    }
  }
  return out;
}

/** The memory target of every first sync here (issue 3's big-primary, issue 15's filtered 100,000-package sync). */
const RSS_TARGET_MB = 300;

/** One line per sync of a filter workload: its time and peak against the unfiltered sync of the same run and against 300 MB. */
interface FilterRow {
  workload: WorkloadId;
  tool: string;
  what: string;
  firstSec: number | null;
  /** First sync ÷ the unfiltered first sync (issue 15: ≤ 1.30). */
  timeRatio: number | null;
  timeTarget: number | null;
  rssMb: number | null;
  /** Peak RSS ÷ the unfiltered sync's, and ÷ 300 MB (< 1.00 is within target). */
  rssRatio: number | null;
  rssOfTarget: number | null;
  /** The median run's RSS peak: when, and after which log message. */
  rssPeak: string;
  downloaded: number | null;
  expected: number;
}

function filterRows(r: WorkloadResult, w: WorkloadDef, repo: { names: number; versions: number }): FilterRow[] {
  const base = r.summaries.find((s) => s.tool === BASELINE.tool);
  return (w.filter?.variants ?? []).map((v) => {
    const s = r.summaries.find((x) => x.tool === v.tool);
    const ok = r.samples.filter((x) => x.tool === v.tool && x.ok);
    const med = ok.sort((a, b) => Math.abs(a.firstSec! - (s?.firstSec ?? 0)) - Math.abs(b.firstSec! - (s?.firstSec ?? 0)))[0];
    const ratio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null && b > 0 ? round(a / b, 2) : null);
    return {
      workload: r.id,
      tool: v.tool,
      what: v.what,
      firstSec: s?.firstSec ?? null,
      timeRatio: ratio(s?.firstSec, base?.firstSec),
      timeTarget: v.ratioMax ?? null,
      rssMb: s?.firstRssMb ?? null,
      rssRatio: ratio(s?.firstRssMb, base?.firstRssMb),
      rssOfTarget: ratio(s?.firstRssMb, RSS_TARGET_MB),
      rssPeak: med?.firstRssPeakAtSec != null ? `${med.firstRssPeakAtSec} s, ${med.firstRssPeakAfter ?? "?"}` : "–",
      downloaded: med?.firstDownloaded ?? null,
      expected: v.kept(repo.names, repo.versions),
    };
  });
}

function renderFilterRows(rows: FilterRow[]): string {
  return table(
    [
      "workload",
      "sync",
      "first s",
      "time ÷ unfiltered",
      "peak RSS MB",
      "RSS ÷ unfiltered",
      `RSS ÷ ${RSS_TARGET_MB} MB`,
      "downloaded",
      "RSS peak at (median run)",
    ],
    rows.map((f) => [
      f.tool === BASELINE.tool ? f.workload : "",
      f.what,
      num(f.firstSec),
      f.timeRatio === null ? "–" : `${f.timeRatio.toFixed(2)}${f.timeTarget !== null && f.tool !== BASELINE.tool ? ` (≤ ${f.timeTarget.toFixed(2)})` : ""}`,
      num(f.rssMb, 0),
      num(f.rssRatio),
      f.rssOfTarget === null ? "–" : `${f.rssOfTarget.toFixed(2)}${f.rssOfTarget < 1 ? "" : " OVER"}`,
      f.downloaded === null
        ? "–"
        : `${f.downloaded.toLocaleString("en-US")}${f.downloaded === f.expected ? "" : ` (expected ${f.expected.toLocaleString("en-US")})`}`,
      f.rssPeak,
    ]),
    99,
  );
}

const num = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? "–" : x.toFixed(digits));

function render(results: WorkloadResult[], meta: Record<string, unknown>): string {
  const rows: string[][] = [];
  for (const r of results) {
    for (const s of r.summaries) {
      rows.push([
        s === r.summaries[0] ? `${r.id} (${r.title})` : "",
        s.tool,
        `${s.okRuns}/${s.runs}`,
        num(s.firstSec),
        num(s.firstMBps, 1),
        num(s.firstRssMb, 0),
        num(s.firstCpuSec),
        num(s.firstOtherCpuSec),
        s.firstBusyBefore === null ? "–" : `${Math.round(s.firstBusyBefore * 100)}%`,
        num(s.noopSec),
        num(s.noopRssMb, 0),
        s.tool === "chantal" ? "1.00×" : r.speedup[s.tool] ? `${r.speedup[s.tool]!.toFixed(2)}×` : "–",
        s.tool === "chantal" ? "1.00×" : r.noopSpeedup[s.tool] ? `${r.noopSpeedup[s.tool]!.toFixed(2)}×` : "–",
      ]);
    }
  }
  const main = table(
    [
      "workload",
      "tool",
      "ok",
      "first s",
      "MB/s",
      "RSS MB",
      "CPU s",
      "other CPU s",
      "busy before",
      "no-op s",
      "no-op RSS",
      "first: tool/chantal",
      "no-op: tool/chantal",
    ],
    rows,
    2,
  );
  const verdict = (t: TargetCheck) => (t.ok === null ? "?" : t.ok ? "ok" : t.reportOnly ? "over (reported only)" : "MISSED");
  const targets = results.flatMap((r) => r.targets.map((t) => [r.id, t.what, t.target, t.measured, verdict(t)]));
  const parts = [
    `Chantal benchmark — ${meta.mode} mode, median of ${meta.runs} run(s); server ${meta.server}, database ${meta.database}; ${meta.machine}`,
    "",
    main,
    "",
    "\"first: tool/chantal\" is the tool's median first-sync time divided by Chantal's (> 1: Chantal is faster). Medians of the first",
    "sync: CPU s = user+sys of the tool's process; other CPU s = everything else meanwhile (nginx, PostgreSQL, other users);",
    "busy before = share of the CPUs busy in the second before it started (other users' load; high values make a sample suspect).",
    ...(results.some((r) => r.id === "filter-big" || r.id === "retain")
      ? ['Filter workloads: chantal = the unfiltered sync of the same repository; the others are filters, "tool/chantal" their time ÷ the unfiltered one.']
      : []),
  ];
  if (targets.length) parts.push("", table(["workload", "target", "wanted", "measured", "result"], targets, 99));
  const filters = results.flatMap((r) => r.filterRows ?? []);
  if (filters.length)
    parts.push(
      "",
      `Curated mirrors (issue 15): each sync against the unfiltered sync of the same repository in this run, and its peak RSS against ${RSS_TARGET_MB} MB`,
      renderFilterRows(filters),
    );
  for (const r of results) {
    // The timeline of the run closest to the median, not of an outlier.
    const med = r.summaries[0]?.firstSec ?? 0;
    const c = r.samples
      .filter((s) => s.tool === "chantal" && s.ok && s.phases?.length)
      .sort((a, b) => Math.abs(a.firstSec! - med) - Math.abs(b.firstSec! - med))[0];
    if (c?.phases)
      parts.push(
        "",
        `chantal ${r.id}, run ${c.run}: log timeline (s after process start): ${c.phases.map((p) => `${p.atSec} ${p.msg}`).join(" | ")}; exit ${num(c.firstSec)}`,
      );
    for (const what of ["first", "noop"] as const) {
      const top = r.profileTop?.[what];
      if (top?.length)
        parts.push(
          `chantal ${r.id} ${what === "first" ? "first sync" : "no-op"} CPU profile, top self time: ${top
            .slice(0, 10)
            .map((p) => `${p.pct}% ${p.fn}`)
            .join("; ")}`,
        );
    }
  }
  return `${parts.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------------- main

async function prepareFreshState(opts: Options, db: BenchDatabase | undefined): Promise<void> {
  // PERFORMANCE.md: delete old data first, sync, wait (ext4 avoids recently freed inodes), then time.
  await rm(join(opts.dir, "work"), { recursive: true, force: true });
  await db?.dropAll();
  syncDisks();
  if (opts.waitSec > 0) {
    say(`deleted old data; sync; waiting ${opts.waitSec} s before timing (PERFORMANCE.md hygiene)`);
    await sleep(opts.waitSec * 1000);
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  maxBusy = opts.maxBusyPct / 100;
  await rm(join(opts.dir, "profiles"), { recursive: true, force: true });
  quietMaxSec = opts.quietMaxSec;
  await mkdir(opts.dir, { recursive: true });
  const startedAt = new Date();

  if (!opts.fromSource && opts.build) {
    say("npm run build ...");
    const b = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, encoding: "utf8" });
    if (b.status !== 0) {
      if (!existsSync(join(ROOT, "dist", "bin", "main.js"))) fail(`npm run build failed and there is no dist/:\n${b.stdout}${b.stderr}`, 1);
      say(
        `warning: npm run build exited with ${b.status} (type errors?); timing the JavaScript it emitted:\n${(b.stdout + b.stderr).trim().split("\n").slice(0, 10).join("\n")}`,
      );
    }
  }
  if (!opts.fromSource && !existsSync(join(ROOT, "dist", "bin", "main.js"))) fail("dist/ is missing: drop --no-build, or use --from-source", 1);

  const useDnf = opts.dnf && DNF_OK;
  if (opts.dnf && !DNF_OK) say("dnf reposync is not available (apt-get install -y dnf dnf-plugins-core): Chantal only");
  const useCurl = opts.curl && CURL_OK;
  if (opts.curl && !CURL_OK) say("curl or xargs is not installed: no curl ×8 baseline");

  // Generate (or reuse) every repository before any timing, and before the old-data delete + wait.
  const repos: RepoInfo[] = [];
  for (const id of opts.only) repos.push(await ensureRepo(opts, WORKLOADS.find((w) => w.id === id)!));

  const served = await startServer(opts);
  const env = chantalEnv(opts);
  const runChantal = async (configDir: string, args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, "--config-dir", configDir, ...args], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`chantal-run ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  };
  let db: BenchDatabase | undefined;
  const results: WorkloadResult[] = [];
  const machine = `${cpus().length} vCPU, ${Math.round(totalmem() / 1024 ** 3)} GB RAM, Linux ${release()}, Node ${process.version}`;
  try {
    db = await openBenchDatabase(opts, runChantal);
    cleanups.push(() => db!.close());
    for (const repo of repos) {
      const w = repo.workload;
      const runs = w.id === "big-primary" || w.filter ? opts.bigRuns : opts.runs;
      // A filter workload compares Chantal with itself (the unfiltered sync); dnf has no filter to compare.
      const dnfs = !useDnf || w.filter ? [] : w.id === "big-primary" ? opts.dnfParallel.slice(0, 1) : opts.dnfParallel;
      const variants = w.filter?.variants ?? (opts.fsyncCompare ? [BASELINE, NO_FSYNC] : [BASELINE]);
      const curl = useCurl && !w.filter && w.id !== "big-primary";
      say(
        `=== ${w.id}: ${repo.count} × ${repo.bytes} bytes (${(repo.totalBytes / MB).toFixed(0)} MB), ${runs} run(s); ${variants.map((v) => v.tool).join(", ")}${dnfs.map((p) => `, dnf reposync -j${p}`).join("")}${curl ? `, ${CURL_TOOL}` : ""}`,
      );
      await prepareFreshState(opts, db);
      const workDir = join(opts.dir, "work", w.id);
      const samples: ToolRun[] = [];
      for (let run = 1; run <= runs; run++) {
        for (const v of variants) {
          const c = await chantalRun(opts, repo, run, served, db, workDir, v);
          samples.push(c);
          say(
            `${v.tool.padEnd(9)} run ${run}: first ${num(c.firstSec)} s (${num(c.firstRssMb, 0)} MB RSS, peak at ${c.firstRssPeakAtSec ?? "?"} s)${c.firstDownloaded !== undefined && w.filter ? `, ${c.firstDownloaded} downloaded` : ""}, no-op ${num(c.noopSec)} s${c.firstMemTrace ? `; ${c.firstMemTrace}` : ""}`,
          );
        }
        for (const p of dnfs) {
          const d = await dnfRun(opts, repo, run, p, served, workDir);
          samples.push(d);
          say(`dnf -j${String(p).padEnd(3)} run ${run}: first ${num(d.firstSec)} s (${num(d.firstRssMb, 0)} MB RSS), no-op ${num(d.noopSec)} s`);
        }
        if (curl) {
          const c = await curlRun(opts, repo, run, served, workDir);
          samples.push(c);
          say(`${CURL_TOOL.padEnd(9)} run ${run}: ${num(c.firstSec)} s (${num(c.firstCpuSec)} CPU s)`);
        }
      }
      const chantal = summarize("chantal", samples, repo.totalBytes);
      const filterSummaries = variants
        .filter((v) => v !== BASELINE)
        .map((v) => summarize(v.tool, samples, (repo.totalBytes * v.kept(repo.names, repo.versions)) / repo.count));
      const dnfSummaries = [
        ...filterSummaries,
        ...dnfs.map((p) => summarize(`dnf-p${p}`, samples, repo.totalBytes)),
        ...(curl ? [summarize(CURL_TOOL, samples, repo.totalBytes)] : []),
      ];
      const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? round(a / b, 2) : null);
      const result: WorkloadResult = {
        id: w.id,
        title: opts.quick
          ? `${repo.versions > 1 ? `${repo.versions} versions × ${repo.names.toLocaleString("en-US")} names` : repo.count.toLocaleString("en-US")} × ${repo.bytes >= MiB ? `${repo.bytes / MiB} MB` : `${repo.bytes >= 1024 ? `${repo.bytes / 1024} KB` : `${repo.bytes} B`}`}${w.id === "filter-big" ? ", filtered" : ""}`
          : w.title,
        packages: repo.count,
        payloadBytes: repo.bytes,
        totalMB: round(repo.totalBytes / MB, 1)!,
        summaries: [chantal, ...dnfSummaries],
        speedup: Object.fromEntries(dnfSummaries.map((d) => [d.tool, ratio(d.firstSec, chantal.firstSec)])),
        noopSpeedup: Object.fromEntries(dnfSummaries.map((d) => [d.tool, ratio(d.noopSec, chantal.noopSec)])),
        targets: w.filter
          ? checkFilterTargets(w, opts.quick, repo, [chantal, ...filterSummaries], samples)
          : checkTargets(
              w,
              opts.quick,
              chantal,
              dnfSummaries.filter((d) => d.tool.startsWith("dnf")),
            ),
        samples,
      };
      if (w.filter) result.filterRows = filterRows(result, w, repo);
      const noFsync = filterSummaries.find((x) => x.tool === NO_FSYNC.tool);
      if (noFsync) {
        result.fsyncCost = { firstSec: chantal.firstSec, noFsyncFirstSec: noFsync.firstSec, ratio: ratio(chantal.firstSec, noFsync.firstSec) };
        say(
          `${w.id}: fsync on ${num(chantal.firstSec)} s, off ${num(noFsync.firstSec)} s: on ÷ off = ${num(result.fsyncCost.ratio)} (target ≤ ${FSYNC_RATIO_MAX})`,
        );
        result.targets.push(ratioTarget("first sync, fsync on ÷ storage.fsync: false", FSYNC_RATIO_MAX, chantal.firstSec, noFsync.firstSec));
      }
      const curlSummary = dnfSummaries.find((x) => x.tool === CURL_TOOL);
      if (curlSummary) {
        result.curlRatio = ratio(chantal.firstSec, curlSummary.firstSec);
        say(`${w.id}: chantal ${num(chantal.firstSec)} s, ${CURL_TOOL} ${num(curlSummary.firstSec)} s: chantal ÷ curl = ${num(result.curlRatio)}`);
        if (w.targets.curlRatio !== undefined)
          result.targets.push(ratioTarget(`first sync ÷ ${CURL_TOOL} (same run)`, w.targets.curlRatio, chantal.firstSec, curlSummary.firstSec));
      }
      if (opts.cpuProf) {
        const dir = join(opts.dir, "profiles", w.id, "run1");
        result.profileTop = { first: await summarizeProfiles(join(dir, "first")), noop: await summarizeProfiles(join(dir, "noop")) };
      }
      results.push(result);
    }
    if (!opts.keep) {
      await rm(join(opts.dir, "work"), { recursive: true, force: true });
      await db.dropAll();
    }
  } finally {
    await runCleanups();
  }

  const meta = {
    mode: opts.quick ? "quick" : "full",
    runs: opts.runs,
    server: served.kind,
    database: db?.kind ?? "?",
    machine,
  };
  const doc = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...meta,
    options: { ...opts, dir: opts.dir },
    chantal: opts.fromSource ? "sources (CHANTAL_FROM_SOURCE=1)" : "dist/",
    gitHead: spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim() || null,
    results,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  await writeFile(join(RESULTS_DIR, "latest.json"), json);
  // The per-mode copy (latest-full.json is the one the README cites) only for a complete set of workloads, so a
  // partial run (--only) never replaces it.
  const complete = MIRROR_WORKLOADS.every((id) => opts.only.includes(id));
  if (complete) await writeFile(join(RESULTS_DIR, `latest-${meta.mode}.json`), json);
  const filterComplete = FILTER_WORKLOADS.every((id) => opts.only.includes(id));
  if (filterComplete) await writeFile(join(RESULTS_DIR, `latest-filter-${meta.mode}.json`), json);
  const text = render(results, meta);
  if (opts.json) {
    process.stderr.write(text);
    process.stdout.write(json);
  } else {
    process.stdout.write(text);
  }
  say(
    `results written to ${join(RESULTS_DIR, "latest.json")}${complete ? ` and latest-${meta.mode}.json` : ""}${filterComplete ? ` and latest-filter-${meta.mode}.json` : ""}`,
  );
  const chantalTools = new Set(["chantal", NO_FSYNC.tool, ...WORKLOADS.flatMap((w) => w.filter?.variants.map((v) => v.tool) ?? [])]);
  const missed = results.some((r) => r.targets.some((t) => t.ok === false && !t.reportOnly && FILTER_WORKLOADS.includes(r.id)));
  const failed = missed || results.some((r) => r.samples.some((s) => !s.ok && chantalTools.has(s.tool)));
  process.exitCode = failed ? 1 : 0;
}

await main().catch(async (err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  await runCleanups();
  process.exitCode = 1;
});
