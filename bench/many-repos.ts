// Benchmark `many` (issue 19 point 6): one host mirroring 200 small repositories — `repo sync --all` (first sync, then
// the no-op re-sync) and the scheduler firing all 200 at once with scheduler.max_concurrent_syncs — with the process's
// wall and CPU time, peak RSS, peak open file descriptors, and the peak of TCP connections the server saw at once.
//
//   npm run bench:many -- [--repos 200] [--apt 10] [--packages 5] [--bytes 1024] [--max-concurrent-syncs 8]
//                         [--max-total-connections 16] [--download-concurrency 4] [--no-scheduler] [--from-source] [--no-build] [--json]
//                         [--cpu-prof-dir DIR]
//
// Repositories are generated once under $CHANTAL_BENCH_DIR/many/repos (test/fixtures' generators: valid repodata and
// Packages/Release with pseudo-random payloads, no rpmbuild) and served by bench/serve.ts (its own process, --stats:
// it counts its connections). The embedded PostgreSQL under $CHANTAL_BENCH_DIR/many/pg stays up for the whole
// benchmark (a lease), each phase gets a fresh database and storage base. Chantal runs as users run it
// (`node bin/chantal-run.js`, dist/ built first) under /usr/bin/time (CPU, max RSS); its /proc/<pid>/fd and VmHWM are
// sampled every 50 ms. Targets: peak RSS < 400 MB, server connections ≤ http.max_total_connections, the no-op
// re-sync of all repositories < 10 s; fds are reported beside the soft limit (ulimit -n).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { acquireEmbeddedPostgres } from "../core/db/embedded.js";
import { silentLogger } from "../core/log.js";
import { NODE_FLAGS } from "../core/node-flags.js";
import { generateAptSuite } from "../test/fixtures/apt-repo-generator.js";
import { generateRpmRepo } from "../test/fixtures/rpm-repo-generator.js";
import { freshDatabase, round, stopwatch, table } from "./lib.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "bin", "chantal-run.js");

