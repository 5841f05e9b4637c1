// The real CLI against a real nginx speaking HTTP/2 over TLS (a test CA made by openssl): every package comes over
// HTTP/2 ($server_protocol in nginx's access log), and http.max_connections_per_host caps an HTTP/1.1 upstream's
// requests in flight below download_concurrency.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../../core/free-port.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { createTlsFixtures, type TlsFixtures } from "../helpers/tls-fixtures.js";
import { describeWithTools } from "../helpers/tools.js";
import { NO_PROXY_VARS } from "../helpers/proxy-env.js";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p)) ?? "nginx";
const PACKAGES = 12;

describeWithTools(["nginx"], "HTTP/2 and connection caps", () => {
  let fx: TlsFixtures;
  let root: string;
  let base: string;
  let ngxDir: string;
  let nginx: ChildProcess | undefined;
  let port: number;
  let slow: StaticServer;
  let db: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    fx = createTlsFixtures();
    root = mkdtempSync(join(tmpdir(), "chantal-h2-up-"));
    base = mkdtempSync(join(tmpdir(), "chantal-h2-base-"));
    ngxDir = mkdtempSync(join(tmpdir(), "chantal-h2-nginx-"));
    await generateRpmRepo(join(root, "repo"), PACKAGES, 3_000);
    // Other packages for the capped repository: the pool is shared, and blobs already pooled are not downloaded again.
    await generateRpmRepo(join(root, "other"), PACKAGES, 3_000, { seedName: "capped" });
    port = await freePort();
    mkdirSync(join(ngxDir, "tmp"));
    writeFileSync(
      join(ngxDir, "nginx.conf"),
      `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
daemon off;
pid ${join(ngxDir, "nginx.pid")};
error_log ${join(ngxDir, "error.log")} warn;
events { worker_connections 64; }
http {
  log_format proto '$server_protocol $status $request_uri';
  access_log ${join(ngxDir, "access.log")} proto;
  client_body_temp_path ${join(ngxDir, "tmp")};
  proxy_temp_path ${join(ngxDir, "tmp")};
  fastcgi_temp_path ${join(ngxDir, "tmp")};
  uwsgi_temp_path ${join(ngxDir, "tmp")};
  scgi_temp_path ${join(ngxDir, "tmp")};
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${fx.server.cert};
    ssl_certificate_key ${fx.server.key};
    root ${root};
  }
}
`,
    );
    nginx = spawn(NGINX, ["-c", join(ngxDir, "nginx.conf"), "-p", ngxDir], { stdio: "ignore" });
    for (let i = 0; i < 100 && !readFileSafe(join(ngxDir, "nginx.pid")); i++) await new Promise((ok) => setTimeout(ok, 50));
    // Each package answered after 40 ms: an uncapped client would have 8 in flight.
    slow = await startStaticServer({ root, faults: (req) => (req.path.endsWith(".rpm") ? { delayMs: 40 } : undefined) });
    db = await createTestDatabase("http2");
    dir = makeConfigDir({
      "config.yaml":
        `storage:\n  base_path: ${base}\ndatabase:\n  url: ${db.url}\nhttp:\n  max_connections_per_host: 2\n  max_total_connections: 4\nrepositories:\n` +
        `  - id: h2\n    type: rpm\n    upstream_url: https://127.0.0.1:${port}/repo/\n    download_concurrency: 8\n    proxy:\n      enabled: false\n      ca_bundle: ${fx.caFile}\n` +
        `  - id: capped\n    type: rpm\n    upstream_url: ${slow.url}/other/\n    download_concurrency: 8\n`,
    });
  }, 60_000);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const closed = new Promise((ok) => nginx!.once("close", ok));
      nginx.kill("SIGTERM");
      await closed;
    }
    await slow?.close();
    await db?.drop();
    fx?.remove();
    for (const d of [root, base, ngxDir, dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("a sync from an nginx that offers HTTP/2 over TLS fetches the index and every package over HTTP/2", async () => {
    const r = await runCli(["--config-dir", dir, "repo", "sync", "--repo-id", "h2", "--json"], { env: { ...NO_PROXY_VARS, CHANTAL_LOG_LEVEL: "warn" } });
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_downloaded: PACKAGES } });
    const lines = readFileSync(join(ngxDir, "access.log"), "utf8").trim().split("\n");
    const rpms = lines.filter((l) => l.includes(".rpm"));
    expect(rpms).toHaveLength(PACKAGES);
    expect(lines.filter((l) => l.includes("repomd.xml")).length).toBeGreaterThanOrEqual(1);
    // repomd.xml.asc is looked for and absent (404): a status, not a protocol, so only the protocol is checked.
    for (const l of lines) expect(l).toMatch(/^HTTP\/2\.0 /);
    expect(rpms.every((l) => l.startsWith("HTTP/2.0 200 "))).toBe(true);
  });

  it("http.max_connections_per_host holds an HTTP/1.1 upstream's requests in flight at 2 with download_concurrency 8", async () => {
    const r = await runCli(["--config-dir", dir, "repo", "sync", "--repo-id", "capped", "--json"], { env: { ...NO_PROXY_VARS, CHANTAL_LOG_LEVEL: "warn" } });
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_downloaded: PACKAGES } });
    expect(slow.peak.inFlight).toBe(2);
    expect(slow.peak.connections).toBeLessThanOrEqual(2);
  });
});

function readFileSafe(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
