// Static file server for the benchmark when nginx is not installed: `tsx bench/serve.ts <root> [port]`.
// Runs in its own process (so serving does not compete with the benchmark's event loop), listens on
// 127.0.0.1 only, keeps connections alive, answers GET/HEAD with Content-Length and single Range requests,
// and prints one line "listening http://127.0.0.1:<port>/" on stdout once it accepts connections.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { join, resolve, sep } from "node:path";

const root = resolve(process.argv[2] ?? ".");
const wantedPort = Number(process.argv[3] ?? 0);

function contentType(path: string): string {
  if (path.endsWith(".rpm")) return "application/x-rpm";
  if (path.endsWith(".xml")) return "application/xml";
  return "application/octet-stream";
}

const server = createServer(async (req, res) => {
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

server.listen(wantedPort, "127.0.0.1", () => {
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : wantedPort;
  process.stdout.write(`listening http://127.0.0.1:${port}/\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
