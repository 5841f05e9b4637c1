// PAC files for real: a PAC served by an HTTP server on 127.0.0.1 (with an ETag) naming a dead proxy, then a live
// one (test/helpers/proxy-server.ts); a real sync and `proxy explain --test` through them, the ETag cache across
// runs, a stale copy when the PAC server is down, a broken PAC, and config validate's refusal of PAC + static proxy.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigSchema, type Config } from "../../core/config/schema.js";
import { freePort } from "../../core/free-port.js";
import { fetchBuffer } from "../../core/http/client.js";
import { forgetPacScripts, loadPacScript, PacError } from "../../core/http/pac.js";
import { repositoryHttp } from "../../core/http/repo-http.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { startProxyServer, type ProxyServer } from "../helpers/proxy-server.js";
import { NO_PROXY_VARS } from "../helpers/proxy-env.js";

interface PacServer {
  url: string;
  requests: IncomingHttpHeaders[];
  /** What it serves; the ETag follows the text. */
  pac: string;
  close(): Promise<void>;
}

async function startPacServer(pac: string): Promise<PacServer> {
  const requests: IncomingHttpHeaders[] = [];
  const state = { pac };
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    const etag = `"${Buffer.from(state.pac).toString("base64url").slice(-16)}-${state.pac.length}"`;
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/x-ns-proxy-autoconfig", etag }).end(state.pac);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/proxy.pac`,
    requests,
    get pac() {
      return state.pac;
    },
    set pac(v: string) {
      state.pac = v;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let root: string;
let base: string;
let upstream: StaticServer;
let proxy: ProxyServer;
let deadPort: number;
let pacServer: PacServer;
let db: TestDatabase;
let pacText: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "chantal-pac-up-"));
  base = mkdtempSync(join(tmpdir(), "chantal-pac-base-"));
  await generateRpmRepo(join(root, "repo"), 3, 800);
  upstream = await startStaticServer({ root });
  proxy = await startProxyServer();
  // Nothing listens there: the first proxy of the PAC's answer is dead.
  deadPort = await freePort();
  const upstreamHost = new URL(upstream.url).hostname;
  pacText = `function FindProxyForURL(url, host) {
    if (dnsDomainIs(host, ".intranet.corp")) return "DIRECT";
    if (isInNet(host, "${upstreamHost}", "255.255.255.255") && shExpMatch(url, "http://*")) return "PROXY 127.0.0.1:${deadPort}; PROXY 127.0.0.1:${proxy.port}";
    return "DIRECT";
  }`;
  pacServer = await startPacServer(pacText);
  db = await createTestDatabase("proxypac");
});

afterAll(async () => {
  forgetPacScripts();
  await Promise.all([upstream?.close(), proxy?.close(), pacServer?.close()]);
  await db?.drop();
  for (const d of [root, base]) if (d) rmSync(d, { recursive: true, force: true });
});

beforeEach(() => {
  // Each test is a new run: the process's memo of loaded PAC files is forgotten.
  forgetPacScripts();
  proxy.reset();
});

function configWith(proxyBlock: object, basePath = base): Config {
  return ConfigSchema.parse({
    storage: { base_path: basePath },
    proxy: proxyBlock,
    repositories: [{ id: "r", type: "rpm", upstream_url: `${upstream.url}/repo/` }],
  });
}

