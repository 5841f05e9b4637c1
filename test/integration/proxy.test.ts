// The real CLI syncing through a real forward proxy (test/helpers/proxy-server.ts) on 127.0.0.1: global proxy with
// auth, a per-repository proxy, enabled: false, the environment, every NO_PROXY form, a wrong password, and
// repository basic auth across a redirect to another host.
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli, type CliResult } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { startProxyServer, startTcpRelay, type ProxyServer, type TcpRelay } from "../helpers/proxy-server.js";
import { NO_PROXY_VARS } from "../helpers/proxy-env.js";

// Special characters and non-ASCII, in both the YAML (through ${ENV}) and the proxy URL (percent-encoded).
const PASSWORD_A = "p@ss:w/rd%é€ x";
const PASSWORD_B = "other:Pässwort/@";
const REPO_PASSWORD = "repo-pass-ü:@";

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}

/** Every form a secret could leak in. */
function leakForms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), Buffer.from(secret, "utf8").toString("base64")];
}

let root: string;
let ownRoot: string;
let server: StaticServer;
let proxyA: ProxyServer;
let proxyB: ProxyServer;
let relay6: TcpRelay;
let db: TestDatabase;
let pool: pg.Pool;
let base: string;
const configDirs: string[] = [];

/** A config dir on the suite's database and storage, with the given repositories and optional global proxy block. */
function configDir(repositories: string, globalProxy?: string): string {
  const dir = makeConfigDir({
    "config.yaml": `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\nrepositories:\n${repositories}`,
    ...(globalProxy ? { "conf.d/proxy.yaml": `proxy:\n${globalProxy}` } : {}),
  });
  configDirs.push(dir);
  return dir;
}

function cli(dir: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(["--config-dir", dir, ...args], { env: { ...NO_PROXY_VARS, CHANTAL_LOG_LEVEL: "warn", ...env } });
}

function repoYaml(id: string, upstream: string, extra = ""): string {
  return `  - id: ${id}\n    type: rpm\n    upstream_url: ${upstream}\n    download_concurrency: 2\n${extra}`;
}

// the pool is shared by the file's repositories: blobs another one pooled are not fetched again, the index always is
const seenBy = (proxy: ProxyServer, prefix: string) => proxy.requests.filter((r) => r.target.includes(prefix));
const upstreamSaw = (prefix: string) => server.requests.filter((r) => r.path.startsWith(prefix));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "chantal-proxy-up-"));
  await generateRpmRepo(join(root, "base"), 3, 1_000);
  // One generated repository under many names, so each test's requests are told apart by path.
  for (const name of [
    "g",
    "o",
    "d",
    "e",
    "n-star",
    "n-ip",
    "n-ipport",
    "n-cidr",
    "n-host",
    "n-dot",
    "n-case",
    "n-list",
    "n-v6",
    "n-v6port",
    "n-v6cidr",
    "n-miss",
  ]) {
    symlinkSync(join(root, "base"), join(root, name));
  }
  ownRoot = join(root, "w");
  mkdirSync(ownRoot);
  await generateRpmRepo(ownRoot, 3, 1_000);
  // Its own packages (another payload size), so they are not in the pool yet when it syncs.
  await generateRpmRepo(join(root, "x"), 3, 1_500);
  server = await startStaticServer({ root });
  proxyA = await startProxyServer({ auth: { username: "proxyuser", password: PASSWORD_A } });
  proxyB = await startProxyServer({ auth: { username: "special", password: PASSWORD_B } });
  relay6 = await startTcpRelay("::1", Number(new URL(server.url).port));
  db = await createTestDatabase("proxy");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  base = mkdtempSync(join(tmpdir(), "chantal-proxy-base-"));
});

afterAll(async () => {
  await Promise.all([server?.close(), proxyA?.close(), proxyB?.close(), relay6?.close()]);
  await pool?.end();
  await db?.drop();
  for (const d of [root, base, ...configDirs]) if (d) rmSync(d, { recursive: true, force: true });
});

