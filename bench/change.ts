// Benchmark `change` (issue 19): re-syncs after upstream grew by 2%, Chantal against `dnf reposync --refresh`, with
// the phases of Chantal's runs (start until the plan, the downloads, the commit, the publish).
//
//   npm run bench:change -- [--count 20000] [--bytes 2048] [--grow 0.02] [--runs 3] [--warm-db] [--no-dnf] [--cpu-prof]
//
// Each run: a fresh storage base (Chantal's own embedded PostgreSQL under it, started and stopped by each command as a
// user's one-shot `repo sync` does; --warm-db holds a lease so it stays up) syncs the base repository (N packages,
// untimed); then the served repository is switched to N + N × grow packages (the same N plus new ones) and the
// re-sync is timed (`chantal-second`: the first publish after the first has no standby tree yet), then to
// N + 2 × N × grow and timed again (`chantal-steady`: a mirror that has synced before). dnf does the same three syncs
// into its own directory and cache with --refresh. Repositories are generated once under $CHANTAL_BENCH_DIR/repos.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateRpmRepo } from "../test/fixtures/rpm-repo-generator.js";
import { median, round, startNginx, stopwatch, table } from "./lib.js";
import { NODE_FLAGS } from "../core/node-flags.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "bin", "chantal-run.js");

const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "20000" },
    bytes: { type: "string", default: "2048" },
    grow: { type: "string", default: "0.02" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: process.env.CHANTAL_BENCH_DIR ?? "/tmp/chantal-bench" },
    "warm-db": { type: "boolean", default: false },
    "no-dnf": { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    "from-source": { type: "boolean", default: false },
    "no-build": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write(`usage: npm run bench:change -- [--count N] [--bytes B] [--grow F] [--runs R] [--warm-db] [--no-dnf] [--cpu-prof] [--from-source] [--no-build] [--json]
  --count N      packages before the change (default 20000)
  --bytes B      payload bytes per package (default 2048)
  --grow F       new packages as a fraction of N (default 0.02)
  --runs R       runs, median reported (default 3)
  --warm-db      keep the embedded PostgreSQL up between Chantal's commands (default: each command starts it, as a one-shot user's does)
  --no-dnf       skip dnf reposync
  --cpu-prof     CPU-profile Chantal's timed re-syncs (DIR/profiles/change/run<N>)
  --from-source  run the TypeScript sources (default: dist/, built first unless --no-build)
`);
  process.exit(0);
}
const count = Number(args.count);
const bytes = Number(args.bytes);
const added = Math.round(count * Number(args.grow));
const runs = Number(args.runs);
const benchDir = resolve(args.dir);

function say(m: string): void {
  process.stderr.write(`[bench:change] ${m}\n`);
}

async function ensureRepo(name: string, n: number): Promise<string> {
  const dir = join(benchDir, "repos", name);
  if (existsSync(join(dir, ".bench-complete"))) return dir;
  await rm(`${dir}.generating`, { recursive: true, force: true });
  say(`generating ${name} ...`);
  // The same seed: the grown repository holds exactly the base's packages (same bytes, same locations) plus the new ones.
  await generateRpmRepo(`${dir}.generating`, n, bytes, { seedName: "bchange" });
  await writeFile(join(`${dir}.generating`, ".bench-complete"), "");
  await rm(dir, { recursive: true, force: true });
  await rename(`${dir}.generating`, dir);
  return dir;
}

/** Point the served name at a repository (a symlink renamed over the old one: the server sees one or the other). */
async function serve(root: string, name: string, repoDir: string): Promise<void> {
  await rm(join(root, `${name}.tmp`), { force: true });
  await symlink(repoDir, join(root, `${name}.tmp`));
  await rename(join(root, `${name}.tmp`), join(root, name));
}

interface Run {
  wallSec: number;
  cpuSec: number | null;
  stdout: string;
  log: string;
  startedAt: number;
  code: number | null;
}

