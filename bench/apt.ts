// Benchmark: Chantal's APT sync of a generated suite (20,000 packages by default) and its no-op re-sync,
// beside aptly's `mirror update` of the same suite when aptly is installed, served from 127.0.0.1 by
// bench/serve.ts in its own process. Medians of --runs, measured side by side; ratios printed.
//
//   npx tsx bench/apt.ts [--count 20000] [--bytes 2048] [--runs 1] [--wait 70] [--quick] [--no-aptly] [--no-build] [--from-source]
//                        [--cli path/to/main.js] [--keep] [--json]
//
// Data lives under $CHANTAL_BENCH_DIR/apt (default /tmp/chantal-bench/apt): the generated suite (cached),
// the embedded PostgreSQL (kept up for the whole benchmark, one fresh database per run) and each run's storage.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { generateAptSuite } from "../test/fixtures/apt-repo-generator.js";
import { median, round, stopwatch, table } from "./lib.js";
import { NODE_FLAGS } from "../core/node-flags.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let CLI = join(ROOT, "bin", "chantal-run.js");

const { values: args } = parseArgs({
  options: {
    count: { type: "string" },
    bytes: { type: "string", default: "2048" },
    runs: { type: "string", default: "1" },
    wait: { type: "string" },
    quick: { type: "boolean", default: false },
    "no-aptly": { type: "boolean", default: false },
    "no-build": { type: "boolean", default: false },
    "from-source": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    dir: { type: "string" },
    cli: { type: "string" },
  },
});

const count = Number(args.count ?? (args.quick ? 4_000 : 20_000));
const bytes = Number(args.bytes);
const runs = Math.max(1, Number(args.runs));
const waitSec = Number(args.wait ?? (args.quick ? 2 : 70));
const dir = resolve(args.dir ?? join(process.env.CHANTAL_BENCH_DIR ?? "/tmp/chantal-bench", "apt"));
const cleanups: (() => Promise<void>)[] = [];
if (args.cli) CLI = resolve(args.cli);

function say(msg: string): void {
  if (!args.json) process.stderr.write(`${msg}\n`);
}

/** Runs a command to completion; returns wall seconds and stdout. */
function timed(
  cmd: string,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; sec: number; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const elapsed = stopwatch();
    const child = spawn(cmd, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => ok({ code, sec: elapsed(), stdout, stderr }));
  });
}

async function suite(): Promise<string> {
  const upstream = join(dir, `upstream-${count}x${bytes}`);
  if (existsSync(join(upstream, "dists", "bench", "Release"))) return upstream;
  say(`generating a suite of ${count} packages × ${bytes} B in ${upstream} ...`);
  await rm(upstream, { recursive: true, force: true });
  await generateAptSuite(upstream, count, bytes);
  return upstream;
}

/** bench/serve.ts in its own process: serving does not compete with this process's event loop. */
async function serve(root: string): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench", "serve.ts"), root], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  cleanups.push(async () => {
    child.kill("SIGTERM");
  });
  let out = "";
  for await (const chunk of child.stdout) {
    out += chunk;
    const m = /listening (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
    if (m) return m[1]!;
  }
  throw new Error(`bench/serve.ts did not start: ${out}`);
}

interface Db {
  fresh(name: string): Promise<string>;
}

async function database(): Promise<Db> {
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const { acquireEmbeddedPostgres } = await import("../core/db/embedded.js");
    const { silentLogger } = await import("../core/log.js");
    await mkdir(join(dir, "pg"), { recursive: true });
    const lease = await acquireEmbeddedPostgres({ basePath: join(dir, "pg"), log: silentLogger() });
    cleanups.push(() => lease.release());
    url = lease.adminUrl; // creates one database per run: the superuser, not the app role
  }
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  cleanups.push(() => admin.end());
  return {
    async fresh(name) {
      const db = `chantal_bench_apt_${name}`;
      await admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      await admin.query(`CREATE DATABASE "${db}"`);
      const u = new URL(url!);
      u.pathname = `/${db}`;
      return u.toString();
    },
  };
}

function chantalEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CHANTAL_LOG_LEVEL: "warn" };
  delete env.CHANTAL_DATABASE_URL;
  delete env.DATABASE_URL;
  if (args["from-source"]) env.CHANTAL_FROM_SOURCE = "1";
  else delete env.CHANTAL_FROM_SOURCE;
  return env;
}

/** Deletes old data first, then `sync` and a pause: PERFORMANCE.md's hygiene for file-heavy runs on ext4. */
async function quiet(paths: string[]): Promise<void> {
  for (const p of paths) await rm(p, { recursive: true, force: true });
  spawnSync("sync");
  if (waitSec > 0) {
    say(`  waiting ${waitSec} s after deleting old data ...`);
    await sleep(waitSec * 1000);
  }
}

interface RunResult {
  firstSec: number;
  noopSec: number;
  /** Chantal only: the no-op sync itself (its duration_ms), without the CLI's start and database connect. */
  noopSyncSec?: number;
}

