// Benchmark: putting N small downloads into a fresh pool of each layout (<aa>/<sha256> and <aa>/<bb>/<sha256>) through
// the pool's own download path (temp file written, adoptStaged, flushAdopted in batches of 500), alternated.
//   npx tsx bench/pool-layout.ts [--dir DIR] [--count 20000] [--bytes 2048] [--runs 2] [--no-fsync]
// DIR should be on the filesystem under test (a journaled one: see bench/README.md, "Method and hygiene").
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { setFsyncEnabled } from "../core/storage/durable.js";
import { FilesystemBlobStore } from "../core/storage/pool.js";

const { values: args } = parseArgs({
  options: {
    dir: { type: "string", default: "/tmp/chantal-bench/pool-layout" },
    count: { type: "string", default: "20000" },
    bytes: { type: "string", default: "2048" },
    runs: { type: "string", default: "2" },
    "no-fsync": { type: "boolean", default: false },
  },
});
const dir = resolve(args.dir);
const count = Number(args.count);
const bytes = Number(args.bytes);
const BATCH = 500;
setFsyncEnabled(!args["no-fsync"]);

/** One fresh pool filled with `count` blobs; seconds. "aa/bb": the pool is made to look like one made before 2026-12. */
async function fill(layout: "aa" | "aa/bb", run: number): Promise<number> {
  const root = join(dir, `${layout.replace("/", "-")}-${run}`);
  rmSync(root, { recursive: true, force: true });
  if (layout === "aa/bb") mkdirSync(join(root, "pool", "00", "00"), { recursive: true });
  const store = new FilesystemBlobStore(join(root, "pool"), join(root, "pool", ".tmp"));
  await store.ensureTempDir();
  if (store.layout !== layout) throw new Error(`the pool under ${root} has layout ${store.layout}, not ${layout}`);
  const data = Buffer.alloc(bytes);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    data.writeUInt32BE(i, 0);
    data.write(layout, 4);
    const sha = createHash("sha256").update(data).digest("hex");
    const temp = store.tempPath(sha);
    const fd = openSync(temp, "w", 0o644);
    writeSync(fd, data);
    closeSync(fd);
    await store.adoptStaged(temp, sha);
    if ((i + 1) % BATCH === 0) await store.flushAdopted();
  }
  await store.flushAdopted();
  return (performance.now() - started) / 1000;
}

const results: Record<string, number[]> = { aa: [], "aa/bb": [] };
for (let run = 1; run <= Number(args.runs); run++) {
  for (const layout of ["aa/bb", "aa"] as const) {
    const sec = await fill(layout, run);
    results[layout]!.push(sec);
    process.stderr.write(`[pool-layout] run ${run} ${layout.padEnd(5)} ${count} × ${bytes} B: ${sec.toFixed(2)} s\n`);
  }
}
rmSync(dir, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const [nested, flat] = [median(results["aa/bb"]!), median(results.aa!)];
process.stdout.write(
  `pool layout, ${count} × ${bytes} B into a fresh pool under ${dir} (fsync ${args["no-fsync"] ? "off" : "on"}), median of ${args.runs}:\n` +
    `  <aa>/<bb>/<sha256>: ${nested.toFixed(2)} s\n  <aa>/<sha256>:      ${flat.toFixed(2)} s  (${(flat / nested).toFixed(2)} × the old layout)\n`,
);
