// The real CLI against HTTPS upstreams (Node https servers with a test CA made by openssl): CONNECT through a proxy
// with ca_bundle, an https:// proxy, verify_ssl: false, and an upstream that demands a client certificate,
// directly and through the proxy.
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli, type CliResult } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { startProxyServer, type ProxyServer } from "../helpers/proxy-server.js";
import { createTlsFixtures, startHttpsFront, type HttpsFront, type TlsFixtures } from "../helpers/tls-fixtures.js";
import { NO_PROXY_VARS } from "../helpers/proxy-env.js";

const PASSWORD = "tls-p@ss:€/%";
const NAMES = ["ca", "noca", "noverify", "httpsproxy", "ca-direct", "cert-direct", "cert-proxy", "cert-missing"] as const;
type Name = (typeof NAMES)[number];

let fx: TlsFixtures;
let root: string;
let base: string;
let http: StaticServer;
let proxy: ProxyServer;
let tlsProxy: ProxyServer;
let db: TestDatabase;
const fronts = {} as Record<Name, HttpsFront>;
let dir: string;

function cli(args: string[]): Promise<CliResult> {
  return runCli(["--config-dir", dir, ...args], { env: { ...NO_PROXY_VARS, CHANTAL_LOG_LEVEL: "warn", PROXY_PASSWORD: PASSWORD } });
}

beforeAll(async () => {
  fx = createTlsFixtures();
  root = mkdtempSync(join(tmpdir(), "chantal-tls-up-"));
  base = mkdtempSync(join(tmpdir(), "chantal-tls-base-"));
  await generateRpmRepo(join(root, "base"), 3, 1_200);
  for (const n of NAMES) symlinkSync(join(root, "base"), join(root, n));
  http = await startStaticServer({ root });
  proxy = await startProxyServer({ auth: { username: "tlsuser", password: PASSWORD } });
  tlsProxy = await startProxyServer({ tls: { key: fx.server.keyPem, cert: fx.server.certPem } });
  // One HTTPS front per repository, so the proxies' CONNECT targets (host:port) tell them apart.
  for (const n of NAMES) {
    fronts[n] = await startHttpsFront({ target: http.url, server: fx.server, ...(n.startsWith("cert-") ? { requireClientCertFrom: fx.caPem } : {}) });
  }
  db = await createTestDatabase("proxytls");
  const viaProxy = `      https_proxy: ${proxy.url}\n      username: tlsuser\n      password: "\${PROXY_PASSWORD}"\n`;
  const repo = (n: Name, block: string) => `  - id: ${n}\n    type: rpm\n    upstream_url: ${fronts[n].url}/${n}/\n    download_concurrency: 2\n${block}`;
  const entitlement = `    auth:\n      type: client_cert\n      cert_dir: ${fx.entitlementDir}\n      ca_file: ${fx.caFile}\n`;
  const repos = [
    repo("ca", `    proxy:\n${viaProxy}      ca_bundle: ${fx.caFile}\n`),
    repo("noca", `    proxy:\n${viaProxy}`),
    repo("noverify", `    proxy:\n${viaProxy}      verify_ssl: false\n`),
    repo("httpsproxy", `    proxy:\n      https_proxy: ${tlsProxy.url}\n      ca_bundle: ${fx.caFile}\n`),
    repo("ca-direct", `    proxy:\n      enabled: false\n      ca_bundle: ${fx.caFile}\n`),
    repo("cert-direct", `    proxy:\n      enabled: false\n${entitlement}`),
    repo("cert-proxy", `    proxy:\n${viaProxy}${entitlement}`),
    // Not synced by --all (a refused handshake looks like a reset, which a sync retries): tested with explain --test.
    repo("cert-missing", `    enabled: false\n    proxy:\n${viaProxy}      ca_bundle: ${fx.caFile}\n`),
  ];
  dir = makeConfigDir({ "config.yaml": `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\nrepositories:\n${repos.join("")}` });
});

afterAll(async () => {
  await Promise.all([http?.close(), proxy?.close(), tlsProxy?.close(), ...Object.values(fronts).map((f) => f.close())]);
  await db?.drop();
  fx?.remove();
  for (const d of [root, base, dir]) if (d) rmSync(d, { recursive: true, force: true });
});

