// Redirects between real TLS servers on 127.0.0.1 (issue 12, points 18 and 24): an https -> http downgrade is refused
// unless allow_insecure_redirects, and the client certificate goes to the upstream's origin only, not where a
// redirect leads. Also the http: settings (repository over global over defaults).
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Agent } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigSchema, RepositorySchema } from "../../../core/config/schema.js";
import { fetchBuffer, httpDefaults, InsecureRedirectError } from "../../../core/http/client.js";
import { clientCertAllowed, httpSettings, repositoryHttp } from "../../../core/http/repo-http.js";
import { createTlsFixtures, type TlsFixtures } from "../../helpers/tls-fixtures.js";

interface Seen {
  path: string;
  /** CN of the client certificate presented on the connection, if any. */
  clientCert?: string;
}

interface TestServer {
  url: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

const BODY = "hello over tls\n";

/** Serves /file; /to?url=<u> redirects to u. With `requireFrom` the TLS handshake demands a client certificate. */
async function startServer(kind: "http" | "https", fx: TlsFixtures, requireFrom?: string): Promise<TestServer> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? "/", "http://x");
    const peer = kind === "https" ? (req.socket as TLSSocket).getPeerCertificate() : undefined;
    const cn = peer && typeof peer.subject?.CN === "string" ? peer.subject.CN : undefined;
    seen.push({ path: u.pathname, ...(cn ? { clientCert: cn } : {}) });
    if (u.pathname === "/to") return void res.writeHead(302, { location: u.searchParams.get("url")!, "content-length": 0 }).end();
    res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(BODY) }).end(BODY);
  };
  const server =
    kind === "https"
      ? createHttpsServer(
          {
            key: fx.server.keyPem,
            cert: fx.server.certPem,
            requestCert: true,
            rejectUnauthorized: requireFrom !== undefined,
            ...(requireFrom ? { ca: requireFrom } : {}),
          },
          handler,
        )
      : createHttpServer(handler);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${kind}://127.0.0.1:${port}`,
    port,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

let fx: TlsFixtures;
let upstream: TestServer;
let other: TestServer;
let plain: TestServer;

beforeAll(async () => {
  fx = createTlsFixtures();
  upstream = await startServer("https", fx, fx.caPem);
  other = await startServer("https", fx);
  plain = await startServer("http", fx);
});

afterAll(async () => {
  await Promise.all([upstream?.close(), other?.close(), plain?.close()]);
  fx?.remove();
});

beforeEach(() => {
  for (const s of [upstream, other, plain]) s.seen.length = 0;
});

const via = (from: TestServer, to: string) => `${from.url}/to?url=${encodeURIComponent(to)}`;
const fast = { retries: 0 };

function repo(extra: Record<string, unknown> = {}) {
  return RepositorySchema.parse({
    id: "tls-repo",
    type: "rpm",
    upstream_url: `${upstream.url}/repo/`,
    auth: { type: "client_cert", cert_file: fx.client.cert, key_file: fx.client.key, ca_file: fx.caFile },
    ...extra,
  });
}

