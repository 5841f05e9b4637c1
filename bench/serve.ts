// Static file server for the benchmark when nginx is not installed: `tsx bench/serve.ts <root> [port] [--stats]`.
// Runs in its own process (so serving does not compete with the benchmark's event loop), listens on
// 127.0.0.1 only, keeps connections alive, answers GET/HEAD with Content-Length and single Range requests,
// and prints one line "listening http://127.0.0.1:<port>/" on stdout once it accepts connections.
// --stats: it counts its connections (open now, most open at once, accepted) and requests, and serves them as JSON
// on a second port (its own, so asking does not count), printed as "stats http://127.0.0.1:<port>/"; /reset zeroes them.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join, resolve, sep } from "node:path";

const positional = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const root = resolve(positional[0] ?? ".");
const wantedPort = Number(positional[1] ?? 0);
const withStats = process.argv.includes("--stats");
const stats = { open: 0, peakOpen: 0, accepted: 0, requests: 0 };

function contentType(path: string): string {
  if (path.endsWith(".rpm")) return "application/x-rpm";
  if (path.endsWith(".xml")) return "application/xml";
  return "application/octet-stream";
}

const server = createServer(async (req, res) => {
  stats.requests++;
  try {
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405, { allow: "GET, HEAD" }).end();
    const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    const file = resolve(join(root, pathname));
    if (file !== root && !file.startsWith(root + sep)) return void res.writeHead(403).end();
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return void res.writeHead(404, { "content-length": 0 }).end();
    const headers: Record<string, string | number> = { "content-type": contentType(file), "accept-ranges": "bytes", "last-modified": info.mtime.toUTCString() };
    let start = 0;
    let end = info.size - 1;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    if (range && (range[1] || range[2])) {
      if (range[1]) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(end, Number(range[2]));
      } else {
        start = Math.max(0, info.size - Number(range[2]));
      }
      if (start > end || start >= info.size) return void res.writeHead(416, { "content-range": `bytes */${info.size}` }).end();
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${info.size}`;
    }
    headers["content-length"] = info.size === 0 ? 0 : end - start + 1;
    res.writeHead(status, headers);
    if (req.method === "HEAD" || info.size === 0) return void res.end();
    const stream = createReadStream(file, { start, end, highWaterMark: 256 * 1024 });
    stream.on("error", () => res.destroy());
    stream.pipe(res);
  } catch {
    if (!res.headersSent) res.writeHead(400).end();
    else res.destroy();
  }
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 70_000;
server.maxRequestsPerSocket = 0;

server.on("connection", (socket) => {
  stats.accepted++;
  stats.peakOpen = Math.max(stats.peakOpen, ++stats.open);
  socket.once("close", () => stats.open--);
});

const portOf = (s: Server, fallback: number) => {
  const addr = s.address();
  return typeof addr === "object" && addr ? addr.port : fallback;
};

const statsServer = createServer((req, res) => {
  if (req.url === "/reset") Object.assign(stats, { peakOpen: stats.open, accepted: 0, requests: 0 });
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats));
});

server.listen(wantedPort, "127.0.0.1", () => {
  process.stdout.write(`listening http://127.0.0.1:${portOf(server, wantedPort)}/\n`);
  if (withStats) statsServer.listen(0, "127.0.0.1", () => process.stdout.write(`stats http://127.0.0.1:${portOf(statsServer, 0)}/\n`));
});

const stop = () => {
  statsServer.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