const globalA = () => `  http_proxy: ${proxyA.url}\n  https_proxy: ${proxyA.url}\n  username: proxyuser\n  password: "\${CHANTAL_PROXY_PASSWORD}"\n`;

describe("repo sync through a forward proxy", () => {
  it("global proxy with auth: every request goes through it with Proxy-Authorization, which never reaches the upstream", async () => {
    const dir = configDir(repoYaml("g", `${server.url}/g/`), globalA());
    const r = await cli(dir, ["--verbose", "repo", "sync", "--repo-id", "g", "--json"], { CHANTAL_PROXY_PASSWORD: PASSWORD_A });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_downloaded: 3 } });

    const viaProxy = seenBy(proxyA, "/g/");
    const direct = upstreamSaw("/g/");
    expect(viaProxy.map((p) => p.target)).toContain(`${server.url}/g/repodata/repomd.xml`);
    expect(viaProxy.filter((p) => p.target.endsWith(".rpm"))).toHaveLength(3);
    // Plain forwarding (GET http://...), every request authenticated, none let through without.
    expect(viaProxy.every((p) => p.method === "GET" && p.allowed && p.headers["proxy-authorization"] === basic("proxyuser", PASSWORD_A))).toBe(true);
    expect(direct.length).toBe(viaProxy.length);
    for (const req of direct) {
      expect(req.headers["proxy-authorization"]).toBeUndefined();
      expect(req.headers["authorization"]).toBeUndefined();
    }
    expect(seenBy(proxyB, "/g/")).toHaveLength(0);

    // --verbose says once which proxy (redacted) and why; the password appears nowhere.
    const proxyLines = r.stderr.split("\n").filter((l) => l.includes('"msg":"proxy"'));
    expect(proxyLines).toHaveLength(1);
    expect(JSON.parse(proxyLines[0]!)).toMatchObject({
      repo: "g",
      proxy: `http://proxyuser@127.0.0.1:${proxyA.port}`,
      source: "global",
      reason: "http_proxy of the global proxy block",
    });
    for (const s of leakForms(PASSWORD_A)) expect(r.stdout + r.stderr).not.toContain(s);
  });

  it("a repository's proxy block replaces the global one: the second proxy gets the requests", async () => {
    const own = `    proxy:\n      http_proxy: ${proxyB.url}\n      username: special\n      password: '${PASSWORD_B}'\n`;
    const dir = configDir(repoYaml("o", `${server.url}/o/`, own), globalA());
    const r = await cli(dir, ["repo", "sync", "--repo-id", "o"], { CHANTAL_PROXY_PASSWORD: PASSWORD_A });
    expect(r.code, r.stderr).toBe(0);
    const viaB = seenBy(proxyB, "/o/");
    expect(viaB.some((p) => p.target.endsWith("/repodata/repomd.xml"))).toBe(true);
    expect(viaB.every((p) => p.allowed && p.credentials?.username === "special" && p.credentials.password === PASSWORD_B)).toBe(true);
    expect(seenBy(proxyA, "/o/")).toHaveLength(0);
  });

  it("a repository with proxy enabled: false goes direct while a global proxy is set: the proxy sees no request", async () => {
    const dir = configDir(repoYaml("d", `${server.url}/d/`, "    proxy:\n      enabled: false\n"), globalA());
    const r = await cli(dir, ["repo", "sync", "--repo-id", "d"], { CHANTAL_PROXY_PASSWORD: PASSWORD_A });
    expect(r.code, r.stderr).toBe(0);
    expect(upstreamSaw("/d/").some((r) => r.path.endsWith("/repodata/repomd.xml"))).toBe(true);
    expect(seenBy(proxyA, "/d/")).toHaveLength(0);
    expect(seenBy(proxyB, "/d/")).toHaveLength(0);
  });

  it("with no proxy block, HTTP_PROXY from the environment is used (credentials from the URL); NO_PROXY from the environment bypasses it", async () => {
    const dir = configDir(repoYaml("e", `${server.url}/e/`));
    const envProxy = `http://proxyuser:${encodeURIComponent(PASSWORD_A)}@127.0.0.1:${proxyA.port}`;
    const r = await cli(dir, ["--verbose", "repo", "sync", "--repo-id", "e"], { HTTP_PROXY: envProxy });
    expect(r.code, r.stderr).toBe(0);
    const viaA = seenBy(proxyA, "/e/");
    expect(viaA.some((p) => p.target.endsWith("/repodata/repomd.xml"))).toBe(true);
    expect(viaA.every((p) => p.allowed)).toBe(true);
    expect(r.stderr).toContain('"source":"environment"');
    for (const s of leakForms(PASSWORD_A)) expect(r.stdout + r.stderr).not.toContain(s);

    proxyA.reset();
    const bypass = await cli(dir, ["proxy", "explain", "--repo-id", "e", "--test", "--json"], { http_proxy: envProxy, no_proxy: "example.org,127.0.0.1" });
    expect(bypass.code, bypass.stderr).toBe(0);
    expect(JSON.parse(bypass.stdout)).toMatchObject({ proxy: null, source: "environment", no_proxy_match: "127.0.0.1", test: { ok: true, status: 200 } });
    expect(proxyA.requests).toHaveLength(0);
  });

  it("NO_PROXY: every form sends a matching target direct, a non-matching list does not", async () => {
    const port = new URL(server.url).port;
    const via = (id: string, noProxy: string, host = "127.0.0.1:" + port) =>
      repoYaml(
        id,
        `http://${host}/${id}/`,
        `    proxy:\n      http_proxy: ${proxyA.url}\n      username: proxyuser\n      password: "\${CHANTAL_PROXY_PASSWORD}"\n      no_proxy: "${noProxy}"\n`,
      );
    const forms: [id: string, noProxy: string, host?: string][] = [
      ["n-star", "*"],
      ["n-ip", "127.0.0.1"],
      ["n-ipport", `127.0.0.1:${port}`],
      ["n-cidr", "127.0.0.0/8"],
      ["n-host", "localhost", `localhost:${port}`],
      ["n-dot", ".localhost", `localhost:${port}`],
      ["n-case", "LocalHost", `localhost:${port}`],
      ["n-list", "example.org  ,, other.test 127.0.0.1", undefined],
      ["n-v6", "::1", relay6.hostPort],
      ["n-v6port", `[::1]:${relay6.port}`, relay6.hostPort],
      ["n-v6cidr", "::/127", relay6.hostPort],
    ];
    const miss = via("n-miss", `127.0.0.2, localhost, 127.0.0.1:1, 10.0.0.0/8, .example.org, [::1]:${port}`);
    const dir = configDir(forms.map(([id, np, host]) => via(id, np, host)).join("") + miss);
    proxyA.reset();
    const r = await cli(dir, ["repo", "sync", "--all", "--json"], { CHANTAL_PROXY_PASSWORD: PASSWORD_A });
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as { repo_id: string; status: string }[];
    expect(results.map((x) => x.status)).toEqual(Array(forms.length + 1).fill("success"));
    for (const [id] of forms) {
      expect(seenBy(proxyA, `/${id}/`), id).toHaveLength(0);
      expect(
        upstreamSaw(`/${id}/`).some((r) => r.path.endsWith("/repodata/repomd.xml")),
        id,
      ).toBe(true);
    }
    expect(seenBy(proxyA, "/n-miss/").some((p) => p.target.endsWith("/repodata/repomd.xml"))).toBe(true);

    const explain = await cli(dir, ["proxy", "explain", "--repo-id", "n-cidr"], { CHANTAL_PROXY_PASSWORD: PASSWORD_A });
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toMatch(/^proxy +direct$/m);
    expect(explain.stdout).toMatch(/^no_proxy +entry "127\.0\.0\.0\/8" matches: direct$/m);
  });

  it("a wrong proxy password: exit 1, a clear error, nothing published, the previous tree untouched, the password nowhere", async () => {
    const block = `    proxy:\n      http_proxy: ${proxyA.url}\n      username: proxyuser\n      password: "\${W_PASSWORD}"\n`;
    const dir = configDir(repoYaml("w", `${server.url}/w/`, block));
    const ok = await cli(dir, ["repo", "sync", "--repo-id", "w"], { W_PASSWORD: PASSWORD_A });
    expect(ok.code, ok.stderr).toBe(0);
    const latest = join(base, "published", "w", "latest");
    const treeBefore = readlinkSync(latest);
    const repomdBefore = readFileSync(join(latest, "repodata/repomd.xml"));
    await generateRpmRepo(ownRoot, 3, 1_000, { first: 3 }); // upstream changes

    const wrong = "Wr0ng-pässwörd:@/%";
    proxyA.reset();
    const failed = await cli(dir, ["repo", "sync", "--repo-id", "w"], { W_PASSWORD: wrong });
    expect(failed.code).toBe(1);
    const message = `proxy http://127.0.0.1:${proxyA.port} rejected the credentials (407) for repository w`;
    expect(failed.stderr).toContain(`error: ${message}`);
    // A 407 is not retried: one request, refused.
    expect(proxyA.requests.map((p) => p.allowed)).toEqual([false]);
    const asJson = await cli(dir, ["repo", "sync", "--repo-id", "w", "--json"], { W_PASSWORD: wrong });
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ status: "failed", error: message });

    expect(readlinkSync(latest)).toBe(treeBefore);
    expect(readFileSync(join(latest, "repodata/repomd.xml"))).toEqual(repomdBefore);
    const runs = await pool.query(
      `SELECT status, error FROM chantal.sync_runs sr JOIN chantal.repositories r ON r.id = sr.repository_id WHERE r.repo_id = 'w' ORDER BY sr.id`,
    );
    expect(runs.rows.map((x) => x.status)).toEqual(["success", "failed", "failed"]);
    expect(runs.rows[1].error).toBe(message);
    const everything = failed.stdout + failed.stderr + asJson.stdout + asJson.stderr + JSON.stringify(runs.rows);
    for (const s of [...leakForms(wrong), ...leakForms(PASSWORD_A)]) expect(everything).not.toContain(s);
  });
});

