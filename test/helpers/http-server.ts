// A real node:http static file server on 127.0.0.1 for tests, with Range support and a
// fault plan (503/429 with Retry-After, resets, truncated or corrupt bodies, 404, slowness,
// ignored Range). close() destroys open sockets so a test never hangs on a keep-alive.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { resolve, sep } from "node:path";

/** What to do to one request. Fields combine (e.g. ignoreRange + resetAfterBytes). */
export interface Fault {
  /** How many requests of this path the fault applies to (default 1; Infinity = always). */
  times?: number;
  /** Answer with this status and a short text body instead of the file (503, 429, 404, ...). */
  status?: number;
  /** Retry-After header value (seconds or an HTTP date) sent with `status`. */
  retryAfter?: number | string;
  /** Send headers and this many body bytes, then reset the connection (ECONNRESET on the client). */
  resetAfterBytes?: number;
  /** Declare the full Content-Length, send this many bytes, then close the connection cleanly. */
  truncateAfterBytes?: number;
  /** Flip the bits of some body bytes (checksum mismatch, same size). */
  corrupt?: boolean;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send the body in chunks of this size with chunkDelayMs between them (a slow server). */
  chunkBytes?: number;
  chunkDelayMs?: number;
  /** Redirect to this location (absolute URL or path) with redirectStatus (default 302). */
  redirectTo?: string;
  redirectStatus?: number;
  /** Answer a Range request with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Do not advertise Accept-Ranges (and ignore Range). */
  noRanges?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/**
 * Faults keyed by URL path ("/Packages/a.rpm"), consumed in order (each for its `times`
 * requests), or a function of the request and its 1-based count for that path.
 */
export type FaultPlan = Record<string, Fault | Fault[]> | ((req: RecordedRequest, nth: number) => Fault | undefined);

export interface StaticServer {
  /** http://127.0.0.1:<port> */
  url: string;
  requests: RecordedRequest[];
  /** Requests seen for one path. */
  requestsFor(path: string): RecordedRequest[];
  /** The most requests in flight at once (received, response not yet finished), and the most open connections at once. */
  peak: { inFlight: number; connections: number };
  close(): Promise<void>;
}

/** Requests in flight now and at most, counted over several servers (the total across hosts). */
export interface InFlightCounter {
  now: number;
  peak: number;
}

export async function startStaticServer(opts: { root: string; faults?: FaultPlan; shared?: InFlightCounter }): Promise<StaticServer> {
  const root = resolve(opts.root);
  const requests: RecordedRequest[] = [];
  const countByPath = new Map<string, number>();
  const sockets = new Set<Socket>();
  const pickFault = faultPicker(opts.faults);
  const peak = { inFlight: 0, connections: 0 };
  let inFlight = 0;

  const server = createServer((req, res) => {
    inFlight++;
    peak.inFlight = Math.max(peak.inFlight, inFlight);
    const shared = opts.shared;
    if (shared) shared.peak = Math.max(shared.peak, ++shared.now);
    res.once("close", () => {
      inFlight--;
      if (shared) shared.now--;
    });
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const recorded: RecordedRequest = { method: req.method ?? "GET", path, headers: req.headers };
    requests.push(recorded);
    const nth = (countByPath.get(path) ?? 0) + 1;
    countByPath.set(path, nth);
    handle(root, recorded, pickFault(recorded, nth), req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    peak.connections = Math.max(peak.connections, sockets.size);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsFor: (path) => requests.filter((r) => r.path === path),
    peak,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** Turn a FaultPlan into "which fault applies to the nth request of this path". */
function faultPicker(plan: FaultPlan | undefined): (req: RecordedRequest, nth: number) => Fault | undefined {
  if (!plan) return () => undefined;
  if (typeof plan === "function") return plan;
  return (req, nth) => {
    const entry = plan[req.path];
    if (!entry) return undefined;
    let seen = 0;
    for (const fault of Array.isArray(entry) ? entry : [entry]) {
      seen += fault.times ?? 1;
      if (nth <= seen) return fault;
    }
    return undefined;
  };
}

async function handle(root: string, req: RecordedRequest, fault: Fault | undefined, raw: IncomingMessage, res: ServerResponse): Promise<void> {
  if (fault?.delayMs) await delay(fault.delayMs);
  if (fault?.status !== undefined) return sendStatus(res, fault.status, fault.retryAfter);
  if (fault?.redirectTo !== undefined) {
    res.writeHead(fault.redirectStatus ?? 302, { location: fault.redirectTo, "content-length": 0 });
    return void res.end();
  }

  const file = resolve(root, "." + req.path);
  if (file !== root && !file.startsWith(root + sep)) return sendStatus(res, 403);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return sendStatus(res, 404);

  const ranges = !fault?.noRanges && !fault?.ignoreRange;
  const range = ranges ? parseRange(raw.headers.range, info.size) : undefined;
  if (range === "unsatisfiable") {
    res.writeHead(416, { "content-range": `bytes */${info.size}`, "content-length": 0 });
    return void res.end();
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? info.size - 1;
  const headers: Record<string, string | number> = { "content-type": "application/octet-stream", "content-length": end - start + 1 };
  if (!fault?.noRanges) headers["accept-ranges"] = "bytes";
  if (range) headers["content-range"] = `bytes ${start}-${end}/${info.size}`;
  res.writeHead(range ? 206 : 200, headers);
  // An empty file has no byte range to read (createReadStream would read with end -1).
  if (req.method === "HEAD" || info.size === 0) return void res.end();

  if (!needsByteControl(fault)) {
    createReadStream(file, { start, end }).pipe(res);
    return;
  }
  let body: Buffer = (await readFile(file)).subarray(start, end + 1);
  if (fault?.corrupt) body = corrupt(body);
  await sendBody(res, body, fault!);
}

function needsByteControl(fault: Fault | undefined): boolean {
  return !!fault && (fault.corrupt || fault.resetAfterBytes !== undefined || fault.truncateAfterBytes !== undefined || fault.chunkBytes !== undefined);
}

async function sendBody(res: ServerResponse, body: Buffer, fault: Fault): Promise<void> {
  const cut = fault.resetAfterBytes ?? fault.truncateAfterBytes;
  const toSend = cut !== undefined ? body.subarray(0, Math.min(cut, body.length)) : body;
  const step = fault.chunkBytes ?? toSend.length;
  for (let off = 0; off < toSend.length; off += Math.max(1, step)) {
    await write(res, toSend.subarray(off, off + Math.max(1, step)));
    if (fault.chunkDelayMs && off + step < toSend.length) await delay(fault.chunkDelayMs);
  }
  if (fault.resetAfterBytes !== undefined) {
    // Let the bytes reach the client before the RST, so it really has a partial body.
    await delay(50);
    res.socket?.resetAndDestroy();
  } else if (fault.truncateAfterBytes !== undefined) {
    await delay(20);
    res.socket?.end();
    res.socket?.destroySoon();
  } else {
    res.end();
  }
}

function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((ok) => {
    if (chunk.length === 0) return ok();
    res.write(chunk, () => ok());
  });
}

function sendStatus(res: ServerResponse, status: number, retryAfter?: number | string): void {
  const body = `status ${status}\n`;
  const headers: Record<string, string | number> = { "content-type": "text/plain", "content-length": Buffer.byteLength(body) };
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
  res.writeHead(status, headers).end(body);
}

/** Parse a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; multi-ranges are served whole. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? "");
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

function corrupt(body: Buffer): Buffer {
  const out = Buffer.from(body);
  for (let i = 0; i < out.length; i += Math.max(1, Math.floor(out.length / 8))) out[i] = out[i]! ^ 0xff;
  return out;
}

function delay(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}
