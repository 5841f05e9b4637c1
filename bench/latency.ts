// Benchmark: a sync of 2,000 × 20 KB from an upstream that answers each request after 20 ms, over HTTP/1.1 (how close
// to packages × latency ÷ connections) and over HTTP/2 (nginx, TLS with a test CA, in front of the same server).
//
//   npm run bench:latency -- [--count N] [--bytes B] [--latency-ms MS] [--concurrency N] [--h2-concurrency N] [--runs N] [--json]
//
// The latency server (node, in this process) delays every response by --latency-ms before its headers and counts the
// requests and the connections open at once; the HTTP/2 run puts nginx (`listen ... ssl http2`, access log with
// $server_protocol) in front of it. Chantal runs as users run it (`node bin/chantal-run.js repo sync`, dist/ when built),
// each run with a fresh storage base and database (the embedded PostgreSQL under $CHANTAL_BENCH_DIR/latency/pg).
// "download" is the latency server's own clock: from the first package request to the end of the last package response.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { acquireEmbeddedPostgres } from "../core/db/embedded.js";
import { silentLogger } from "../core/log.js";
import { NODE_FLAGS } from "../core/node-flags.js";
import { createTlsFixtures } from "../test/helpers/tls-fixtures.js";
import { generateRpmRepo } from "../test/fixtures/rpm-repo-generator.js";
import { freePort, freshDatabase, median, round, stopwatch, table } from "./lib.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "bin", "chantal-run.js");
const { values } = parseArgs({
  options: {
    count: { type: "string", default: "2000" },
    bytes: { type: "string", default: String(20 * 1024) },
    "latency-ms": { type: "string", default: "20" },
    concurrency: { type: "string", default: "8" },
    "h2-concurrency": { type: "string", default: "32" },
    "max-connections-per-host": { type: "string" },
    runs: { type: "string", default: "1" },
    "no-h2": { type: "boolean", default: false },
    "no-fsync": { type: "boolean", default: false },
    "from-source": { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "usage: npm run bench:latency -- [--count 2000] [--bytes 20480] [--latency-ms 20] [--concurrency 8] [--h2-concurrency 32]\n" +
      "                               [--max-connections-per-host N] [--runs 1] [--no-h2] [--no-fsync] [--from-source] [--cpu-prof] [--json]\n",
  );
  process.exit(0);
}
const COUNT = Number(values.count);
const BYTES = Number(values.bytes);
const LATENCY_MS = Number(values["latency-ms"]);
const CONCURRENCY = Number(values.concurrency);
const H2_CONCURRENCY = Number(values["h2-concurrency"]);
const PER_HOST = values["max-connections-per-host"] !== undefined ? Number(values["max-connections-per-host"]) : CONCURRENCY;
const RUNS = Number(values.runs);
const base = join(process.env.CHANTAL_BENCH_DIR ?? join(tmpdir(), "chantal-bench"), "latency");
const log = (s: string) => process.stderr.write(`${s}\n`);
const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;

// ---------------------------------------------------------------------------------------------------- latency server

interface LatencyStats {
  requests: number;
  packages: number;
  maxInFlight: number;
  maxSockets: number;
  /** Distinct connections that carried this run's requests (idle keep-alive ones of an earlier run are not counted). */
  sockets: Set<object>;
  firstPackageAt: number | null;
  lastPackageDoneAt: number | null;
}

interface LatencyServer {
  url: string;
  stats: LatencyStats;
  reset(): void;
  close(): Promise<void>;
}

async function startLatencyServer(root: string): Promise<LatencyServer> {
  const fresh = (): LatencyStats => ({
    requests: 0,
    packages: 0,
    maxInFlight: 0,
    maxSockets: 0,
    sockets: new Set(),
    firstPackageAt: null,
    lastPackageDoneAt: null,
  });
  let stats = fresh();
  let inFlight = 0;
  let sockets = 0;
  const server: Server = createServer((req, res) => {
    stats.requests++;
    stats.sockets.add(req.socket);
    inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    const isPackage = path.endsWith(".rpm");
    if (isPackage) stats.firstPackageAt ??= performance.now();
    res.once("close", () => {
      inFlight--;
      if (isPackage) stats.lastPackageDoneAt = performance.now();
    });
    setTimeout(() => {
      readFile(join(root, path)).then(
        (body) => {
          if (isPackage) stats.packages++;
          res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
          res.end(body);
        },
        () => {
          res.writeHead(404, { "content-length": 0 });
          res.end();
        },
      );
    }, LATENCY_MS);
  });
  server.keepAliveTimeout = 65_000;
  server.on("connection", (s) => {
    sockets++;
    stats.maxSockets = Math.max(stats.maxSockets, sockets);
    s.once("close", () => sockets--);
  });
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${port}/`,
    get stats() {
      return stats;
    },
    reset: () => (stats = fresh()),
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

// ---------------------------------------------------------------------------------------------------- nginx, HTTP/2 over TLS

interface H2Front {
  url: string;
  caFile: string;
  accessLog: string;
  close(): Promise<void>;
}

async function startH2Front(target: string, dir: string): Promise<H2Front> {
  const fx = createTlsFixtures();
  const port = await freePort();
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "tmp"), { recursive: true });
  const accessLog = join(dir, "access.log");
  const conf = join(dir, "nginx.conf");
  await writeFile(
    conf,
    `# generated by bench/latency.ts
${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 1024; }
http {
  log_format proto '$server_protocol $status $request_uri';
  access_log ${accessLog} proto;
  client_body_temp_path ${join(dir, "tmp")};
  proxy_temp_path ${join(dir, "tmp")};
  fastcgi_temp_path ${join(dir, "tmp")};
  uwsgi_temp_path ${join(dir, "tmp")};
  scgi_temp_path ${join(dir, "tmp")};
  upstream latency { server ${new URL(target).host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${fx.server.cert};
    ssl_certificate_key ${fx.server.key};
    http2_max_concurrent_streams 128;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://latency;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
`,
  );
  const child = spawn("/usr/sbin/nginx", ["-c", conf, "-p", dir], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const ok = await fetchOk(`http://127.0.0.1:${port}/`).catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `https://127.0.0.1:${port}/`,
    caFile: fx.caFile,
    accessLog,
    close: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((ok) => child.once("close", ok));
      }
      fx.remove();
    },
  };
}

/** nginx answers plain HTTP on its TLS port with a 400: it is up. */
async function fetchOk(url: string): Promise<boolean> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status > 0;
}

// ---------------------------------------------------------------------------------------------------- one sync

interface Sample {
  variant: string;
  run: number;
  protocol: string;
  concurrency: number;
  connectionsPerHost: number;
  wallSec: number;
  downloadSec: number;
  cpuSec: number;
  idealSec: number;
  ratio: number;
  maxInFlight: number;
  connectionsUsed: number;
  h2Requests?: number;
  otherRequests?: number;
}

/** Run a command without blocking this process's event loop (the latency server answers from it). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", fail);
    child.once("close", (status) => ok({ status, stdout, stderr }));
  });
}

async function syncOnce(o: {
  variant: string;
  run: number;
  adminUrl: string;
  upstream: string;
  server: LatencyServer;
  concurrency: number;
  extraRepoYaml?: string;
  fsync: boolean;
}): Promise<{ wallSec: number; downloadSec: number; cpuSec: number }> {
  const dir = join(base, "runs", `${o.variant}-${o.run}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "config"), { recursive: true });
  const url = await freshDatabase(o.adminUrl, `chantal_bench_latency_${o.variant.replace(/[^a-z0-9]/g, "_")}_${o.run}`);
  await writeFile(
    join(dir, "config", "config.yaml"),
    `storage:\n  base_path: ${join(dir, "base")}\n${o.fsync ? "" : "  fsync: false\n"}database:\n  url: ${JSON.stringify(url)}\n` +
      `http:\n  max_connections_per_host: ${PER_HOST}\n` +
      `repositories:\n  - id: latency\n    type: rpm\n    upstream_url: ${o.upstream}\n    download_concurrency: ${o.concurrency}\n${o.extraRepoYaml ?? ""}`,
    { mode: 0o600 },
  );
  const env: NodeJS.ProcessEnv = { ...process.env, CHANTAL_LOG_LEVEL: "warn", ...(values["from-source"] ? { CHANTAL_FROM_SOURCE: "1" } : {}) };
  for (const k of ["CHANTAL_DATABASE_URL", "DATABASE_URL", "CHANTAL_CONFIG_DIR", "NODE_OPTIONS", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"])
    delete env[k];
  const migrate = await run(process.execPath, [...NODE_FLAGS, CLI, "--config-dir", join(dir, "config"), "db", "migrate"], env);
  if (migrate.status !== 0) throw new Error(`db migrate failed: ${migrate.stderr}`);
  o.server.reset();
  await run("sync", [], env);
  const elapsed = stopwatch();
  const profile = values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${join(base, "profiles", `${o.variant}-${o.run}`)}`] : [];
  const syncArgs = [...NODE_FLAGS, ...profile, CLI, "--config-dir", join(dir, "config"), "repo", "sync", "--repo-id", "latency", "--json"];
  const timeFile = join(dir, "time");
  const r = GNU_TIME ? await run(GNU_TIME, ["-f", "%U %S", "-o", timeFile, process.execPath, ...syncArgs], env) : await run(process.execPath, syncArgs, env);
  const wallSec = elapsed();
  const times = GNU_TIME ? (await readFile(timeFile, "utf8").catch(() => "")).trim().split("\n").pop()!.split(" ").map(Number) : [];
  const cpuSec = times.length === 2 ? times[0]! + times[1]! : Number.NaN;
  const result = JSON.parse(r.stdout || "{}") as { status?: string; error?: string; counts?: { packages_downloaded?: number } };
  if (result.status !== "success") throw new Error(`${o.variant} sync: ${result.status ?? `exit ${r.status}`} ${result.error ?? r.stderr.slice(-2000)}`);
  if (result.counts?.packages_downloaded !== COUNT) throw new Error(`${o.variant} sync downloaded ${result.counts?.packages_downloaded}, expected ${COUNT}`);
  const s = o.server.stats;
  const downloadSec = s.firstPackageAt !== null && s.lastPackageDoneAt !== null ? (s.lastPackageDoneAt - s.firstPackageAt) / 1000 : Number.NaN;
  await rm(dir, { recursive: true, force: true });
  return { wallSec, downloadSec, cpuSec };
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "dist", "bin", "main.js")))
    log("dist/ is not built: Chantal runs from the TypeScript sources (npm run build first for the shipped code)");
  const repoName = `latency-${COUNT}x${BYTES}`;
  const repoDir = join(base, "repos", repoName);
  if (!existsSync(join(repoDir, ".bench-complete"))) {
    log(`generating ${repoName} ...`);
    await rm(repoDir, { recursive: true, force: true });
    await generateRpmRepo(repoDir, COUNT, BYTES, { seedName: "blatency" });
    await writeFile(join(repoDir, ".bench-complete"), "");
  }
  await mkdir(join(base, "pg"), { recursive: true });
  const lease = await acquireEmbeddedPostgres({ basePath: join(base, "pg"), log: silentLogger() });
  const server = await startLatencyServer(join(base, "repos"));
  const h2 = values["no-h2"] || !existsSync("/usr/sbin/nginx") ? undefined : await startH2Front(server.url, join(base, "nginx"));
  const samples: Sample[] = [];
  try {
    for (let run = 1; run <= RUNS; run++) {
      const connections = Math.min(CONCURRENCY, PER_HOST);
      const ideal = (COUNT * LATENCY_MS) / 1000 / connections;
      const h1 = await syncOnce({
        variant: "http1",
        run,
        adminUrl: lease.adminUrl,
        upstream: `${server.url}${repoName}/`,
        server,
        concurrency: CONCURRENCY,
        fsync: !values["no-fsync"],
      });
      samples.push({
        variant: "http1",
        run,
        protocol: "HTTP/1.1",
        concurrency: CONCURRENCY,
        connectionsPerHost: PER_HOST,
        ...h1,
        idealSec: ideal,
        ratio: h1.downloadSec / ideal,
        maxInFlight: server.stats.maxInFlight,
        connectionsUsed: server.stats.sockets.size,
      });
      log(
        `http1 run ${run}: wall ${h1.wallSec.toFixed(2)} s, CPU ${h1.cpuSec.toFixed(2)} s, download ${h1.downloadSec.toFixed(2)} s (ideal ${ideal.toFixed(2)} s)`,
      );
      if (h2) {
        await writeFile(h2.accessLog, "");
        const r = await syncOnce({
          variant: "http2",
          run,
          adminUrl: lease.adminUrl,
          upstream: `${h2.url}${repoName}/`,
          server,
          concurrency: H2_CONCURRENCY,
          extraRepoYaml: `    proxy:\n      enabled: false\n      ca_bundle: ${h2.caFile}\n`,
          fsync: !values["no-fsync"],
        });
        const lines = (await readFile(h2.accessLog, "utf8")).split("\n").filter((l) => l.includes(".rpm"));
        samples.push({
          variant: "http2",
          run,
          protocol: "HTTP/2 (nginx, TLS)",
          concurrency: H2_CONCURRENCY,
          connectionsPerHost: PER_HOST,
          ...r,
          idealSec: ideal,
          ratio: r.downloadSec / ideal,
          maxInFlight: server.stats.maxInFlight,
          connectionsUsed: server.stats.sockets.size,
          h2Requests: lines.filter((l) => l.startsWith("HTTP/2.0 ")).length,
          otherRequests: lines.filter((l) => !l.startsWith("HTTP/2.0 ")).length,
        });
        log(`http2 run ${run}: wall ${r.wallSec.toFixed(2)} s, CPU ${r.cpuSec.toFixed(2)} s, download ${r.downloadSec.toFixed(2)} s`);
      }
    }
  } finally {
    await h2?.close();
    await server.close();
    await lease.release();
  }
  const rows = ["http1", "http2"].flatMap((v) => {
    const xs = samples.filter((s) => s.variant === v);
    if (xs.length === 0) return [];
    const s = xs[0]!;
    const dl = median(xs.map((x) => x.downloadSec));
    return [
      [
        s.protocol,
        String(s.concurrency),
        String(s.connectionsPerHost),
        String(round(median(xs.map((x) => x.wallSec)))),
        String(round(median(xs.map((x) => x.cpuSec)))),
        String(round(dl)),
        String(round(s.idealSec)),
        String(round(dl === null ? null : dl / s.idealSec)),
        String(Math.max(...xs.map((x) => x.maxInFlight))),
        String(Math.max(...xs.map((x) => x.connectionsUsed))),
        s.h2Requests !== undefined ? `${s.h2Requests} h2 / ${s.otherRequests} other` : "",
      ],
    ];
  });
  const headers = [
    "protocol",
    "concurrency",
    "per host",
    "wall s",
    "CPU s",
    "download s",
    "ideal s",
    "÷ ideal",
    "max in flight",
    "upstream conns used",
    "packages by protocol",
  ];
  log(`\n${COUNT} × ${BYTES} B, ${LATENCY_MS} ms per request; ideal = packages × latency ÷ min(concurrency, per host); median of ${RUNS}`);
  if (values.json) process.stdout.write(`${JSON.stringify({ count: COUNT, bytes: BYTES, latencyMs: LATENCY_MS, samples }, null, 2)}\n`);
  else process.stdout.write(`${table(headers, rows)}\n`);
}

await main();