// the pool is shared by the file's repositories: blobs another one pooled are not fetched again, the index always is
const connectsTo = (p: ProxyServer, n: Name) => p.requests.filter((r) => r.method === "CONNECT" && r.target === new URL(fronts[n].url).host);

describe("HTTPS upstreams, through CONNECT and directly", () => {
  let results: Record<string, { status: string; error?: string }>;
  let stderr: string;
  beforeAll(async () => {
    const r = await cli(["repo", "sync", "--all", "--json"]);
    stderr = r.stderr;
    results = Object.fromEntries((JSON.parse(r.stdout) as { repo_id: string; status: string; error?: string }[]).map((x) => [x.repo_id, x]));
  });

  it("HTTPS through the proxy's CONNECT, the test CA trusted by ca_bundle: no request is forwarded in clear", () => {
    expect(results["ca"]).toMatchObject({ status: "success" });
    const tunnels = connectsTo(proxy, "ca");
    expect(tunnels.length).toBeGreaterThanOrEqual(1);
    expect(tunnels.every((t) => t.allowed && t.credentials?.password === PASSWORD)).toBe(true);
    expect(proxy.requests.filter((r) => r.method !== "CONNECT")).toHaveLength(0);
    expect(fronts.ca.requests.filter((q) => q.path.endsWith(".rpm"))).toHaveLength(3);
    expect(fronts.ca.requests.every((q) => q.headers["proxy-authorization"] === undefined)).toBe(true);
  });

  it("without ca_bundle the upstream's certificate is refused, with a TLS error naming the URL", () => {
    expect(results["noca"]!.status).toBe("failed");
    expect(results["noca"]!.error).toMatch(new RegExp(`request to ${fronts.noca.url}/noca/repodata/repomd.xml failed: .*(certificate|issuer)`));
    expect(fronts.noca.requests).toHaveLength(0);
  });

  it("verify_ssl: false accepts it, and warns", () => {
    expect(results["noverify"]).toMatchObject({ status: "success" });
    expect(connectsTo(proxy, "noverify").length).toBeGreaterThanOrEqual(1);
    expect(stderr).toContain(
      "TLS certificate verification is off (verify_ssl: false in the repository proxy block): the proxy and the upstreams of repository noverify are not verified",
    );
  });

  it("an https:// proxy, trusted through ca_bundle", () => {
    expect(results["httpsproxy"]).toMatchObject({ status: "success" });
    expect(connectsTo(tlsProxy, "httpsproxy").length).toBeGreaterThanOrEqual(1);
    expect(fronts.httpsproxy.requests.some((q) => q.path.endsWith("/repodata/repomd.xml"))).toBe(true);
  });

  it("the block's ca_bundle also holds for a direct connection (enabled: false)", () => {
    expect(results["ca-direct"]).toMatchObject({ status: "success" });
    expect(connectsTo(proxy, "ca-direct")).toHaveLength(0);
    expect(fronts["ca-direct"].requests.some((q) => q.path.endsWith("/repodata/repomd.xml"))).toBe(true);
  });

  it("a client certificate from cert_dir, directly", () => {
    expect(results["cert-direct"]).toMatchObject({ status: "success" });
    expect(connectsTo(proxy, "cert-direct")).toHaveLength(0);
    const reqs = fronts["cert-direct"].requests;
    expect(reqs.some((q) => q.path.endsWith("/repodata/repomd.xml"))).toBe(true);
    expect(reqs.every((q) => q.clientCert === "chantal-client")).toBe(true);
  });

  it("a client certificate through the proxy's tunnel", () => {
    expect(results["cert-proxy"]).toMatchObject({ status: "success" });
    expect(connectsTo(proxy, "cert-proxy").length).toBeGreaterThanOrEqual(1);
    const reqs = fronts["cert-proxy"].requests;
    expect(reqs.some((q) => q.path.endsWith("/repodata/repomd.xml"))).toBe(true);
    expect(reqs.every((q) => q.clientCert === "chantal-client")).toBe(true);
  });

  it("the password appears nowhere", () => {
    for (const s of [PASSWORD, encodeURIComponent(PASSWORD), Buffer.from(`tlsuser:${PASSWORD}`).toString("base64")]) {
      expect(JSON.stringify(results) + stderr).not.toContain(s);
    }
  });
});