describe("a redirect from https:// to http:// (point 18)", () => {
  it("is refused by default, naming both URLs and the setting; the http server sees no request", async () => {
    const agent = new Agent({ connect: { ca: fx.caPem } });
    try {
      const url = via(other, `${plain.url}/file`);
      const err = await fetchBuffer(url, { ...fast, dispatcher: agent }, { maxBytes: 1000 }, { subject: "repomd.xml" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InsecureRedirectError);
      const msg = (err as Error).message;
      expect(msg).toContain(`repomd.xml: refusing the redirect from ${url} to ${plain.url}/file`);
      expect(msg).toContain("http.allow_insecure_redirects: true");
      expect(plain.seen).toEqual([]);
      // https -> https and http -> http stay allowed.
      expect((await fetchBuffer(via(other, `${other.url}/file`), { ...fast, dispatcher: agent }, { maxBytes: 1000 })).body.toString()).toBe(BODY);
      expect((await fetchBuffer(via(plain, `${plain.url}/file`), { ...fast, dispatcher: agent }, { maxBytes: 1000 })).body.toString()).toBe(BODY);
    } finally {
      await agent.close();
    }
  });

  it("is followed with allow_insecure_redirects: true (repository over global)", async () => {
    const cases = [
      { global: undefined, repository: undefined, follows: false },
      { global: true, repository: undefined, follows: true },
      { global: undefined, repository: true, follows: true },
      { global: true, repository: false, follows: false },
    ];
    for (const c of cases) {
      const config = ConfigSchema.parse(c.global !== undefined ? { http: { allow_insecure_redirects: c.global } } : {});
      const r = repo(c.repository !== undefined ? { http: { allow_insecure_redirects: c.repository } } : {});
      const h = repositoryHttp(r, config, fast, { env: {} });
      try {
        const result = await fetchBuffer(via(upstream, `${plain.url}/file`), h.http, { maxBytes: 1000 }).then(
          (b) => b.body.toString(),
          (e: unknown) => e,
        );
        if (c.follows) expect(result, JSON.stringify(c)).toBe(BODY);
        else expect(result, JSON.stringify(c)).toBeInstanceOf(InsecureRedirectError);
        // Logged on every run, like verify_ssl: false.
        expect(
          h.warnings.some((w) => w.startsWith("allow_insecure_redirects is on for repository tls-repo")),
          JSON.stringify(c),
        ).toBe(c.follows);
      } finally {
        await h.close();
      }
    }
  });
});

describe("the client certificate after a redirect (point 24)", () => {
  it("is presented to the upstream's origin, and not to another port or host a redirect leads to", async () => {
    const h = repositoryHttp(repo(), ConfigSchema.parse({}), fast, { env: {} });
    try {
      // The upstream refuses a handshake without the certificate: this only works if it was presented.
      expect((await fetchBuffer(`${upstream.url}/repo/repodata/repomd.xml`, h.http, { maxBytes: 1000 })).body.toString()).toBe(BODY);
      for (const target of [`https://127.0.0.1:${other.port}/file`, `https://localhost:${other.port}/file`]) {
        expect((await fetchBuffer(via(upstream, target), h.http, { maxBytes: 1000 })).body.toString()).toBe(BODY);
      }
      // Back to the upstream itself after a redirect: the certificate is still there.
      expect((await fetchBuffer(via(upstream, `${upstream.url}/repo/again`), h.http, { maxBytes: 1000 })).body.toString()).toBe(BODY);
    } finally {
      await h.close();
    }
    expect(upstream.seen.map((s) => s.clientCert)).toEqual(["chantal-client", "chantal-client", "chantal-client", "chantal-client", "chantal-client"]);
    expect(other.seen).toEqual([{ path: "/file" }, { path: "/file" }]);
  });

  it.each([
    { upstream: "https://a.example:8443/repo/", origin: "https://a.example:8443", allowed: true },
    { upstream: "https://a.example:8443/repo/", origin: "https://a.example:9443", allowed: false },
    { upstream: "https://a.example/repo/", origin: "https://b.example", allowed: false },
    { upstream: "https://a.example/repo/", origin: "http://a.example", allowed: false },
    { upstream: "http://a.example/repo/", origin: "https://a.example", allowed: true },
    { upstream: "http://a.example/repo/", origin: "https://a.example:8443", allowed: false },
    { upstream: "http://a.example/repo/", origin: "http://a.example", allowed: false },
  ])("clientCertAllowed($upstream, $origin) = $allowed", ({ upstream: up, origin, allowed }) => {
    expect(clientCertAllowed(up, origin)).toBe(allowed);
  });
});

describe("httpSettings: repository keys over global keys over defaults", () => {
  it.each([
    {
      name: "defaults",
      global: undefined,
      repository: undefined,
      expected: { minRate: { bytesPerSecond: 1000, windowMs: 30_000 }, maxDownloadBytes: httpDefaults.maxDownloadBytes, allowInsecureRedirects: false },
    },
    {
      name: "global only",
      global: { min_rate_bytes_per_second: 500, min_rate_window_seconds: 10, max_download_bytes: 1_000_000, allow_insecure_redirects: true },
      repository: undefined,
      expected: { minRate: { bytesPerSecond: 500, windowMs: 10_000 }, maxDownloadBytes: 1_000_000, allowInsecureRedirects: true },
    },
    {
      name: "repository over global, key by key",
      global: { min_rate_bytes_per_second: 500, min_rate_window_seconds: 10 },
      repository: { min_rate_bytes_per_second: 0 },
      expected: { minRate: { bytesPerSecond: 0, windowMs: 10_000 }, maxDownloadBytes: httpDefaults.maxDownloadBytes, allowInsecureRedirects: false },
    },
  ])("$name", ({ global, repository, expected }) => {
    expect(httpSettings({ http: repository }, { http: global })).toEqual(expected);
  });
});
