// The listener on 127.0.0.1 without a database behind it: parseListen and listenerPlan, 405 and 404, web.auth's 401, the loopback Host check,
// the security headers, the stylesheet, 500 when the database fails, and a taken port. The pages themselves: test/integration/web.test.ts.
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { Config } from "../../../../core/config/schema.js";
import { createLogger } from "../../../../core/log.js";
import { listenerPlan, parseListen } from "../../../../core/web/listen.js";
import type { WebSources } from "../../../../core/web/queries.js";
import { SECURITY_HEADERS, startWebServer, type WebServer } from "../../../../core/web/server.js";

const log = createLogger({ level: "silent" });
let server: WebServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A database that is gone: every query fails (what the 500 path answers). */
const goneDatabase = (): WebSources =>
  ({
    db: { query: async () => Promise.reject(new Error("database gone")) },
    config: { repositories: [], groups: [], environments: [], freshness: { max_age: "36h", valid_until_warning: "3d" } },
    now: () => new Date(),
  }) as unknown as WebSources;

const local = { host: "127.0.0.1", port: 0 };

/** A GET with a Host header of our choosing (fetch does not let one set it). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("parseListen", () => {
  it.each([
    ["127.0.0.1:9464", { host: "127.0.0.1", port: 9464 }],
    ["9464", { host: "127.0.0.1", port: 9464 }],
    ["[::1]:9464", { host: "::1", port: 9464 }],
    ["0.0.0.0:1", { host: "0.0.0.0", port: 1 }],
  ])("%s", (text, expected) => expect(parseListen(text)).toEqual(expected));
  it.each(["", "host:", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:http"])("refuses %j", (text) =>
    expect(() => parseListen(text)).toThrow(/is not host:port.*127\.0\.0\.1:9464/),
  );
});

describe("listenerPlan", () => {
  const cfg = (web: Config["web"], metrics: Config["metrics"] = {}) => ({ web, metrics });
  it("--http beats web.listen beats metrics.listen; none: no listener", () => {
    expect(listenerPlan(cfg({}))).toBeNull();
    expect(listenerPlan(cfg({}, { listen: "127.0.0.1:1" }))?.address).toEqual({ host: "127.0.0.1", port: 1 });
    expect(listenerPlan(cfg({ listen: "127.0.0.1:2" }, { listen: "127.0.0.1:1" }))?.address.port).toBe(2);
    expect(listenerPlan(cfg({ listen: "127.0.0.1:2" }), "localhost:3")?.address).toEqual({ host: "localhost", port: 3 });
  });
  it("refuses --http on a non-loopback address without web.auth, and allows it with", () => {
    expect(() => listenerPlan(cfg({}), "0.0.0.0:9464")).toThrow(/--http 0\.0\.0\.0:9464 is reachable from other hosts.*web\.auth/);
    const auth = { bearer_token: "0123456789abcdef-token" };
    expect(listenerPlan(cfg({ auth }), "0.0.0.0:9464")?.auth).toEqual(auth);
  });
});

describe("startWebServer", () => {
  it("is read-only: 405 with Allow for other methods, on every path", async () => {
    server = await startWebServer({ address: local, auth: undefined }, goneDatabase, log);
    for (const path of ["/", "/metrics", "/api/repositories", "/nothing"]) {
      const r = await fetch(`${server.url}${path}`, { method: "POST" });
      expect(r.status).toBe(405);
      expect(r.headers.get("allow")).toBe("GET, HEAD");
    }
    expect((await fetch(`${server.url}/api/repositories`, { method: "DELETE" })).status).toBe(405);
  });

  it("404: an HTML page, or JSON under /api/; security headers on every answer; the stylesheet", async () => {
    server = await startWebServer({ address: local, auth: undefined }, goneDatabase, log);
    const page = await fetch(`${server.url}/nothing<b>`);
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain("nothing at /nothing%3Cb%3E");
    const api = await fetch(`${server.url}/api/nothing`);
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: expect.stringMatching(/no such endpoint/) });
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) expect(page.headers.get(k)).toBe(v);
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
    const css = await fetch(`${server.url}/style.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(css.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("answers 500 with the reason when the database fails: pages, /api/ and /metrics", async () => {
    server = await startWebServer({ address: local, auth: undefined }, goneDatabase, log);
    for (const path of ["/", "/api/repositories", "/metrics"]) {
      const r = await fetch(`${server.url}${path}`);
      expect(r.status, path).toBe(500);
      expect(await r.text()).toMatch(/database gone/);
    }
  });

  it("without web.auth answers only to a loopback Host header (DNS rebinding)", async () => {
    server = await startWebServer({ address: local, auth: undefined }, goneDatabase, log);
    const port = new URL(server.url).port;
    expect(await getWithHost(`${server.url}/style.css`, `127.0.0.1:${port}`)).toBe(200);
    expect(await getWithHost(`${server.url}/style.css`, `localhost:${port}`)).toBe(200);
    expect(await getWithHost(`${server.url}/style.css`, `[::1]:${port}`)).toBe(200);
    expect(await getWithHost(`${server.url}/style.css`, `evil.example:${port}`)).toBe(421);
    expect(await getWithHost(`${server.url}/style.css`, "127.0.0.1.evil.example")).toBe(421);
  });

  it("with web.auth: 401 with a challenge without or with wrong credentials, on every path; the right ones pass", async () => {
    server = await startWebServer({ address: local, auth: { basic: { username: "ops", password: "s3cret-pass" } } }, goneDatabase, log);
    for (const path of ["/", "/style.css", "/metrics", "/api/repositories", "/nothing"]) {
      const r = await fetch(`${server.url}${path}`);
      expect(r.status, path).toBe(401);
      expect(r.headers.get("www-authenticate")).toMatch(/^Basic realm="chantal"/);
    }
    const wrong = { authorization: `Basic ${Buffer.from("ops:nope").toString("base64")}` };
    expect((await fetch(`${server.url}/style.css`, { headers: wrong })).status).toBe(401);
    const right = { authorization: `Basic ${Buffer.from("ops:s3cret-pass").toString("base64")}` };
    expect((await fetch(`${server.url}/style.css`, { headers: right })).status).toBe(200);
    // With credentials any Host is served (a proxy or another host may name it).
    expect((await fetch(`${server.url}/nothing`, { headers: right })).status).toBe(404);
  });

  it("names the address and the fix when the port is taken", async () => {
    server = await startWebServer({ address: local, auth: undefined }, goneDatabase, log);
    const port = Number(new URL(server.url).port);
    await expect(startWebServer({ address: { host: "127.0.0.1", port }, auth: undefined }, goneDatabase, log)).rejects.toThrow(
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}.*metrics\\.listen or --http`),
    );
  });
});
