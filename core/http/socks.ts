// SOCKS5 proxies (RFC 1928) with username/password (RFC 1929): an undici Agent whose connect opens a tunnel through the
// proxy (socks5h: the proxy resolves the name; socks5: Chantal does), then TLS to the upstream inside it.
import { lookup } from "node:dns/promises";
import { connect as netConnect, isIP, type Socket } from "node:net";
import { Agent, buildConnector } from "undici";
import { ProxyError } from "./client.js";
import { displayProxy, type ProxyEndpoint } from "./proxy.js";
import type { TlsOptions } from "./tls.js";

/** A SOCKS5 handshake that did not succeed; `kind` says whose fault, `reply` is the proxy's RFC 1928 reply code. */
export class SocksError extends Error {
  constructor(
    message: string,
    readonly kind: "auth-required" | "auth-failed" | "no-method" | "refused" | "resolve" | "protocol",
    readonly reply?: number,
  ) {
    super(message);
    this.name = "SocksError";
  }
}

/** RFC 1928 section 6 reply codes. */
const REPLIES: Record<number, string> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

/** Replies worth another attempt: the proxy or the network, not the proxy's rules or a protocol mismatch. */
export const RETRYABLE_SOCKS_REPLIES = new Set([1, 3, 4, 5, 6]);

export interface SocksTarget {
  host: string;
  port: number;
}