async function chantalRun(run: number, url: string, db: Db): Promise<RunResult> {
  const work = join(dir, "chantal");
  await quiet([work]);
  const configDir = join(work, "config");
  await mkdir(configDir, { recursive: true });
  const dbUrl = await db.fresh(String(run));
  await writeFile(
    join(configDir, "config.yaml"),
    `storage:\n  base_path: ${join(work, "base")}\ndatabase:\n  url: ${JSON.stringify(dbUrl)}\nrepositories:\n  - id: bench\n    type: apt\n    upstream_url: ${url}\n    apt:\n      distribution: bench\n      components: [main]\n      architectures: [amd64]\n`,
  );
  const env = chantalEnv();
  const migrate = await timed(process.execPath, [CLI, "--config-dir", configDir, "db", "migrate"], env);
  if (migrate.code !== 0) throw new Error(`chantal db migrate failed: ${migrate.stderr}`);
  const sync = () => timed(process.execPath, [...NODE_FLAGS, CLI, "--config-dir", configDir, "repo", "sync", "--repo-id", "bench", "--json"], env);
  const first = await sync();
  const firstJson = JSON.parse(first.stdout || "{}");
  if (first.code !== 0 || firstJson.counts?.packagesTotal !== count)
    throw new Error(`chantal first sync: exit ${first.code}: ${first.stdout}${first.stderr.slice(-2000)}`);
  const noop = await sync();
  const noopJson = JSON.parse(noop.stdout || "{}");
  if (noopJson.status !== "noop") throw new Error(`chantal re-sync was not a no-op: ${noop.stdout}`);
  const noopSyncSec = Number(noopJson.duration_ms) / 1000;
  say(`  chantal run ${run}: first ${first.sec.toFixed(2)} s, no-op ${noop.sec.toFixed(2)} s (the sync itself ${noopSyncSec.toFixed(2)} s)`);
  return { firstSec: first.sec, noopSec: noop.sec, noopSyncSec };
}

async function aptlyRun(run: number, url: string): Promise<RunResult> {
  const work = join(dir, "aptly");
  await quiet([work]);
  await mkdir(work, { recursive: true });
  const config = join(work, "aptly.conf");
  // aptly's downloadConcurrency matches Chantal's default download_concurrency (8).
  await writeFile(
    config,
    JSON.stringify({ rootDir: join(work, "root"), downloadConcurrency: 8, architectures: ["amd64"], gpgDisableVerify: true, gpgDisableSign: true }),
  );
  const aptly = (...a: string[]) => timed("aptly", [`-config=${config}`, ...a]);
  const create = await aptly("mirror", "create", "-ignore-signatures", "-architectures=amd64", "bench", url, "bench", "main");
  if (create.code !== 0) throw new Error(`aptly mirror create failed: ${create.stdout}${create.stderr}`);
  const first = await aptly("mirror", "update", "-ignore-signatures", "bench");
  if (first.code !== 0) throw new Error(`aptly mirror update failed: ${first.stdout.slice(-2000)}${first.stderr.slice(-2000)}`);
  const noop = await aptly("mirror", "update", "-ignore-signatures", "bench");
  if (noop.code !== 0) throw new Error(`aptly mirror update (again) failed: ${noop.stderr.slice(-2000)}`);
  say(`  aptly run ${run}: first ${first.sec.toFixed(2)} s, no-op ${noop.sec.toFixed(2)} s`);
  return { firstSec: first.sec, noopSec: noop.sec };
}

function hasAptly(): boolean {
  return spawnSync("sh", ["-c", "command -v aptly"], { stdio: "ignore" }).status === 0;
}

async function main(): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (!args["from-source"] && !args["no-build"] && !args.cli) {
    say("building dist/ (npm run build) ...");
    const b = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    if (b.status !== 0) throw new Error("npm run build failed");
  }
  const upstream = await suite();
  const url = await serve(upstream);
  const db = await database();
  const withAptly = !args["no-aptly"] && hasAptly();
  if (!args["no-aptly"] && !withAptly) say("aptly is not installed (apt-get install -y aptly): Chantal alone");
  const chantal: RunResult[] = [];
  const aptly: RunResult[] = [];
  for (let run = 1; run <= runs; run++) {
    chantal.push(await chantalRun(run, url, db));
    if (withAptly) aptly.push(await aptlyRun(run, url));
  }
  const c = {
    firstSec: round(median(chantal.map((r) => r.firstSec))),
    noopSec: round(median(chantal.map((r) => r.noopSec))),
    noopSyncSec: round(median(chantal.map((r) => r.noopSyncSec ?? 0))),
  };
  const a = withAptly ? { firstSec: round(median(aptly.map((r) => r.firstSec))), noopSec: round(median(aptly.map((r) => r.noopSec))) } : null;
  const ratio = (x: number | null, y: number | null | undefined) => (x !== null && y ? round(x / y) : null);
  const result = {
    workload: `${count} packages × ${bytes} B`,
    runs,
    chantal: c,
    aptly: a,
    ratio: a ? { first: ratio(c.firstSec, a.firstSec), noop: ratio(c.noopSec, a.noopSec) } : null,
    targets: { firstRatio: 1.3, noopSec: 1 },
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const row = (tool: string, r: { firstSec: number | null; noopSec: number | null } | null) => [tool, String(r?.firstSec ?? "-"), String(r?.noopSec ?? "-")];
    process.stdout.write(
      [
        `APT benchmark: ${result.workload}, median of ${runs} run(s), served by bench/serve.ts on 127.0.0.1`,
        table(["tool", "first (s)", "no-op (s)"], [row("chantal", c), row("aptly", a)]),
        `chantal no-op: ${c.noopSec} s for the whole CLI process, ${c.noopSyncSec} s for the sync itself (target ≤ 1 s)`,
        ...(result.ratio ? [`chantal/aptly: first ${result.ratio.first}× (target ≤ 1.3×), no-op ${result.ratio.noop}×`] : []),
        "",
      ].join("\n"),
    );
  }
  if (!args.keep) {
    await rm(join(dir, "chantal"), { recursive: true, force: true });
    await rm(join(dir, "aptly"), { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench/apt.ts: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
}
