// downloadToPool under strace: the downloaded file's data is flushed (through the handle that wrote it) before its
// rename into the pool, and not at all with storage.fsync: false. Staged (a sync's packages): no fsync of its own,
// one syncfs of the pool's filesystem before the rename and one after it, both in flushAdopted().
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { repoRoot } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** fsync, syncfs and rename calls (in order) of a node process that serves one file and downloads it into a pool under `d`. */
function tracedDownload(d: string, fsync: boolean, staged = false): string[] {
  const out = join(d, "strace.out");
  const mod = (p: string) => JSON.stringify(join(repoRoot, p));
  const code = `
    const { createServer } = await import("node:http");
    const { createHash } = await import("node:crypto");
    const { downloadToPool } = await import(${mod("core/http/download.ts")});
    const { FilesystemBlobStore } = await import(${mod("core/storage/pool.ts")});
    const { setFsyncEnabled } = await import(${mod("core/storage/durable.ts")});
    setFsyncEnabled(${fsync});
    const body = Buffer.alloc(5000, 7);
    const server = createServer((req, res) => res.end(body));
    await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
    const blobs = new FilesystemBlobStore(${JSON.stringify(join(d, "pool"))}, ${JSON.stringify(join(d, "pool", ".tmp"))});
    const sha = createHash("sha256").update(body).digest("hex");
    await downloadToPool({ url: "http://127.0.0.1:" + server.address().port + "/f", label: "f", size: body.length, expected: { algo: "sha256", value: sha } }, { blobs, http: { retries: 0 }, staged: ${staged} });
    if (${staged} && ${fsync} && await blobs.has(sha)) throw new Error("a staged blob is in the pool before flushAdopted()");
    await blobs.flushAdopted();
    if (!(await blobs.has(sha))) throw new Error("not in the pool after flushAdopted()");
    server.closeAllConnections(); server.close();`;
  const r = spawnSync(
    "strace",
    [
      "-f",
      "-qq",
      "-y",
      "-e",
      "trace=fsync,fdatasync,syncfs,rename,renameat,renameat2",
      "-o",
      out,
      process.execPath,
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      code,
    ],
    { cwd: repoRoot, encoding: "utf8" },
  );
  expect(r.status, r.stderr).toBe(0);
  const calls: string[] = [];
  for (const line of readFileSync(out, "utf8").split("\n")) {
    const sync = /\b(?:fsync|fdatasync)\(\d+<([^>]+)>/.exec(line);
    if (sync?.[1]?.startsWith(d)) calls.push(`fsync ${sync[1].includes("/.tmp/") ? "temp" : sync[1]}`);
    // sync -f <pool> (a child process: strace -f): syncfs(2) of the pool's filesystem.
    const syncfs = /\bsyncfs\(\d+<([^>]+)>/.exec(line);
    if (syncfs?.[1]?.startsWith(d)) calls.push("syncfs");
    const ren = /\brename(?:at2?)?\((?:[^,]+, )?"([^"]+)", (?:[^,]+, )?"([^"]+)"/.exec(line);
    if (ren?.[1]?.startsWith(d)) calls.push("rename temp into the pool");
  }
  return calls;
}

it("the temp file is flushed once, before its rename into the pool; flushAdopted() flushes the directories made and written", () => {
  const d = mkdtempSync(join(tmpdir(), "chantal-dl-durable-"));
  dirs.push(d);
  const calls = tracedDownload(d, true);
  expect(calls.slice(0, 2)).toEqual(["fsync temp", "rename temp into the pool"]);
  // <pool> (where <aa> was made), <aa> (the rename): concurrent, in any order.
  const flushed = calls.slice(2).sort();
  expect(flushed).toHaveLength(2);
  expect(flushed[0]).toBe(`fsync ${d}/pool`);
  expect(flushed[1]).toMatch(new RegExp(`^fsync ${d}/pool/[0-9a-f]{2}$`));
});

it("storage.fsync: false: the rename alone", () => {
  const d = mkdtempSync(join(tmpdir(), "chantal-dl-durable-"));
  dirs.push(d);
  expect(tracedDownload(d, false)).toEqual(["rename temp into the pool"]);
});

it("staged: not in the pool until flushAdopted(), which flushes its data (syncfs), renames it in, flushes the directory (syncfs)", () => {
  const d = mkdtempSync(join(tmpdir(), "chantal-dl-durable-"));
  dirs.push(d);
  expect(tracedDownload(d, true, true)).toEqual(["syncfs", "rename temp into the pool", "syncfs"]);
});

it("staged with storage.fsync: false: renamed in at once, no syncfs", () => {
  const d = mkdtempSync(join(tmpdir(), "chantal-dl-durable-"));
  dirs.push(d);
  expect(tracedDownload(d, false, true)).toEqual(["rename temp into the pool"]);
});
