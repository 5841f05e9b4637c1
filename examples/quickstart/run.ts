// Quickstart: a real sync with the real CLI on the embedded database.
// Upstream: $CHANTAL_QUICKSTART_URL (an RPM repository you choose), else a generated demo repository served on 127.0.0.1.
import { spawn } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join, normalize, resolve } from "node:path";
import { generateRpmRepo } from "../../bench/rpm-repo-generator.js";

const root = resolve(process.env.CHANTAL_QUICKSTART_DIR ?? "data/quickstart");
const cli = resolve("bin/chantal-run.js");

function serveDirectory(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = join(dir, path);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": info.size });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` })));
}

/** Asynchronous on purpose: the demo upstream is served from this very process. */
function chantal(configDir: string, ...args: string[]): Promise<number> {
  process.stdout.write(`\n$ chantal-run --config-dir ${configDir} ${args.join(" ")}\n`);
  const child = spawn(process.execPath, [cli, "--config-dir", configDir, ...args], { stdio: "inherit" });
  return new Promise((resolve) => child.on("close", (code) => resolve(code ?? 1)));
}

let server: Server | undefined;
let upstream = process.env.CHANTAL_QUICKSTART_URL;
if (!upstream) {
  const demo = join(root, "upstream");
  if (!existsSync(join(demo, "repodata", "repomd.xml"))) await generateRpmRepo(demo, 40, 20_000, { seedName: "demo" });
  ({ server, url: upstream } = await serveDirectory(demo));
}
const configDir = join(root, "config");
await mkdir(configDir, { recursive: true });
await writeFile(
  join(configDir, "config.yaml"),
  `# written by examples/quickstart/run.ts\nstorage:\n  base_path: ${root}\nrepositories:\n  - id: quickstart\n    type: rpm\n    upstream_url: ${upstream}\n`,
);
let code = await chantal(configDir, "repo", "sync", "--repo-id", "quickstart");
if (code === 0) code = await chantal(configDir, "repo", "sync", "--repo-id", "quickstart");
if (code === 0) code = await chantal(configDir, "repo", "list");
server?.close();
if (code === 0) process.stdout.write(`\nPublished tree: ${join(root, "published", "quickstart", "latest")}\nPoint dnf at it with: dnf --repofrompath=quickstart,file://${join(root, "published", "quickstart", "latest")} --repo=quickstart list --available\n`);
process.exitCode = code;