describe("repository basic auth and redirects", () => {
  let target: StaticServer;
  let origin: StaticServer;
  beforeAll(async () => {
    target = await startStaticServer({ root });
    origin = await startStaticServer({ root, faults: (req) => ({ redirectTo: `${target.url}${req.path}` }) });
  });
  afterAll(async () => {
    await Promise.all([target?.close(), origin?.close()]);
  });

  it("credentials go to the upstream's host only (not after a redirect to another host); NO_PROXY is decided per request", async () => {
    const auth = `    auth:\n      type: basic\n      username: repouser\n      password: '${REPO_PASSWORD}'\n`;
    const dir = configDir(repoYaml("x", `${origin.url}/x/`, auth), globalA() + `  no_proxy: "127.0.0.1:${new URL(target.url).port}"\n`);
    proxyA.reset();
    const r = await cli(dir, ["repo", "sync", "--repo-id", "x", "--json"], { CHANTAL_PROXY_PASSWORD: PASSWORD_A });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_downloaded: 3 } });

    // The configured upstream: through the proxy, with the repository's credentials (and the proxy's only for the proxy).
    const toOrigin = proxyA.requests.filter((p) => p.target.startsWith(origin.url));
    expect(toOrigin.length).toBeGreaterThanOrEqual(5);
    expect(toOrigin.every((p) => p.headers["authorization"] === basic("repouser", REPO_PASSWORD))).toBe(true);
    expect(
      origin.requests.every((q) => q.headers["authorization"] === basic("repouser", REPO_PASSWORD) && q.headers["proxy-authorization"] === undefined),
    ).toBe(true);
    // The redirect target: another host:port, in no_proxy, so reached directly, and without the credentials.
    expect(proxyA.requests.filter((p) => p.target.startsWith(target.url))).toHaveLength(0);
    expect(target.requests.length).toBe(toOrigin.length);
    for (const q of target.requests) {
      expect(q.headers["authorization"]).toBeUndefined();
      expect(q.headers["proxy-authorization"]).toBeUndefined();
    }
  });
});
