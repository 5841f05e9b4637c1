// Quickstart: a real APT sync with the real CLI on the embedded database.
// Upstream: $CHANTAL_QUICKSTART_URL (a Debian or Ubuntu mirror you name, e.g. http://mirror.example.org/debian),
// else a generated, signed 40-package suite served on 127.0.0.1 (works offline and in CI).
import { spawn } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join, normalize, resolve } from "node:path";
import { generateAptSuite, signAptSuite } from "../../test/fixtures/apt-repo-generator.js";

const root = resolve(process.env.CHANTAL_QUICKSTART_DIR ?? "data/quickstart");
const cli = resolve("bin/chantal-run.js");
const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

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

interface Upstream {
  url: string;
  dist: string;
  keyring?: string;
  server?: Server;
}

async function demoUpstream(): Promise<Upstream> {
  const demo = join(root, "upstream");
  const keyDir = join(root, "demo-key");
  if (!existsSync(join(demo, "dists", "demo", "InRelease"))) {
    const suite = await generateAptSuite(demo, 40, 20_000, { dist: "demo", seedName: "demo" });
    await signAptSuite(suite, keyDir);
  }
  const { server, url } = await serveDirectory(demo);
  return { url, dist: "demo", keyring: join(keyDir, "demo-archive-keyring.gpg"), server };
}

function configuredUpstream(url: string): Upstream {
  const keyring = process.env.CHANTAL_QUICKSTART_KEYRING ?? (existsSync(DEBIAN_KEYRING) ? DEBIAN_KEYRING : undefined);
  if (!keyring) process.stdout.write(`note: no keyring (set CHANTAL_QUICKSTART_KEYRING): the suite's signature will not be verified\n`);
  return { url, dist: process.env.CHANTAL_QUICKSTART_DIST ?? "bookworm-updates", ...(keyring ? { keyring } : {}) };
}

const upstream = process.env.CHANTAL_QUICKSTART_URL ? configuredUpstream(process.env.CHANTAL_QUICKSTART_URL) : await demoUpstream();
const configDir = join(root, "config");
await mkdir(configDir, { recursive: true });
await writeFile(
  join(configDir, "config.yaml"),
  [
    "# written by examples/quickstart/run.ts",
    "storage:",
    `  base_path: ${root}`,
    "repositories:",
    "  - id: quickstart",
    "    type: apt",
    `    upstream_url: ${upstream.url}`,
    "    apt:",
    `      distribution: ${upstream.dist}`,
    "      components: [main]",
    "      architectures: [amd64]",
    ...(upstream.keyring ? ["    verify:", `      keyring: ${upstream.keyring}`] : []),
    "",
  ].join("\n"),
);
let code = await chantal(configDir, "repo", "sync", "--repo-id", "quickstart");
if (code === 0) code = await chantal(configDir, "repo", "sync", "--repo-id", "quickstart");
if (code === 0) code = await chantal(configDir, "repo", "list");
upstream.server?.close();
const latest = join(root, "published", "quickstart", "latest");
if (code === 0) {
  process.stdout.write(
    `\nPublished tree: ${latest}\napt-get reads it with this sources.list line:\n  deb [${upstream.keyring ? `signed-by=${upstream.keyring}` : "trusted=yes"}] file:${latest} ${upstream.dist} main\n`,
  );
}
process.exitCode = code;