/** Reads exactly n bytes at a time from a socket during the handshake. */
class HandshakeReader {
  #buf = Buffer.alloc(0);
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  #failed: Error | undefined;
  readonly #onData = (chunk: Buffer) => {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    this.#pump();
  };
  readonly #onEnd = () => this.#fail(new SocksError("the proxy closed the connection during the SOCKS5 handshake", "protocol"));
  readonly #onError = (err: Error) => this.#fail(err);

  constructor(private readonly socket: Socket) {
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onError);
  }

  read(n: number): Promise<Buffer> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#pump();
    });
  }

  #pump(): void {
    const w = this.#want;
    if (!w || this.#buf.length < w.n) return;
    this.#want = undefined;
    const out = this.#buf.subarray(0, w.n);
    this.#buf = this.#buf.subarray(w.n);
    w.resolve(out);
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    const w = this.#want;
    this.#want = undefined;
    w?.reject(this.#failed);
  }

  /** Hands the socket over: any byte past the handshake goes back to the stream. */
  detach(): void {
    this.socket.off("data", this.#onData);
    this.socket.off("end", this.#onEnd);
    this.socket.off("close", this.#onEnd);
    this.socket.off("error", this.#onError);
    if (this.#buf.length > 0) this.socket.unshift(this.#buf);
  }
}

/** RFC 1928 DST.ADDR: an IPv4 or IPv6 address, else a name. */
export function addressBytes(host: string): { atyp: number; bytes: Buffer } {
  const family = isIP(host);
  if (family === 4) return { atyp: 1, bytes: Buffer.from(host.split(".").map(Number)) };
  if (family === 6) {
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes its two groups, then "::" expands to the missing zero groups.
    const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
    const hex = v4
      ? host.slice(0, v4.index) +
        [
          [1, 2],
          [3, 4],
        ]
          .map(([a, b]) => ((Number(v4[a!]) << 8) | Number(v4[b!])).toString(16))
          .join(":")
      : host;
    const [head = "", tail] = hex.split("::");
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
    const bytes = Buffer.alloc(16);
    groups.forEach((g, i) => bytes.writeUInt16BE(Number.parseInt(g, 16), i * 2));
    return { atyp: 4, bytes };
  }
  const name = Buffer.from(host, "utf8");
  if (name.length > 255) throw new SocksError(`host name ${host} is too long for SOCKS5 (255 bytes at most)`, "protocol");
  return { atyp: 3, bytes: Buffer.concat([Buffer.from([name.length]), name]) };
}

/**
 * The SOCKS5 handshake on a connected socket: method negotiation, RFC 1929 authentication when credentials are given,
 * CONNECT to the target (a name when remoteDns, else an address resolved here). Resolves once the tunnel is open.
 */
export async function socksHandshake(
  socket: Socket,
  target: SocksTarget,
  proxy: Pick<ProxyEndpoint, "username" | "password">,
  remoteDns: boolean,
): Promise<void> {
  const reader = new HandshakeReader(socket);
  try {
    const withAuth = proxy.username !== undefined;
    socket.write(Buffer.from(withAuth ? [5, 2, 0, 2] : [5, 1, 0]));
    const [version, method] = await reader.read(2);
    if (version !== 5) throw new SocksError(`not a SOCKS5 proxy (it answered version ${version})`, "protocol");
    if (method === 0xff)
      throw withAuth
        ? new SocksError("the SOCKS5 proxy accepts none of the offered methods (no authentication, username/password)", "no-method")
        : new SocksError("the SOCKS5 proxy requires authentication", "auth-required");
    if (method === 2) {
      if (!withAuth) throw new SocksError("the SOCKS5 proxy asked for username/password authentication, which was not offered", "protocol");
      const user = Buffer.from(proxy.username ?? "", "utf8");
      const pass = Buffer.from(proxy.password ?? "", "utf8");
      socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]));
      const [, status] = await reader.read(2);
      if (status !== 0) throw new SocksError("the SOCKS5 proxy rejected the username/password (RFC 1929)", "auth-failed");
    } else if (method !== 0) {
      throw new SocksError(`the SOCKS5 proxy chose authentication method ${method}, which was not offered`, "protocol");
    }
    let host = target.host.replace(/^\[(.*)\]$/, "$1");
    if (!remoteDns && isIP(host) === 0) {
      const name = host;
      host = await lookup(name).then(
        (a) => a.address,
        (err: NodeJS.ErrnoException) => {
          throw new SocksError(`cannot resolve ${name} here (${err.code ?? err.message}; socks5h:// lets the proxy resolve it)`, "resolve");
        },
      );
    }
    const { atyp, bytes } = addressBytes(host);
    const port = Buffer.alloc(2);
    port.writeUInt16BE(target.port);
    socket.write(Buffer.concat([Buffer.from([5, 1, 0, atyp]), bytes, port]));
    const [rv, reply, , boundType] = await reader.read(4);
    if (rv !== 5) throw new SocksError(`not a SOCKS5 proxy (its CONNECT reply has version ${rv})`, "protocol");
    if (reply !== 0) {
      const what = REPLIES[reply ?? -1] ?? `reply ${reply}`;
      throw new SocksError(`the SOCKS5 proxy could not connect to ${target.host}:${target.port}: ${what}`, "refused", reply);
    }
    // The bound address and port that follow are of no use here, but must be read past.
    const boundLength = boundType === 1 ? 4 : boundType === 4 ? 16 : boundType === 3 ? (await reader.read(1))[0]! : -1;
    if (boundLength < 0) throw new SocksError(`the SOCKS5 proxy answered an unknown address type ${boundType}`, "protocol");
    await reader.read(boundLength + 2);
  } finally {
    reader.detach();
  }
}

export interface SocksAgentOptions {
  proxy: ProxyEndpoint;
  /** TLS to https:// upstreams, inside the tunnel. */
  upstreamTls: TlsOptions;
  /** Per origin (undefined: no cap). */
  connections?: number;
  keepAliveTimeoutMs: number;
  /** For the TCP connection to the proxy and the whole handshake (default 10 s, as undici's connect). */
  timeoutMs?: number;
}

/** An Agent whose every connection is a SOCKS5 tunnel: plain HTTP over it for http://, TLS to the upstream for https://. */
export function socksAgent(opts: SocksAgentOptions): Agent {
  const proxyUrl = new URL(opts.proxy.url);
  const remoteDns = proxyUrl.protocol === "socks5h:";
  const proxyHost = proxyUrl.hostname.replace(/^\[(.*)\]$/, "$1");
  const proxyPort = proxyUrl.port ? Number(proxyUrl.port) : 1080;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tlsUpgrade = buildConnector({ ...opts.upstreamTls, timeout: timeoutMs });
  const connect: buildConnector.connector = (target, callback) => {
    const port = target.port ? Number(target.port) : target.protocol === "https:" ? 443 : 80;
    const socket = netConnect({ host: proxyHost, port: proxyPort });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const timer = setTimeout(
      () => socket.destroy(new SocksError(`the SOCKS5 proxy did not open the tunnel within ${timeoutMs / 1000} s`, "protocol")),
      timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      callback(err, null);
    };
    socket.once("error", fail);
    socket.once("connect", () => {
      socket.off("error", fail);
      socksHandshake(socket, { host: target.hostname, port }, opts.proxy, remoteDns).then(
        () => {
          clearTimeout(timer);
          if (target.protocol !== "https:") return callback(null, socket);
          tlsUpgrade({ ...target, httpSocket: socket }, (err, tlsSocket) => (err ? fail(err) : callback(null, tlsSocket)));
        },
        (err: Error) => fail(err),
      );
    });
  };
  return new Agent({
    ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
    pipelining: 1,
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    connect,
  });
}

/** A clear error for a failed SOCKS5 handshake, naming the proxy (its user, never the password) and the repository. */
export function describeSocksFailure(err: unknown, url: string, subject: string | undefined, proxy: ProxyEndpoint, repoId: string): ProxyError | undefined {
  let socks: SocksError | undefined;
  for (let cur = err, depth = 0; cur instanceof Error && depth < 8 && !socks; cur = cur.cause, depth++) if (cur instanceof SocksError) socks = cur;
  if (!socks) return undefined;
  const shown = displayProxy(proxy, { withUser: true });
  const opts = { cause: err };
  switch (socks.kind) {
    case "auth-failed":
      return new ProxyError(
        `SOCKS5 proxy ${shown} rejected the username/password for repository ${repoId}: check username and password in the proxy block (or user:password@ in the proxy URL)`,
        url,
        shown,
        undefined,
        false,
        subject,
        opts,
      );
    case "auth-required":
      return new ProxyError(
        `SOCKS5 proxy ${shown} requires authentication for repository ${repoId}: set username and password in the proxy block (or user:password@ in the proxy URL)`,
        url,
        shown,
        undefined,
        false,
        subject,
        opts,
      );
    case "refused":
      return new ProxyError(
        `SOCKS5 proxy ${shown} (repository ${repoId}): ${socks.message.replace(/^the SOCKS5 proxy /, "")}`,
        url,
        shown,
        undefined,
        RETRYABLE_SOCKS_REPLIES.has(socks.reply ?? -1),
        subject,
        opts,
      );
    default:
      return new ProxyError(
        `SOCKS5 proxy ${shown} (repository ${repoId}): ${socks.message}`,
        url,
        shown,
        undefined,
        socks.kind === "protocol" || socks.kind === "resolve",
        subject,
        opts,
      );
  }
}