async function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<Run> {
  await mkdir(dirname(logFile), { recursive: true });
  spawnSync("sync");
  const useTime = existsSync("/usr/bin/time");
  const [file, fullArgv] = useTime ? ["/usr/bin/time", ["-f", "%U %S", "-o", `${logFile}.time`, cmd, ...argv]] : [cmd, argv];
  const startedAt = Date.now();
  const elapsed = stopwatch();
  const child = spawn(file, fullArgv, { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const code = await new Promise<number | null>((ok) => child.once("close", ok));
  const wallSec = elapsed();
  await writeFile(logFile, log);
  let cpuSec: number | null = null;
  if (useTime) {
    const m = /([\d.]+) ([\d.]+)\s*$/.exec(await readFile(`${logFile}.time`, "utf8").catch(() => ""));
    if (m) cpuSec = Number(m[1]) + Number(m[2]);
  }
  return { wallSec, cpuSec, stdout, log, startedAt, code };
}

/** Seconds after start of the first log line with each message (pino JSON lines with --verbose). */
function phases(log: string, startedAt: number): Map<string, number> {
  const out = new Map<string, number>();
  let lastProgress: number | undefined;
  for (const line of log.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const j = JSON.parse(line) as { time?: string | number; msg?: string };
      if (!j.msg || j.time === undefined) continue;
      const at = ((typeof j.time === "number" ? j.time : Date.parse(j.time)) - startedAt) / 1000;
      if (j.msg === "download progress") lastProgress = at;
      if (!out.has(j.msg)) out.set(j.msg, at);
    } catch {
      /* not JSON */
    }
  }
  if (lastProgress !== undefined) out.set("download progress (last)", lastProgress);
  return out;
}

interface Sample {
  tool: string;
  run: number;
  wallSec: number;
  cpuSec: number | null;
  /** Chantal: seconds until the plan, the downloads, the commit, the publish, and after it (finishing, the database's stop). */
  phases?: { untilPlan: number; downloads: number; commit: number; publish: number; rest: number };
  downloaded?: number;
}

function chantalEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ["CHANTAL_DATABASE_URL", "DATABASE_URL", "CHANTAL_CONFIG_DIR", "NODE_OPTIONS", "CHANTAL_EMBEDDED_KEEP"]) delete env[k];
  if (args["from-source"]) env.CHANTAL_FROM_SOURCE = "1";
  else delete env.CHANTAL_FROM_SOURCE;
  return env;
}

/** The served repository of a stage: the base, then +added, then +2 × added (each a 2% change of the base). */
function repoOf(stage: 0 | 1 | 2): Promise<string> {
  return ensureRepo(`change-${count + stage * added}x${bytes}`, count + stage * added);
}

/** The first re-sync after the first sync (no standby tree yet), and the next one (a mirror that has synced before). */
const STAGE_TOOL = { 1: "chantal-second", 2: "chantal-steady" } as const;