describe("a PAC served over HTTP, its first proxy dead", () => {
  it("the download goes through the second proxy, with one warning; a later request starts with the live one", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "chantal-pac-cache-"));
    const warnings: string[] = [];
    const config = configWith({ pac_url: pacServer.url });
    const http = repositoryHttp(config.repositories[0]!, config, { retries: 0 }, { env: {}, pacCacheDir: cacheDir, onWarning: (w) => warnings.push(w) });
    try {
      const url = `${upstream.url}/repo/repodata/repomd.xml`;
      const res = await fetchBuffer(url, http.http, { maxBytes: 1 << 20 });
      expect(res.status).toBe(200);
      expect(proxy.requests.map((r) => `${r.method} ${r.target}`)).toEqual([`GET ${url}`]);
      expect(warnings).toEqual([
        `proxy http://127.0.0.1:${deadPort} (from the PAC file) failed for ${upstream.url} (ECONNREFUSED): trying proxy http://127.0.0.1:${proxy.port}`,
      ]);
      const decision = await http.resolve(url);
      expect(decision.reason).toBe(`the PAC file ${pacServer.url} answered "PROXY 127.0.0.1:${deadPort}; PROXY 127.0.0.1:${proxy.port}" (tried in that order)`);
      await fetchBuffer(`${upstream.url}/repo/repodata/primary.xml.gz`, http.http, { maxBytes: 1 << 20 }).catch(() => undefined);
      expect(proxy.requests).toHaveLength(2);
      expect(warnings).toHaveLength(1);
      // The PAC was fetched once for the run, and cached with its ETag.
      expect(pacServer.requests).toHaveLength(1);
      expect(readdirSync(cacheDir).sort()).toEqual([expect.stringMatching(/\.json$/), expect.stringMatching(/\.pac$/)]);
    } finally {
      await http.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it("a dead SOCKS proxy first: the request falls back to the HTTP proxy after it", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "chantal-pac-cache-"));
    const file = join(cacheDir, "socks.pac");
    writeFileSync(file, `function FindProxyForURL(u, h) { return "SOCKS 127.0.0.1:${deadPort}; PROXY 127.0.0.1:${proxy.port}"; }`);
    const warnings: string[] = [];
    const config = configWith({ pac_file: file });
    const http = repositoryHttp(config.repositories[0]!, config, { retries: 0 }, { env: {}, onWarning: (w) => warnings.push(w) });
    try {
      const res = await fetchBuffer(`${upstream.url}/repo/repodata/repomd.xml`, http.http, { maxBytes: 1 << 20 });
      expect(res.status).toBe(200);
      expect(proxy.requests).toHaveLength(1);
      expect(warnings).toEqual([
        expect.stringMatching(new RegExp(`^proxy socks5://127\\.0\\.0\\.1:${deadPort} \\(from the PAC file\\) failed .*: trying proxy http://127`)),
      ]);
    } finally {
      await http.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it("when every proxy of the answer is unreachable, the error names them all", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "chantal-pac-cache-"));
    const file = join(cacheDir, "dead.pac");
    writeFileSync(
      file,
      `function FindProxyForURL(u, h) { return "PROXY 127.0.0.1:${deadPort}; PROXY 127.0.0.1:${deadPort + 0}; PROXY localhost:${deadPort}"; }`,
    );
    const config = configWith({ pac_file: file });
    const http = repositoryHttp(config.repositories[0]!, config, { retries: 0 }, { env: {} });
    try {
      await expect(fetchBuffer(`${upstream.url}/repo/repodata/repomd.xml`, http.http, { maxBytes: 1 << 20 })).rejects.toThrow(
        `cannot reach any of the ways the PAC file ${file} chose for ${new URL(upstream.url).host} (http://127.0.0.1:${deadPort}, http://localhost:${deadPort}) for repository r (ECONNREFUSED)`,
      );
    } finally {
      await http.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe("the PAC's ETag cache across runs", () => {
  it("the next run sends If-None-Match and gets a 304; with the server down it uses the cached copy and warns; without a copy it fails", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "chantal-pac-cache-"));
    const server = await startPacServer(pacText);
    const target = `${upstream.url}/repo/repodata/repomd.xml`;
    const run = async (warnings: string[], dir = cacheDir) => {
      forgetPacScripts();
      const config = configWith({ pac_url: server.url });
      const http = repositoryHttp(config.repositories[0]!, config, {}, { env: {}, pacCacheDir: dir, onWarning: (w) => warnings.push(w) });
      try {
        return await http.resolve(target);
      } finally {
        await http.close();
      }
    };
    try {
      await run([]);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]!["if-none-match"]).toBeUndefined();
      const decision = await run([]);
      expect(server.requests).toHaveLength(2);
      expect(server.requests[1]!["if-none-match"]).toMatch(/^".+"$/);
      expect(decision.proxy?.url).toBe(`http://127.0.0.1:${deadPort}`);
      await server.close();
      const warnings: string[] = [];
      expect((await run(warnings)).proxy?.url).toBe(`http://127.0.0.1:${deadPort}`);
      expect(warnings).toEqual([
        expect.stringMatching(
          new RegExp(`^cannot fetch the PAC file ${server.url} \\(PAC file: request to ${server.url} failed: .*ECONNREFUSED.*\\): using the copy cached at `),
        ),
      ]);
      const empty = mkdtempSync(join(tmpdir(), "chantal-pac-empty-"));
      const err = await run([], empty).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PacError);
      expect((err as Error).message).toMatch(
        new RegExp(`^cannot fetch the PAC file ${server.url} \\(pac_url of the global proxy block\\), and no copy is cached: .*ECONNREFUSED`),
      );
      rmSync(empty, { recursive: true, force: true });
    } finally {
      await server.close().catch(() => undefined);
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it("within one run, every repository shares the one fetch of the PAC", async () => {
    const server = await startPacServer(pacText);
    try {
      const config = configWith({ pac_url: server.url });
      for (let i = 0; i < 3; i++) {
        const http = repositoryHttp(config.repositories[0]!, config, {}, { env: {} });
        await http.resolve(`${upstream.url}/x`);
        await http.close();
      }
      expect(server.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("a PAC server that never answers is given up after the fetch timeout, named", async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((sock) => sockets.add(sock));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/proxy.pac`;
    try {
      const started = Date.now();
      await expect(loadPacScript({ url, key: "pac_url of the global proxy block" }, { fetchTimeoutMs: 500 })).rejects.toThrow(
        `cannot fetch the PAC file ${url} (pac_url of the global proxy block), and no copy is cached: no complete answer within 500 ms`,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("a broken PAC from the server is an error and does not replace the cached copy", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "chantal-pac-cache-"));
    const server = await startPacServer(pacText);
    const resolve = async () => {
      forgetPacScripts();
      const config = configWith({ pac_url: server.url });
      const http = repositoryHttp(config.repositories[0]!, config, {}, { env: {}, pacCacheDir: cacheDir });
      try {
        return await http.resolve(`${upstream.url}/x`);
      } finally {
        await http.close();
      }
    };
    try {
      await resolve();
      server.pac = "function FindProxyForURL(url, host) { return 'DIRECT'";
      await expect(resolve()).rejects.toThrow(`the PAC file ${server.url} is not a usable PAC script: Line 1: Unexpected end of input`);
      server.pac = pacText;
      // The copy is still the first one: its ETag matches, a 304.
      await resolve();
      expect(server.requests.at(-1)!["if-none-match"]).toMatch(/^".+"$/);
    } finally {
      await server.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe("the CLI", () => {
  let dir: string;
  const cli = (args: string[], configDir = dir) => runCli(["--config-dir", configDir, ...args], { env: { ...NO_PROXY_VARS, CHANTAL_LOG_LEVEL: "warn" } });
  beforeAll(() => {
    dir = makeConfigDir({
      "config.yaml": `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\nproxy:\n  pac_url: ${pacServer.url}\nrepositories:\n  - id: r\n    type: rpm\n    upstream_url: ${upstream.url}/repo/\n`,
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("repo sync downloads through the PAC's second proxy, the dead one named once; the PAC is cached under base_path", async () => {
    const r = await cli(["repo", "sync", "--repo-id", "r"]);
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.requests.filter((q) => q.target.endsWith(".rpm"))).toHaveLength(3);
    expect(r.stderr.match(/\(from the PAC file\) failed/g)).toHaveLength(1);
    expect(existsSync(join(base, "cache", "pac"))).toBe(true);
  });

  it("proxy explain --url --test shows the PAC's answer, the order tried, and fetches through it", async () => {
    const url = `${upstream.url}/repo/repodata/repomd.xml`;
    const r = await cli(["proxy", "explain", "--repo-id", "r", "--url", url, "--test"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^proxy +http://127\\.0\\.0\\.1:${deadPort}$`, "m"));
    expect(r.stdout).toContain(`pac          ${pacServer.url} answered "PROXY 127.0.0.1:${deadPort}; PROXY 127.0.0.1:${proxy.port}"`);
    expect(r.stdout).toContain(`tried        http://127.0.0.1:${deadPort}, then http://127.0.0.1:${proxy.port}`);
    expect(r.stdout).toMatch(/^result +HTTP 200 in \d+ ms/m);
    expect(r.stdout).toContain(`warning      proxy http://127.0.0.1:${deadPort} (from the PAC file) failed for ${upstream.url} (ECONNREFUSED)`);
    const j = await cli(["proxy", "explain", "--repo-id", "r", "--url", "http://cdn.intranet.corp/x", "--json"]);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ proxy: null, pac: { file: pacServer.url, answer: "DIRECT", try_in_order: ["direct"] } });
  });

  it("a broken PAC is a clear error and a non-zero exit, for proxy explain and for a sync", async () => {
    const bad = makeConfigDir({
      "broken.pac": "function FindProxyForURL(url, host) {\n  return 'DIRECT'\n",
      "config.yaml": `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\nproxy:\n  pac_file: broken.pac\nrepositories:\n  - id: r\n    type: rpm\n    upstream_url: ${upstream.url}/repo/\n`,
    });
    try {
      const explain = await cli(["proxy", "explain", "--repo-id", "r"], bad);
      expect(explain.code).toBe(78);
      expect(explain.stderr).toContain(`the PAC file ${join(bad, "broken.pac")} is not a usable PAC script: Line 3: Unexpected end of input`);
      const sync = await cli(["repo", "sync", "--repo-id", "r"], bad);
      expect(sync.code).not.toBe(0);
      expect(sync.stderr + sync.stdout).toContain("is not a usable PAC script");
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it("config validate refuses a PAC and a static proxy in one block, naming the file and the key", async () => {
    const mixed = makeConfigDir({
      "config.yaml": `storage:\n  base_path: ${base}\n`,
      "conf.d/proxy.yaml": `proxy:\n  pac_url: ${pacServer.url}\n  https_proxy: ${proxy.url}\n`,
    });
    try {
      const r = await cli(["config", "validate"], mixed);
      expect(r.code).toBe(78);
      expect(r.stderr + r.stdout).toContain(
        "conf.d/proxy.yaml:2: proxy.pac_url: a PAC file and a static proxy (https_proxy) in one block: the PAC decides the proxy, so remove https_proxy or pac_url",
      );
    } finally {
      rmSync(mixed, { recursive: true, force: true });
    }
  });
});
