// A real forward proxy on 127.0.0.1 for tests: plain HTTP forwarding (absolute-URI requests) and CONNECT
// tunnelling, optional Basic auth, optionally served over TLS (an https:// proxy). It records every request it
// sees and refuses any target that is not a loopback address, so a test can never reach out.
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import type { Duplex } from "node:stream";

export interface ProxyRequest {
  /** GET/HEAD/... for forwarded requests, CONNECT for tunnels. */
  method: string;
  /** The absolute URL (forwarding) or host:port (CONNECT). */
  target: string;
  headers: IncomingHttpHeaders;
  /** Credentials decoded from Proxy-Authorization, when sent. */
  credentials?: { username: string; password: string };
  /** Whether the proxy let it through. */
  allowed: boolean;
}

export interface ProxyServerOptions {
  /** Demand these credentials (Basic); without them every request is let through. */
  auth?: { username: string; password: string };
  /** Serve the proxy itself over TLS (an https:// proxy). */
  tls?: { key: string; cert: string };
}

export interface ProxyServer {
  /** http://127.0.0.1:<port> (https:// with tls), no credentials. */
  url: string;
  port: number;
  requests: ProxyRequest[];
  /** Forget what was recorded. */
  reset(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = ["proxy-authorization", "proxy-connection", "connection", "keep-alive", "te", "trailer", "upgrade", "proxy-authenticate"];

export function decodeBasic(header: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? "");
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** host:port of a CONNECT target, accepting [v6]:port. */
function splitHostPort(target: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  if (!m) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

export async function startProxyServer(opts: ProxyServerOptions = {}): Promise<ProxyServer> {
  const requests: ProxyRequest[] = [];
  const sockets = new Set<Socket | Duplex>();
  const track = (s: Socket | Duplex) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };

  const authorize = (headers: IncomingHttpHeaders): { allowed: boolean; credentials?: { username: string; password: string } } => {
    const credentials = decodeBasic(headers["proxy-authorization"]);
    const allowed = !opts.auth || (credentials?.username === opts.auth.username && credentials.password === opts.auth.password);
    return { allowed, ...(credentials ? { credentials } : {}) };
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? "";
    const { allowed, credentials } = authorize(req.headers);
    requests.push({ method: req.method ?? "GET", target, headers: req.headers, allowed, ...(credentials ? { credentials } : {}) });
    if (!allowed) {
      res.writeHead(407, { "proxy-authenticate": 'Basic realm="test proxy"', "content-type": "text/plain", "content-length": 15 }).end("auth required\r\n");
      return;
    }
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      res.writeHead(400).end("absolute URI required\n");
      return;
    }
    if (url.protocol !== "http:" || !isLoopback(url.hostname)) {
      res.writeHead(403).end("only http:// targets on loopback\n");
      return;
    }
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const upstream = httpRequest(
      { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80), path: url.pathname + url.search, method: req.method, headers },
      (up) => {
        const out = { ...up.headers };
        for (const h of HOP_BY_HOP) delete out[h];
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`upstream error: ${err.message}\n`);
      else res.destroy();
    });
    req.pipe(upstream);
  };

  const onConnect = (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    client.on("error", () => undefined);
    const target = req.url ?? "";
    const { allowed, credentials } = authorize(req.headers);
    requests.push({ method: "CONNECT", target, headers: req.headers, allowed, ...(credentials ? { credentials } : {}) });
    if (!allowed) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test proxy"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const hp = splitHostPort(target);
    if (!hp || !isLoopback(hp.host)) {
      client.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const upstream = netConnect(hp.port, hp.host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.on("error", () => {
      if (client.writable) client.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    });
  };

  const server: Server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, onRequest) : createHttpServer(onRequest);
  server.on("connect", onConnect);
  server.on(opts.tls ? "secureConnection" : "connection", (s: Socket) => track(s));
  server.on("connection", (s: Socket) => track(s));
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    requests,
    reset: () => void requests.splice(0),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

export interface TcpRelay {
  /** host:port as it goes in a URL ([::1]:port for IPv6). */
  hostPort: string;
  port: number;
  close(): Promise<void>;
}

/** Listen on `host` (e.g. ::1) and relay every connection to 127.0.0.1:`targetPort`: an upstream reachable over IPv6. */
export async function startTcpRelay(host: string, targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const server = createNetServer((client) => {
    const up = netConnect(targetPort, "127.0.0.1");
    for (const s of [client, up]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    hostPort: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