async function chantal(run: number, served: string): Promise<Sample[]> {
  const dir = join(benchDir, "work-change", `run${run}`, "chantal");
  const configDir = join(dir, "config");
  await mkdir(configDir, { recursive: true });
  await writeFile(
    join(configDir, "config.yaml"),
    `storage:\n  base_path: ${join(dir, "base")}\nrepositories:\n  - id: bench-change\n    type: rpm\n    upstream_url: ${served}change/\n`,
    { mode: 0o600 },
  );
  const env = chantalEnv();
  const logs = join(benchDir, "logs", "change", `run${run}`);
  const argv = (prof: boolean) => [
    ...NODE_FLAGS,
    ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${join(benchDir, "profiles", "change", `run${run}`)}`] : []),
    CLI,
    "--config-dir",
    configDir,
    "--verbose",
    "repo",
    "sync",
    "--repo-id",
    "bench-change",
    "--json",
  ];
  let lease: { release(): Promise<void> } | undefined;
  if (args["warm-db"]) {
    const { acquireEmbeddedPostgres } = await import("../core/db/embedded.js");
    const { silentLogger } = await import("../core/log.js");
    lease = await acquireEmbeddedPostgres({ basePath: join(dir, "base"), log: silentLogger() });
  }
  try {
    await serve(join(benchDir, "serve-change"), "change", await repoOf(0));
    const first = await timed(process.execPath, argv(false), env, join(logs, "chantal-first.log"));
    const fj = JSON.parse(first.stdout) as { status: string; error?: string };
    if (fj.status !== "success") throw new Error(`first sync: ${fj.status} ${fj.error ?? ""} (log ${logs})`);
    const out: Sample[] = [];
    for (const stage of [1, 2] as const) {
      await serve(join(benchDir, "serve-change"), "change", await repoOf(stage));
      const t = await timed(process.execPath, argv(args["cpu-prof"]), env, join(logs, `chantal-change${stage}.log`));
      const j = JSON.parse(t.stdout) as { status: string; error?: string; counts?: { packages_downloaded: number; packages_total: number } };
      if (j.status !== "success") throw new Error(`re-sync: ${j.status} ${j.error ?? ""} (log ${logs})`);
      if (j.counts?.packages_downloaded !== added) throw new Error(`re-sync downloaded ${j.counts?.packages_downloaded}, expected ${added}`);
      const latest = join(dir, "base", "published", "bench-change", "latest");
      const files = await countRpms(latest);
      if (files !== count + stage * added) throw new Error(`the published tree holds ${files} packages, expected ${count + stage * added}`);
      const p = phases(t.log, t.startedAt);
      const plan = p.get("plan") ?? Number.NaN;
      const downloadsEnd = p.get("download progress (last)") ?? plan;
      const committed = p.get("committed") ?? Number.NaN;
      const published = p.get("published") ?? Number.NaN;
      out.push({
        tool: STAGE_TOOL[stage],
        run,
        wallSec: t.wallSec,
        cpuSec: t.cpuSec,
        downloaded: j.counts.packages_downloaded,
        phases: {
          untilPlan: plan,
          downloads: downloadsEnd - plan,
          commit: committed - downloadsEnd,
          publish: published - committed,
          rest: t.wallSec - published,
        },
      });
    }
    return out;
  } finally {
    await lease?.release();
  }
}

async function countRpms(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.name.endsWith(".rpm") && !e.isDirectory()) n++;
  return n;
}

async function dnf(run: number, served: string): Promise<Sample[]> {
  const dir = join(benchDir, "work-change", `run${run}`, "dnf");
  const argv = [
    "reposync",
    "-q",
    "-y",
    "--refresh",
    "--releasever=bench",
    `--repofrompath=bench,${served}change/`,
    "--repo=bench",
    "-p",
    join(dir, "out"),
    "--norepopath",
    "--setopt=max_parallel_downloads=3",
    `--setopt=cachedir=${join(dir, "cache")}`,
    `--setopt=logdir=${join(dir, "log")}`,
    "--setopt=reposdir=/dev/null",
    "--setopt=bench.gpgcheck=0",
  ];
  const env = { ...process.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" };
  const logs = join(benchDir, "logs", "change", `run${run}`);
  await serve(join(benchDir, "serve-change"), "change", await repoOf(0));
  const first = await timed("dnf", argv, env, join(logs, "dnf-first.log"));
  if (first.code !== 0) throw new Error(`dnf reposync exited with ${first.code} (log ${logs})`);
  const out: Sample[] = [];
  for (const stage of [1, 2] as const) {
    await serve(join(benchDir, "serve-change"), "change", await repoOf(stage));
    const t = await timed("dnf", argv, env, join(logs, `dnf-change${stage}.log`));
    if (t.code !== 0) throw new Error(`dnf reposync (re-sync) exited with ${t.code} (log ${logs})`);
    const files = await countRpms(join(dir, "out"));
    if (files !== count + stage * added) throw new Error(`dnf left ${files} packages, expected ${count + stage * added}`);
    out.push({ tool: "dnf-j3", run, wallSec: t.wallSec, cpuSec: t.cpuSec });
  }
  return out;
}

async function main(): Promise<void> {
  await mkdir(benchDir, { recursive: true });
  if (!args["from-source"] && !args["no-build"]) {
    say("npm run build ...");
    const b = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, encoding: "utf8" });
    if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}${b.stderr}`);
  }
  for (const stage of [0, 1, 2] as const) await repoOf(stage);
  await rm(join(benchDir, "work-change"), { recursive: true, force: true });
  await rm(join(benchDir, "profiles", "change"), { recursive: true, force: true });
  await mkdir(join(benchDir, "serve-change"), { recursive: true });
  const server = await startNginx(join(benchDir, "serve-change"), join(benchDir, "nginx-change"));
  const samples: Sample[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      for (const s of await chantal(run, server.url)) {
        samples.push(s);
        say(`${s.tool} run ${run}: ${s.wallSec.toFixed(2)} s ${JSON.stringify(s.phases)}`);
      }
      if (!args["no-dnf"] && spawnSync("dnf", ["reposync", "--help"]).status === 0) {
        for (const s of await dnf(run, server.url)) {
          samples.push(s);
          say(`dnf run ${run}: ${s.wallSec.toFixed(2)} s`);
        }
      }
    }
  } finally {
    await server.stop();
  }
  const m = (xs: number[]) => round(median(xs), 2);
  const dn = samples.filter((s) => s.tool === "dnf-j3");
  const dnfWall = m(dn.map((s) => s.wallSec));
  const summary = (tool: string) => {
    const ch = samples.filter((s) => s.tool === tool);
    const phase = (k: keyof NonNullable<Sample["phases"]>) => m(ch.map((s) => s.phases![k]));
    const wallSec = m(ch.map((s) => s.wallSec));
    return {
      tool,
      wallSec,
      cpuSec: m(ch.map((s) => s.cpuSec ?? Number.NaN)),
      ownSec: m(ch.map((s) => s.wallSec - s.phases!.downloads)),
      untilPlan: phase("untilPlan"),
      downloads: phase("downloads"),
      commit: phase("commit"),
      publish: phase("publish"),
      rest: phase("rest"),
      overDnf: dnfWall && wallSec ? round(wallSec / dnfWall, 2) : null,
    };
  };
  const result = {
    workload: `change: ${count} × ${bytes} B, +${added} twice`,
    warmDb: args["warm-db"],
    runs,
    chantal: Object.values(STAGE_TOOL).map(summary),
    dnf: dn.length ? { wallSec: dnfWall, cpuSec: m(dn.map((s) => s.cpuSec ?? Number.NaN)) } : null,
    samples,
  };
  await mkdir(join(ROOT, "bench", "results"), { recursive: true });
  await writeFile(join(ROOT, "bench", "results", `change-${count}${args["warm-db"] ? "-warm" : ""}.json`), `${JSON.stringify(result, null, 2)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const f = (x: number | null) => (x === null ? "–" : x.toFixed(2));
    process.stdout.write(
      `${result.workload}${args["warm-db"] ? ", database running" : ", database started by each command"}, median of ${runs}\n${table(
        ["re-sync", "chantal s", "until plan", "downloads", "commit", "publish", "after", "own (no downloads)", "CPU s", "dnf -j3 s", "chantal ÷ dnf"],
        result.chantal.map((c) => [
          c.tool,
          f(c.wallSec),
          f(c.untilPlan),
          f(c.downloads),
          f(c.commit),
          f(c.publish),
          f(c.rest),
          f(c.ownSec),
          f(c.cpuSec),
          f(result.dnf?.wallSec ?? null),
          f(c.overDnf),
        ]),
      )}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:change: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
