// The real CLI through a real squid with basic auth (apt-get install squid apache2-utils): plain forwarding for an
// http:// upstream, CONNECT for an https:// one, and squid's 407 for a wrong password. Squid runs on a free
// 127.0.0.1 port with a generated config, its own pid/log dirs under a temp dir, and is stopped by PID.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli, type CliResult } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { createTlsFixtures, startHttpsFront, type HttpsFront, type TlsFixtures } from "../helpers/tls-fixtures.js";
import { describeWithTools } from "../helpers/tools.js";
import { NO_PROXY_VARS } from "../helpers/proxy-env.js";

const USER = "squser";
const PASSWORD = "sq-p@ss:w/rd%é€";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", () => ok()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const c = connect(port, "127.0.0.1", () => {
      c.destroy();
      ok(true);
    });
    c.on("error", () => ok(false));
  });
}

function helperPath(): string {
  for (const p of ["/usr/lib/squid/basic_ncsa_auth", "/usr/lib64/squid/basic_ncsa_auth", "/usr/libexec/squid/basic_ncsa_auth"]) if (existsSync(p)) return p;
  throw new Error("basic_ncsa_auth not found (apt-get install squid)");
}

interface Squid {
  url: string;
  dir: string;
  accessLog(): string;
  /** The access log once it matches (or after 5 s, as it is). */
  waitForLog(re: RegExp): Promise<string>;
  stop(): Promise<void>;
}