describe("proxy explain", () => {
  it("prints the proxy, its source, NO_PROXY, and the TLS settings", async () => {
    const r = await cli(["proxy", "explain", "--repo-id", "cert-proxy"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`repository   cert-proxy`);
    expect(r.stdout).toMatch(new RegExp(`^proxy +http://tlsuser@127\\.0\\.0\\.1:${proxy.port}$`, "m"));
    expect(r.stdout).toMatch(/^source +repository: https_proxy of the repository proxy block$/m);
    expect(r.stdout).toMatch(/^no_proxy +no entries$/m);
    expect(r.stdout).toMatch(/^verify TLS +yes$/m);
    expect(r.stdout).toContain(`${fx.caFile} (auth.ca_file, upstreams only)`);
    expect(r.stdout).toMatch(
      new RegExp(`^client cert +${fx.entitlementDir}/4711\\.pem \\(key ${fx.entitlementDir}/4711-key\\.pem\\), CN=chantal-client, valid until \\d{4}-`, "m"),
    );
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it("--test fetches the index through the proxy and reports status and time; --json", async () => {
    proxy.reset();
    const r = await cli(["proxy", "explain", "--repo-id", "cert-proxy", "--test", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      repository: "cert-proxy",
      proxy: `http://tlsuser@127.0.0.1:${proxy.port}`,
      source: "repository",
      no_proxy_match: null,
      tls: { verify_ssl: true, client_cert: { file: join(fx.entitlementDir, "4711.pem") } },
      test: { url: `${fronts["cert-proxy"].url}/cert-proxy/repodata/repomd.xml`, ok: true, status: 200, error: null },
    });
    expect(out.test.ms).toBeGreaterThanOrEqual(0);
    expect(out.test.bytes).toBeGreaterThan(100);
    expect(connectsTo(proxy, "cert-proxy")).toHaveLength(1);
    expect(r.stdout).not.toContain(PASSWORD);
  });

  it("--test fails where the upstream demands a client certificate the repository does not have", async () => {
    const r = await cli(["proxy", "explain", "--repo-id", "cert-missing", "--test"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^client cert +none$/m);
    expect(r.stdout).toMatch(/^result +FAILED after \d+ ms: /m);
    expect(fronts["cert-missing"].requests).toHaveLength(0);
    expect(fronts["cert-missing"].tlsErrors.length).toBeGreaterThanOrEqual(1);
  });

  it("--test reports a TLS failure with exit 1", async () => {
    const r = await cli(["proxy", "explain", "--repo-id", "noca", "--test"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^result +FAILED after \d+ ms: repomd\.xml: request to https:\/\/127\.0\.0\.1:\d+\/noca\/repodata\/repomd\.xml failed: .*(certificate|issuer)/m,
    );
  });

  it("--test reports the proxy's 407 with exit 1, and --url explains another URL", async () => {
    const bad = makeConfigDir({
      "config.yaml": `storage:\n  base_path: ${base}\nproxy:\n  http_proxy: ${proxy.url}\n  https_proxy: ${proxy.url}\n  username: tlsuser\n  password: wrong\n  no_proxy: .example.org\nrepositories:\n  - id: b\n    type: rpm\n    upstream_url: ${http.url}/ca/\n`,
    });
    try {
      const r = await runCli(["--config-dir", bad, "proxy", "explain", "--repo-id", "b", "--test"], { env: NO_PROXY_VARS });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        new RegExp(`^result +FAILED after \\d+ ms: proxy http://127\\.0\\.0\\.1:${proxy.port} rejected the credentials \\(407\\) for repository b$`, "m"),
      );
      const other = await runCli(["--config-dir", bad, "proxy", "explain", "--repo-id", "b", "--url", "https://mirror.example.org/x", "--json"], {
        env: NO_PROXY_VARS,
      });
      expect(JSON.parse(other.stdout)).toMatchObject({ url: "https://mirror.example.org/x", proxy: null, source: "global", no_proxy_match: ".example.org" });
      const usage = await runCli(["--config-dir", bad, "proxy", "explain", "--repo-id", "b", "--url", "ftp://x"], { env: NO_PROXY_VARS });
      expect(usage.code).toBe(2);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
