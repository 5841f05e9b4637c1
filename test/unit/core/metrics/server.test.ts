// The metrics HTTP server on 127.0.0.1 with a stub render: GET /metrics, 404 elsewhere, 405 for other methods, 500 on a failed collect; parseListen.
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../../core/log.js";
import { type MetricsServer, parseListen, startMetricsServer } from "../../../../core/metrics/server.js";

const log = createLogger({ level: "silent" });
let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

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

describe("startMetricsServer", () => {
  it("serves GET /metrics only", async () => {
    server = await startMetricsServer({ host: "127.0.0.1", port: 0 }, async () => "# TYPE x gauge\nx 1\n", log);
    const ok = await fetch(`${server.url}/metrics?x=1`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await ok.text()).toBe("# TYPE x gauge\nx 1\n");
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    expect((await fetch(`${server.url}/metricsx`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
  });

  it("answers 500 with the reason when collecting fails, and keeps serving", async () => {
    let fail = true;
    server = await startMetricsServer(
      { host: "127.0.0.1", port: 0 },
      async () => {
        if (fail) throw new Error("database gone");
        return "";
      },
      log,
    );
    const r = await fetch(`${server.url}/metrics`);
    expect(r.status).toBe(500);
    expect(await r.text()).toMatch(/database gone/);
    fail = false;
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  });

  it("names the address and the fix when the port is taken", async () => {
    server = await startMetricsServer({ host: "127.0.0.1", port: 0 }, async () => "", log);
    const port = Number(new URL(server.url).port);
    await expect(startMetricsServer({ host: "127.0.0.1", port }, async () => "", log)).rejects.toThrow(
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}.*metrics\\.listen or --http`),
    );
  });
});
