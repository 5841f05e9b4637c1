// Benchmark: how fast one JavaScript thread can fetch N small files at all, beside curl ×8 and Chantal's own download
// path (issue 19 point 4). Against nginx on 127.0.0.1, alternated per run, each after a sync and a quiet pause:
//   curl-x8        xargs -P8 curl -K (8 processes, one keep-alive connection each), files into one directory;
//   bare-undici    one thread, undici request() over 8 connections, 16 requests at once, each body hashed, written
//                  synchronously and renamed into <aa>/ (the least a verified pool download does);
//   downloadMany   core/http/download.ts with a pool (staged adopts, a flush every 500), no database.
//   npx tsx bench/download-floor.ts [--dir DIR] [--count 20000] [--bytes 2048] [--runs 2] [--quiet-sec 15]
// DIR should be on the filesystem under test (a journaled one: bench/README.md, "Method and hygiene").
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";
import { downloadMany, type DownloadJob } from "../core/http/download.js";
import { FilesystemBlobStore } from "../core/storage/pool.js";
import { median, round, startNginx, stopwatch, table } from "./lib.js";

const { values: args } = parseArgs({
  options: {
    dir: { type: "string", default: "/tmp/chantal-bench/download-floor" },
    count: { type: "string", default: "20000" },
    bytes: { type: "string", default: "2048" },
    runs: { type: "string", default: "2" },
    "quiet-sec": { type: "string", default: "15" },
  },
});
const dir = resolve(args.dir);
const count = Number(args.count);
const bytes = Number(args.bytes);
const CONNECTIONS = 8;

/** The served files, `f<i>` under 100 directories, and their sha256. */
function generate(): string[] {
  const src = join(dir, "src");
  rmSync(src, { recursive: true, force: true });
  const sums: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = randomBytes(bytes);
    mkdirSync(join(src, String(i % 100)), { recursive: true });
    writeFileSync(join(src, String(i % 100), `f${i}`), data);
    sums.push(createHash("sha256").update(data).digest("hex"));
  }
  return sums;
}

const pathOf = (i: number) => `${i % 100}/f${i}`;

async function curlX8(base: string, out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  const parts = Array.from({ length: CONNECTIONS }, (_, p) => join(out, `part${p}.curlrc`));
  parts.forEach((file, p) => {
    let text = "";
    for (let i = p; i < count; i += CONNECTIONS) text += `url = "${base}${pathOf(i)}"\noutput = "${join(out, `${i}`)}"\n`;
    writeFileSync(file, text);
  });
  writeFileSync(join(out, "parts"), `${parts.join("\n")}\n`);
  const child = spawn("xargs", ["-a", join(out, "parts"), `-P${CONNECTIONS}`, "-n1", "curl", "--silent", "--show-error", "--fail", "-K"], { stdio: "inherit" });
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  if (code !== 0) throw new Error(`xargs curl exited with ${code}`);
}

async function bareUndici(base: string, out: string): Promise<void> {
  for (let i = 0; i < 256; i++) mkdirSync(join(out, i.toString(16).padStart(2, "0")), { recursive: true });
  const agent = new Agent({ connections: CONNECTIONS, pipelining: 1 });
  let next = 0;
  const one = async (i: number) => {
    const res = await request(`${base}${pathOf(i)}`, { dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`${pathOf(i)}: HTTP ${res.statusCode}`);
    const hash = createHash("sha256");
    const chunks: Buffer[] = [];
    for await (const c of res.body as AsyncIterable<Buffer>) {
      hash.update(c);
      chunks.push(c);
    }
    const sha = hash.digest("hex");
    const temp = join(out, `t${i}`);
    const fd = openSync(temp, "w", 0o644);
    writeSync(fd, Buffer.concat(chunks));
    closeSync(fd);
    renameSync(temp, join(out, sha.slice(0, 2), sha));
  };
  await Promise.all(
    Array.from({ length: CONNECTIONS * 2 }, async () => {
      while (next < count) await one(next++);
    }),
  );
  await agent.close();
}

async function chantalDownloadMany(base: string, out: string, sums: string[]): Promise<void> {
  const store = new FilesystemBlobStore(join(out, "pool"), join(out, "pool", ".tmp"));
  await store.ensureTempDir();
  const jobs: DownloadJob[] = sums.map((value, i) => ({ url: `${base}${pathOf(i)}`, expected: { algo: "sha256", value }, size: bytes, label: pathOf(i) }));
  let done = 0;
  await downloadMany(jobs, {
    blobs: store,
    http: {},
    concurrency: CONNECTIONS,
    discardResults: true,
    staged: true,
    onFileDone: () => {
      if (++done % 500 === 0) void store.flushAdopted();
    },
  });
  await store.flushAdopted();
}

async function main(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`[download-floor] generating ${count} × ${bytes} B under ${dir}/src\n`);
  const sums = generate();
  const server = await startNginx(join(dir, "src"), join(dir, "nginx"));
  const tools: Record<string, (out: string) => Promise<void>> = {
    "curl-x8": (out) => curlX8(server.url, out),
    "bare-undici": (out) => bareUndici(server.url, out),
    downloadMany: (out) => chantalDownloadMany(server.url, out, sums),
  };
  const samples = new Map<string, number[]>(Object.keys(tools).map((t) => [t, []]));
  try {
    for (let run = 1; run <= Number(args.runs); run++) {
      for (const [tool, fn] of Object.entries(tools)) {
        const out = join(dir, "out", `${tool}-${run}`);
        rmSync(out, { recursive: true, force: true });
        spawnSync("sync");
        await sleep(Number(args["quiet-sec"]) * 1000);
        const elapsed = stopwatch();
        await fn(out);
        const sec = elapsed();
        samples.get(tool)!.push(sec);
        process.stderr.write(`[download-floor] ${tool} run ${run}: ${sec.toFixed(2)} s\n`);
      }
    }
  } finally {
    await server.stop();
    rmSync(join(dir, "out"), { recursive: true, force: true });
  }
  const curl = median(samples.get("curl-x8")!);
  const rows = [...samples].map(([tool, xs]) => {
    const m = median(xs);
    return [tool, String(round(m)), xs.map((x) => x.toFixed(2)).join(", "), m !== null && curl ? `${(m / curl).toFixed(2)} ×` : "–"];
  });
  process.stdout.write(`${count} × ${bytes} B from nginx on 127.0.0.1, ${CONNECTIONS} connections, median of ${args.runs}\n`);
  process.stdout.write(`${table(["tool", "median s", "runs", "÷ curl-x8"], rows)}\n`);
}

await main();