const { values: args } = parseArgs({
  options: {
    repos: { type: "string", default: "200" },
    apt: { type: "string", default: "10" },
    packages: { type: "string", default: "5" },
    bytes: { type: "string", default: "1024" },
    "max-concurrent-syncs": { type: "string", default: "8" },
    "max-total-connections": { type: "string", default: "16" },
    "download-concurrency": { type: "string", default: "4" },
    dir: { type: "string", default: join(process.env.CHANTAL_BENCH_DIR ?? "/tmp/chantal-bench", "many") },
    "no-scheduler": { type: "boolean", default: false },
    "from-source": { type: "boolean", default: false },
    "no-build": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "cpu-prof-dir": { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write(`usage: npm run bench:many -- [options]
  --repos N                  repositories (default 200), of which --apt are APT suites (default 10), the rest RPM
  --packages N --bytes B     packages per repository and payload bytes each (default 5 × 1024)
  --max-concurrent-syncs N   scheduler.max_concurrent_syncs for the scheduler phase (default 8)
  --max-total-connections N  http.max_total_connections (default 16)
  --download-concurrency N   each repository's download_concurrency (default 4)
  --no-scheduler             only repo sync --all (first and no-op)
  --from-source              run the TypeScript sources (default: dist/, built first unless --no-build)
  --json                     JSON on stdout (the table goes to stderr)
  --cpu-prof-dir DIR         run Chantal with --cpu-prof, its profiles (.cpuprofile, for Chrome DevTools) in DIR
`);
  process.exit(0);
}
const REPOS = Number(args.repos);
const APT = Math.min(Number(args.apt), REPOS);
const PACKAGES = Number(args.packages);
const BYTES = Number(args.bytes);
const MAX_SYNCS = Number(args["max-concurrent-syncs"]);
const MAX_TOTAL = Number(args["max-total-connections"]);
const DL = Number(args["download-concurrency"]);
const dir = resolve(args.dir);
const RSS_TARGET_MB = 400;
const profileFlags = args["cpu-prof-dir"] ? ["--cpu-prof", "--cpu-prof-dir", resolve(args["cpu-prof-dir"])] : [];
const NOOP_TARGET_SEC = 10;

const say = (m: string) => process.stderr.write(`[bench:many] ${m}\n`);
const cleanups: (() => Promise<void>)[] = [];

const repoIds = Array.from({ length: REPOS }, (_, i) => (i < APT ? `apt${String(i).padStart(3, "0")}` : `rpm${String(i).padStart(3, "0")}`));

/** Every repository of the set, generated once (a marker file says the set is complete). */
async function ensureRepos(): Promise<string> {
  const root = join(dir, "repos", `${REPOS}-apt${APT}-${PACKAGES}x${BYTES}`);
  if (existsSync(join(root, ".bench-complete"))) return root;
  say(`generating ${REPOS} repositories (${APT} APT) of ${PACKAGES} × ${BYTES} B in ${root} ...`);
  const tmp = `${root}.generating`;
  await rm(tmp, { recursive: true, force: true });
  for (const id of repoIds) {
    if (id.startsWith("apt")) await generateAptSuite(join(tmp, id), PACKAGES, BYTES, { seedName: id });
    else await generateRpmRepo(join(tmp, id), PACKAGES, BYTES, { seedName: id });
  }
  await writeFile(join(tmp, ".bench-complete"), "");
  await rm(root, { recursive: true, force: true });
  await rename(tmp, root);
  return root;
}

interface ServerStats {
  open: number;
  peakOpen: number;
  accepted: number;
  requests: number;
}

/** bench/serve.ts --stats in its own process; stopped at the end. */
async function serve(root: string): Promise<{ url: string; stats(reset?: boolean): Promise<ServerStats> }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench", "serve.ts"), root, "0", "--stats"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  cleanups.push(async () => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  });
  let out = "";
  for await (const chunk of child.stdout!) {
    out += chunk;
    const m = /listening (http:\/\/127\.0\.0\.1:\d+\/)\nstats (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
    if (m) {
      const statsUrl = m[2]!;
      return { url: m[1]!, stats: async (reset = false) => (await (await fetch(`${statsUrl}${reset ? "reset" : ""}`)).json()) as ServerStats };
    }
  }
  throw new Error(`bench/serve.ts did not start: ${out}`);
}

function repositoriesYaml(url: string, schedule: boolean): string {
  return repoIds
    .map((id) => {
      const common = `  - id: ${id}\n    upstream_url: ${url}${id}/\n    download_concurrency: ${DL}\n`;
      const type = id.startsWith("apt")
        ? `    type: apt\n    apt:\n      distribution: bench\n      components: [main]\n      architectures: [amd64]\n`
        : `    type: rpm\n`;
      return `${common}${type}${schedule ? `    schedule:\n      cron: "* * * * *"\n      timezone: UTC\n` : ""}`;
    })
    .join("");
}

interface Peaks {
  /** The node process (the child of /usr/bin/time), once seen. */
  pid?: number;
  rssMb: number;
  fds: number;
  /** Set by the scheduler phase: the most syncs running at once (sync_runs rows 'running'). */
  runningSyncs?: number;
}

/** The node process under /usr/bin/time (its only child), sampled until it exits: VmHWM and the fd count. */
function sampleProcess(parent: ChildProcess, peaks: Peaks): () => void {
  let pid: number | null = null;
  let stopped = false;
  void (async () => {
    while (!stopped) {
      if (pid === null) {
        const children = await readFile(`/proc/${parent.pid}/task/${parent.pid}/children`, "utf8").catch(() => "");
        const first = children.trim().split(/\s+/)[0];
        if (first) peaks.pid = pid = Number(first);
      }
      if (pid !== null) {
        const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) peaks.rssMb = Math.max(peaks.rssMb, Number(hwm[1]) / 1024);
        const fds = await readdir(`/proc/${pid}/fd`).catch(() => null);
        if (fds) peaks.fds = Math.max(peaks.fds, fds.length);
      }
      await sleep(50);
    }
  })();
  return () => {
    stopped = true;
  };
}

interface Timed {
  code: number | null;
  stdout: string;
  stderr: string;
  wallSec: number;
  cpuSec: number;
  /** /usr/bin/time's maximum resident set. */
  maxRssMb: number;
  peaks: Peaks;
}

function chantalEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CHANTAL_LOG_LEVEL: "warn" };
  for (const k of ["CHANTAL_DATABASE_URL", "DATABASE_URL", "CHANTAL_CONFIG_DIR", "NODE_OPTIONS", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"])
    delete env[k];
  if (args["from-source"]) env.CHANTAL_FROM_SOURCE = "1";
  else delete env.CHANTAL_FROM_SOURCE;
  return env;
}

/** Start Chantal under /usr/bin/time; `whileRunning` may stop it (the scheduler) and returns when it is done watching. */
async function timed(
  configDir: string,
  cliArgs: string[],
  extraEnv: NodeJS.ProcessEnv = {},
  whileRunning?: (child: ChildProcess, peaks: Peaks) => Promise<void>,
): Promise<Timed> {
  const timeFile = join(dir, "time.out");
  spawnSync("sync");
  const elapsed = stopwatch();
  const child = spawn(
    "/usr/bin/time",
    ["-f", "%U %S %M", "-o", timeFile, process.execPath, ...NODE_FLAGS, ...profileFlags, CLI, "--config-dir", configDir, ...cliArgs],
    {
      env: { ...chantalEnv(), ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const peaks: Peaks = { rssMb: 0, fds: 0 };
  const stop = sampleProcess(child, peaks);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((ok) => child.once("close", ok));
  if (whileRunning) await whileRunning(child, peaks);
  const code = await closed;
  const wallSec = elapsed();
  stop();
  const [user, sys, rssKb] = (await readFile(timeFile, "utf8")).trim().split("\n").pop()!.split(" ").map(Number);
  return { code, stdout, stderr, wallSec, cpuSec: user! + sys!, maxRssMb: rssKb! / 1024, peaks };
}

interface Phase {
  phase: string;
  wallSec: number | null;
  cpuSec: number | null;
  rssMb: number | null;
  fds: number;
  serverConnections: number;
  requests: number;
  runningSyncs?: number;
  ok: number;
}

function phaseOf(name: string, t: Timed, s: ServerStats, ok: number): Phase {
  return {
    phase: name,
    wallSec: round(t.wallSec),
    cpuSec: round(t.cpuSec),
    rssMb: round(Math.max(t.maxRssMb, t.peaks.rssMb), 0),
    fds: t.peaks.fds,
    serverConnections: s.peakOpen,
    requests: s.requests,
    ...(t.peaks.runningSyncs !== undefined ? { runningSyncs: t.peaks.runningSyncs } : {}),
    ok,
  };
}

async function workdir(name: string, adminUrl: string, url: string, schedule: boolean): Promise<{ configDir: string; dbUrl: string }> {
  const work = join(dir, "work", name);
  await rm(work, { recursive: true, force: true });
  const configDir = join(work, "config");
  await mkdir(configDir, { recursive: true });
  const dbUrl = await freshDatabase(adminUrl, `chantal_bench_many_${name}`);
  await writeFile(
    join(configDir, "config.yaml"),
    `storage:\n  base_path: ${join(work, "base")}\ndatabase:\n  url: ${JSON.stringify(dbUrl)}\nhttp:\n  max_total_connections: ${MAX_TOTAL}\n` +
      `scheduler:\n  max_concurrent_syncs: ${MAX_SYNCS}\nrepositories:\n${repositoriesYaml(url, schedule)}`,
    { mode: 0o600 },
  );
  const m = spawnSync(process.execPath, [...NODE_FLAGS, CLI, "--config-dir", configDir, "db", "migrate"], { env: chantalEnv(), encoding: "utf8" });
  if (m.status !== 0) throw new Error(`db migrate failed: ${m.stderr}`);
  return { configDir, dbUrl };
}

async function syncAll(name: string, configDir: string, server: Awaited<ReturnType<typeof serve>>, expect: string): Promise<Phase> {
  await server.stats(true);
  const t = await timed(configDir, ["repo", "sync", "--all", "--json"]);
  const s = await server.stats();
  let results: { repo_id: string; status: string; error?: string }[];
  try {
    results = JSON.parse(t.stdout);
  } catch {
    throw new Error(`${name}: exit ${t.code}, no JSON: ${t.stderr.slice(-3000)}`);
  }
  const bad = results.filter((r) => r.status !== expect);
  if (bad.length || results.length !== REPOS)
    throw new Error(`${name}: ${results.length} results, ${bad.length} not ${expect}: ${JSON.stringify(bad.slice(0, 3))} ${t.stderr.slice(-2000)}`);
  return phaseOf(name, t, s, results.length);
}

/** `scheduler start` with its clock two seconds before the next minute (every repository: cron "* * * * *"); stopped (SIGTERM) when all ran. */
async function schedulerFire(configDir: string, dbUrl: string, server: Awaited<ReturnType<typeof serve>>): Promise<Phase & { fireToDoneSec: number | null }> {
  await server.stats(true);
  const db = new pg.Pool({ connectionString: dbUrl, max: 1 });
  let fireToDone: number | null = null;
  let done = 0;
  const t = await timed(
    configDir,
    ["scheduler", "start"],
    // Two seconds before the next minute (real time: APT Release dates must not lie ahead): every schedule fires then.
    { CHANTAL_SCHEDULER_TEST_START: new Date(Math.ceil((Date.now() + 3000) / 60_000) * 60_000 - 2000).toISOString(), CHANTAL_SCHEDULER_TEST_SPEED: "1" },
    async (child, peaks) => {
      peaks.runningSyncs = 0;
      let firstAt: number | null = null;
      const deadline = Date.now() + 30 * 60_000;
      while (child.exitCode === null && Date.now() < deadline) {
        const r = await db.query(
          `SELECT count(*) FILTER (WHERE status = 'running')::int AS running, count(*) FILTER (WHERE status <> 'running')::int AS done FROM chantal.sync_runs WHERE trigger = 'schedule' AND id <= (SELECT min(id) + ${REPOS} - 1 FROM chantal.sync_runs WHERE trigger = 'schedule')`,
        );
        const { running, done: finished } = r.rows[0] as { running: number; done: number };
        if (firstAt === null && running + finished > 0) firstAt = performance.now();
        peaks.runningSyncs = Math.max(peaks.runningSyncs, running);
        done = finished;
        if (finished >= REPOS) break;
        await sleep(100);
      }
      if (firstAt !== null) fireToDone = (performance.now() - firstAt) / 1000;
      // The node process itself: GNU time dies of a SIGTERM and leaves its child running.
      if (peaks.pid) process.kill(peaks.pid, "SIGTERM");
      else child.kill("SIGTERM");
    },
  );
  const s = await server.stats();
  const failed = (
    await db.query(
      `SELECT r.repo_id, s.status, s.error FROM chantal.sync_runs s JOIN chantal.repositories r ON r.id = s.repository_id WHERE s.trigger = 'schedule' AND s.status NOT IN ('success')`,
    )
  ).rows;
  await db.end();
  if (done < REPOS || failed.length)
    throw new Error(
      `scheduler: ${done} of ${REPOS} scheduled syncs finished, ${failed.length} not success: ${JSON.stringify(failed.slice(0, 3))} ${t.stderr.slice(-2000)}`,
    );
  return { ...phaseOf(`scheduler: ${REPOS} fire at once`, t, s, done), fireToDoneSec: round(fireToDone) };
}

async function main(): Promise<void> {
  if (!existsSync("/usr/bin/time")) throw new Error("/usr/bin/time is missing: apt-get install -y time");
  await mkdir(dir, { recursive: true });
  if (!args["from-source"] && !args["no-build"]) {
    say("npm run build ...");
    const b = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, encoding: "utf8" });
    if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}${b.stderr}`);
  }
  const root = await ensureRepos();
  const server = await serve(root);
  await mkdir(join(dir, "pg"), { recursive: true });
  const lease = await acquireEmbeddedPostgres({ basePath: join(dir, "pg"), log: silentLogger() });
  cleanups.push(() => lease.release());
  const phases: Phase[] = [];
  const fdLimit = Number(spawnSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim());
  let fireToDoneSec: number | null = null;
  {
    const { configDir } = await workdir("all", lease.adminUrl, server.url, false);
    for (const [name, expect] of [
      ["repo sync --all (first)", "success"],
      ["repo sync --all (no-op)", "noop"],
    ] as const) {
      const p = await syncAll(name, configDir, server, expect);
      phases.push(p);
      say(`${name}: ${p.wallSec} s wall, ${p.cpuSec} s CPU, ${p.rssMb} MB, ${p.fds} fds, ${p.serverConnections} connections`);
    }
  }
  if (!args["no-scheduler"]) {
    const { configDir, dbUrl } = await workdir("scheduler", lease.adminUrl, server.url, true);
    const p = await schedulerFire(configDir, dbUrl, server);
    fireToDoneSec = p.fireToDoneSec;
    phases.push(p);
    say(
      `${p.phase}: ${p.fireToDoneSec} s from the first fire to the last run, ${p.cpuSec} s CPU, ${p.rssMb} MB, ${p.fds} fds, ${p.serverConnections} connections, ${p.runningSyncs} at once`,
    );
  }
  const noop = phases.find((p) => p.phase.includes("no-op"))!;
  const targets = [
    ...phases.map((p) => ({ target: `${p.phase}: peak RSS < ${RSS_TARGET_MB} MB`, value: p.rssMb, ok: (p.rssMb ?? Infinity) < RSS_TARGET_MB })),
    ...phases.map((p) => ({ target: `${p.phase}: server connections ≤ ${MAX_TOTAL}`, value: p.serverConnections, ok: p.serverConnections <= MAX_TOTAL })),
    ...phases.map((p) => ({ target: `${p.phase}: fds < ulimit -n ${fdLimit} ÷ 4`, value: p.fds, ok: p.fds < fdLimit / 4 })),
    { target: `no-op re-sync of ${REPOS} < ${NOOP_TARGET_SEC} s`, value: noop.wallSec, ok: (noop.wallSec ?? Infinity) < NOOP_TARGET_SEC },
    ...(phases.some((p) => p.runningSyncs !== undefined)
      ? [{ target: `scheduler: ≤ ${MAX_SYNCS} syncs at once`, value: phases.at(-1)!.runningSyncs ?? null, ok: (phases.at(-1)!.runningSyncs ?? 0) <= MAX_SYNCS }]
      : []),
  ];
  const result = {
    workload: `${REPOS} repositories (${APT} APT, ${REPOS - APT} RPM) × ${PACKAGES} packages × ${BYTES} B; download_concurrency ${DL}, http.max_total_connections ${MAX_TOTAL}, scheduler.max_concurrent_syncs ${MAX_SYNCS}`,
    fdLimit,
    phases,
    fireToDoneSec,
    perRepository: phases.map((p) => ({
      phase: p.phase,
      wallMs: p.wallSec === null ? null : round((p.wallSec * 1000) / REPOS, 1),
      cpuMs: p.cpuSec === null ? null : round((p.cpuSec * 1000) / REPOS, 1),
    })),
    ratios: {
      noopOverTarget: noop.wallSec === null ? null : round(noop.wallSec / NOOP_TARGET_SEC),
      rssOverTarget: round(Math.max(...phases.map((p) => p.rssMb ?? 0)) / RSS_TARGET_MB),
    },
    targets,
  };
  await mkdir(join(ROOT, "bench", "results"), { recursive: true });
  await writeFile(join(ROOT, "bench", "results", `many-${REPOS}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const text = `${result.workload}\n${table(
    ["phase", "wall s", "CPU s", "ms/repo", "peak RSS MB", "÷ 400 MB", "peak fds", "server conns", "requests", "syncs at once"],
    phases.map((p) => [
      p.phase,
      String(p.wallSec),
      String(p.cpuSec),
      String(p.wallSec === null ? "–" : round((p.wallSec * 1000) / REPOS, 0)),
      String(p.rssMb),
      String(round((p.rssMb ?? 0) / RSS_TARGET_MB)),
      String(p.fds),
      String(p.serverConnections),
      String(p.requests),
      p.runningSyncs === undefined ? "–" : String(p.runningSyncs),
    ]),
  )}\n${fireToDoneSec !== null ? `scheduler: ${fireToDoneSec} s from the first fire to the last run's end (the daemon's wall time includes its start and stop)\n` : ""}\n${table(
    ["target", "value", "ok"],
    targets.map((t) => [t.target, String(t.value), t.ok ? "ok" : "MISSED"]),
  )}\n`;
  if (args.json) {
    process.stderr.write(text);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else process.stdout.write(text);
  if (targets.some((t) => !t.ok)) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench:many: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
}