async function startSquid(): Promise<Squid> {
  const dir = mkdtempSync(join(tmpdir(), "chantal-squid-"));
  // Squid started as root drops to the "proxy" user: it must be able to write its logs here.
  chmodSync(dir, 0o777);
  const passwd = join(dir, "passwd");
  execFileSync("htpasswd", ["-b", "-c", "-B", passwd, USER, PASSWORD], { stdio: "ignore" });
  chmodSync(passwd, 0o644);
  const port = await freePort();
  const conf = join(dir, "squid.conf");
  writeFileSync(
    conf,
    [
      `http_port 127.0.0.1:${port}`,
      `pid_filename ${dir}/squid.pid`,
      `cache_log ${dir}/cache.log`,
      `access_log stdio:${dir}/access.log squid`,
      "cache_store_log none",
      "cache deny all",
      `coredump_dir ${dir}`,
      "netdb_filename none",
      "pinger_enable off",
      "shutdown_lifetime 0 seconds",
      `auth_param basic program ${helperPath()} ${passwd}`,
      "auth_param basic children 2 startup=1",
      "auth_param basic realm chantal-test",
      // Only loopback targets, whatever a test asks for; CONNECT to any loopback port (our HTTPS fronts).
      "acl loopback_dst dst 127.0.0.0/8",
      "acl authed proxy_auth REQUIRED",
      "http_access deny !loopback_dst",
      "http_access allow authed",
      "http_access deny all",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn("squid", ["-N", "-f", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  const deadline = Date.now() + 20_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`squid did not start: ${stderr}\n${existsSync(join(dir, "cache.log")) ? readFileSync(join(dir, "cache.log"), "utf8") : ""}`);
    }
    await sleep(100);
  }
  const accessLog = () => (existsSync(join(dir, "access.log")) ? readFileSync(join(dir, "access.log"), "utf8") : "");
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    accessLog,
    async waitForLog(re) {
      for (const until = Date.now() + 5_000; !re.test(accessLog()) && Date.now() < until; ) await sleep(50);
      return accessLog();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeWithTools(["squid", "htpasswd"], "through squid with basic auth", () => {
  let squid: Squid;
  let fx: TlsFixtures;
  let root: string;
  let base: string;
  let http: StaticServer;
  let front: HttpsFront;
  let db: TestDatabase;
  const dirs: string[] = [];

  const config = (password: string) => {
    const dir = makeConfigDir({
      "config.yaml":
        `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\n` +
        `proxy:\n  http_proxy: ${squid.url}\n  https_proxy: ${squid.url}\n  username: ${USER}\n  password: "${password}"\n  ca_bundle: ${fx.caFile}\n` +
        `repositories:\n` +
        `  - id: sq-http\n    type: rpm\n    upstream_url: ${http.url}/sq-http/\n    download_concurrency: 2\n` +
        `  - id: sq-https\n    type: rpm\n    upstream_url: ${front.url}/sq-https/\n    download_concurrency: 2\n`,
    });
    dirs.push(dir);
    return dir;
  };
  const cli = (dir: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runCli(["--config-dir", dir, ...args], { env: { ...NO_PROXY_VARS, CHANTAL_LOG_LEVEL: "warn", ...env } });

  beforeAll(async () => {
    squid = await startSquid();
    fx = createTlsFixtures();
    root = mkdtempSync(join(tmpdir(), "chantal-squid-up-"));
    base = mkdtempSync(join(tmpdir(), "chantal-squid-base-"));
    // Different payload sizes: different blobs, so both repositories download their packages.
    await generateRpmRepo(join(root, "sq-http"), 3, 1_100);
    await generateRpmRepo(join(root, "sq-https"), 3, 1_300);
    http = await startStaticServer({ root });
    front = await startHttpsFront({ target: http.url, server: fx.server });
    db = await createTestDatabase("squid");
  });

  afterAll(async () => {
    await squid?.stop();
    await Promise.all([http?.close(), front?.close()]);
    await db?.drop();
    fx?.remove();
    for (const d of [root, base, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("syncs an http:// upstream (forwarded) and an https:// one (CONNECT, ca_bundle) through squid with basic auth", async () => {
    const r = await cli(config("${SQUID_PASSWORD}"), ["repo", "sync", "--all", "--json"], { SQUID_PASSWORD: PASSWORD });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { status: string }[]).map((x) => x.status)).toEqual(["success", "success"]);
    // Squid logs a tunnel when it closes: give it a moment after the CLI exited.
    const log = await squid.waitForLog(new RegExp(`/200 \\d+ CONNECT ${new URL(front.url).host} ${USER} `));
    expect(log).toMatch(new RegExp(`TCP_MISS/200 \\d+ GET ${http.url}/sq-http/repodata/repomd\\.xml ${USER} `));
    expect(log.split("\n").filter((l) => new RegExp(`TCP_MISS/200 \\d+ GET ${http.url}/sq-http/\\S+\\.rpm ${USER} `).test(l))).toHaveLength(3);
    expect(log).toMatch(new RegExp(`/200 \\d+ CONNECT ${new URL(front.url).host} ${USER} `));
    // Squid saw no URL inside the tunnel; the front served the whole repository.
    expect(log).not.toContain("/sq-https/");
    expect(front.requests.filter((q) => q.path.startsWith("/sq-https/") && q.path.endsWith(".rpm"))).toHaveLength(3);
    expect(http.requests.every((q) => q.headers["proxy-authorization"] === undefined)).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it("a wrong password: squid's 407 becomes a clear error, exit 1, for forwarding and for CONNECT", async () => {
    const dir = config("not-the-password");
    const plain = await cli(dir, ["repo", "sync", "--repo-id", "sq-http", "--full"]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(`error: proxy ${squid.url} rejected the credentials (407) for repository sq-http`);
    const tunnel = await cli(dir, ["proxy", "explain", "--repo-id", "sq-https", "--test"]);
    expect(tunnel.code).toBe(1);
    expect(tunnel.stdout).toContain(`FAILED after`);
    expect(tunnel.stdout).toContain(`proxy ${squid.url} rejected the credentials (407) for repository sq-https`);
    expect(await squid.waitForLog(/TCP_DENIED\/407 \d+ CONNECT /)).toMatch(/TCP_DENIED\/407 \d+ CONNECT /);
  });
});
