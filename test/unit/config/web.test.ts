// The web: section (core/config/schema.ts checkWebListener): one listener address, metrics.listen its older name, web.auth required off loopback.
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { configSecrets } from "../../../core/config/secrets.js";
import { isLoopbackHost } from "../../../core/config/schema.js";
import { ConfigError } from "../../../core/errors.js";
import { makeConfigDir } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const d = makeConfigDir({ "config.yaml": `storage:\n  base_path: /tmp/x\n${yaml}` });
  dirs.push(d);
  return loadConfig({ configDir: d, env });
}

async function issuesOf(yaml: string): Promise<string> {
  try {
    await load(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return "";
}

describe("web:", () => {
  it("accepts a loopback listener without auth, and metrics.listen as its older name", async () => {
    expect((await load("web:\n  listen: 127.0.0.1:9464\n")).config.web).toEqual({ listen: "127.0.0.1:9464" });
    expect((await load("metrics:\n  listen: localhost:9464\n")).config.metrics.listen).toBe("localhost:9464");
    expect((await load("web:\n  listen: 127.0.0.1:9464\nmetrics:\n  listen: 127.0.0.1:9464\n")).config.web.listen).toBe("127.0.0.1:9464");
    expect((await load("web:\n  listen: '[::1]:9464'\n")).config.web.listen).toBe("[::1]:9464");
  });

  it("refuses a non-loopback listener without web.auth (either name), naming the fix", async () => {
    expect(await issuesOf("web:\n  listen: 0.0.0.0:9464\n")).toMatch(/web\.listen.*0\.0\.0\.0:9464 is reachable from other hosts: set web\.auth/);
    expect(await issuesOf("metrics:\n  listen: 192.0.2.1:9464\n")).toMatch(/metrics\.listen.*192\.0\.2\.1:9464 is reachable from other hosts/);
  });

  it("accepts one with basic credentials or a bearer token from ${VARIABLES}; they count as secrets", async () => {
    const basic = await load("web:\n  listen: 0.0.0.0:9464\n  auth:\n    basic: { username: ops, password: '${WEB_PASS}' }\n", {
      WEB_PASS: "long-enough-pass",
    });
    expect(basic.config.web.auth).toEqual({ basic: { username: "ops", password: "long-enough-pass" } });
    expect(configSecrets(basic.config)).toContain("long-enough-pass");
    const bearer = await load("web:\n  listen: 0.0.0.0:9464\n  auth:\n    bearer_token: ${TOKEN}\n", { TOKEN: "0123456789abcdef0123" });
    expect(configSecrets(bearer.config)).toContain("0123456789abcdef0123");
  });

  it("refuses both schemes, neither, short secrets, and two different listener addresses", async () => {
    expect(await issuesOf("web:\n  auth:\n    bearer_token: 0123456789abcdef0123\n    basic: { username: a, password: long-enough }\n")).toMatch(
      /web\.auth.*give basic or bearer_token \(one of them\)/,
    );
    expect(await issuesOf("web:\n  auth: {}\n")).toMatch(/give basic or bearer_token/);
    expect(await issuesOf("web:\n  auth:\n    bearer_token: short\n")).toMatch(/bearer_token.*at least 16 characters/);
    expect(await issuesOf("web:\n  auth:\n    basic: { username: a, password: short }\n")).toMatch(/password.*at least 8 characters/);
    expect(await issuesOf("web:\n  listen: 127.0.0.1:1\nmetrics:\n  listen: 127.0.0.1:2\n")).toMatch(/metrics\.listen.*keep web\.listen only/);
    expect(await issuesOf("web:\n  listen: nohost\n")).toMatch(/must be host:port/);
  });
});

describe("isLoopbackHost", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.10.0.3", true],
    ["localhost", true],
    ["LOCALHOST", true],
    ["::1", true],
    ["[::1]", true],
    ["0.0.0.0", false],
    ["::", false],
    ["127.0.0.1.example.org", false],
    ["192.168.1.1", false],
    ["example.org", false],
  ])("%s: %s", (host, expected) => expect(isLoopbackHost(host)).toBe(expected));
});
