// Tests of functions/entry.ts.
import { describe, expect, it } from "vitest";
import { parseTaskInput, taskDatabaseUrl } from "../../../functions/entry.js";
import { ConfigError, UsageError } from "../../../core/errors.js";

describe("parseTaskInput", () => {
  it.each([
    [["sync", "--repo-id", "r1"], {}, { handler: "sync", repoId: "r1", trigger: "cloud" }],
    [
      ["sync", "--repo-id", "r1", "--snapshot", "{repo_id}-{date}"],
      {},
      { handler: "sync", repoId: "r1", trigger: "cloud", snapshotTemplate: "{repo_id}-{date}" },
    ],
    [["sync", "--snapshot", "s-{date}", "--repo-id", "r1"], {}, { handler: "sync", repoId: "r1", trigger: "cloud", snapshotTemplate: "s-{date}" }],
    [["sync", "--repo-id=r1"], {}, { handler: "sync", repoId: "r1", trigger: "cloud" }],
    [["backup"], {}, { handler: "backup", trigger: "cloud" }],
    [[], { SST_EVENT: '{"handler":"sync","repoId":"r2","trigger":"cloud"}' }, { handler: "sync", repoId: "r2", trigger: "cloud" }],
    [[], { SST_EVENT: '{"handler":"backup"}' }, { handler: "backup", trigger: "cloud" }],
    [["pool-gc"], {}, { handler: "pool-gc", trigger: "cloud" }],
    [[], { SST_EVENT: '{"handler":"pool-gc","trigger":"schedule"}' }, { handler: "pool-gc", trigger: "schedule" }],
    [["backup"], { SST_EVENT: '{"handler":"sync","repoId":"ignored"}' }, { handler: "backup", trigger: "cloud" }],
    [["group-snapshot", "--group", "el9"], {}, { handler: "group-snapshot", groupId: "el9", trigger: "cloud" }],
    [
      ["group-snapshot", "--group", "el9", "--name", "el9-{date}"],
      {},
      { handler: "group-snapshot", groupId: "el9", trigger: "cloud", nameTemplate: "el9-{date}" },
    ],
    [[], { SST_EVENT: '{"handler":"group-snapshot","groupId":"el9","trigger":"cloud"}' }, { handler: "group-snapshot", groupId: "el9", trigger: "cloud" }],
  ])("%j with %j", (args, env, expected) => {
    expect(parseTaskInput(args, env)).toEqual(expected);
  });

  it.each([
    [[], {}, /no task/],
    [["sync"], {}, /repoId/],
    [["frobnicate"], {}, /unknown handler "frobnicate"/],
    [
      ["sync", "--repo-id"],
      {},
      /unexpected argument "--repo-id" \(usage: entry sync --repo-id ID \[--snapshot TEMPLATE\] \| entry backup \| entry pool-gc \| entry group-snapshot --group ID \[--name TEMPLATE\]\)/,
    ],
    [["group-snapshot"], {}, /groupId/],
    [["group-snapshot", "--repo-id", "r1"], {}, /unexpected argument "--repo-id"/],
    [["sync", "--repo-id", "r1", "--group", "g"], {}, /unexpected argument "--group"/],
    [["sync", "--repo-id", "r1", "extra"], {}, /unexpected argument "extra"/],
    [["sync", "--repo-id", "--snapshot", "x"], {}, /unexpected argument "x"/],
    [["sync", "--repo-id", "r1", "--snapshot"], {}, /unexpected argument "--snapshot"/],
    [["sync", "--repo-id", "r1", "--unknown", "v"], {}, /unexpected argument "--unknown"/],
    [["sync", "-r", "r1"], {}, /unexpected argument "-r"/],
    [["sync", "--", "r1"], {}, /unexpected argument "--"/],
    [["backup", "--repo-id", "r1"], {}, /unexpected argument "--repo-id"/],
    [["frobnicate", "--repo-id", "r1"], {}, /unknown handler "frobnicate"/],
    [[], { SST_EVENT: "{not json" }, /SST_EVENT is not valid JSON/],
    [[], { SST_EVENT: '{"handler":"sync","repoId":"r","extra":1}' }, /invalid task input/],
  ])("refuses %j %j", (args, env, message) => {
    expect(() => parseTaskInput(args, env)).toThrow(UsageError);
    expect(() => parseTaskInput(args, env)).toThrow(message);
  });
});

describe("taskDatabaseUrl", () => {
  const parts = { CHANTAL_DATABASE_HOST: "db.internal", CHANTAL_DATABASE_PORT: "5433", CHANTAL_DATABASE_USER: "chantal", CHANTAL_DATABASE_NAME: "chantal" };

  it("is undefined without the app's variables (a local run keeps database.url or CHANTAL_DATABASE_URL)", () =>
    expect(taskDatabaseUrl({ CHANTAL_DATABASE_URL: "postgres://x@y/z" })).toBeUndefined());

  it.each([
    ["p@ss/w:rd", "p%40ss%2Fw%3Ard"],
    ["100% #1?a=b&c", "100%25%20%231%3Fa%3Db%26c"],
    ["[x]+é\\'\"", "%5Bx%5D%2B%C3%A9%5C'%22"],
  ])("percent-encodes the password %j", (password, encoded) => {
    const url = taskDatabaseUrl({ ...parts, CHANTAL_DATABASE_PASSWORD: password });
    expect(url).toBe(`postgres://chantal:${encoded}@db.internal:5433/chantal`);
    // pg decodes the userinfo of a parsed URL (pg-connection-string): the password comes back unchanged.
    const u = new URL(url as string);
    expect([decodeURIComponent(u.password), u.hostname, u.port, u.pathname]).toEqual([password, "db.internal", "5433", "/chantal"]);
  });

  it("encodes the user and the name, brackets an IPv6 host, defaults the port", () => {
    const url = taskDatabaseUrl({
      CHANTAL_DATABASE_HOST: "fd00::5",
      CHANTAL_DATABASE_USER: "a@b",
      CHANTAL_DATABASE_NAME: "c/d",
      CHANTAL_DATABASE_PASSWORD: "x",
    });
    expect(url).toBe("postgres://a%40b:x@[fd00::5]:5432/c%2Fd");
  });

  it.each([
    [
      "CHANTAL_DATABASE_PASSWORD",
      /CHANTAL_DATABASE_PASSWORD: is not set .*SSM parameter \/chantal\/<stage>\/CHANTAL_DATABASE_PASSWORD, which sst deploy creates/,
    ],
    ["CHANTAL_DATABASE_HOST", /CHANTAL_DATABASE_HOST: is not set .*sst deploy sets all of/],
    ["CHANTAL_DATABASE_USER", /CHANTAL_DATABASE_USER: is not set/],
    ["CHANTAL_DATABASE_NAME", /CHANTAL_DATABASE_NAME: is not set/],
  ])("a missing %s is a configuration error naming it (exit 78)", (name, message) => {
    const env: Record<string, string> = { ...parts, CHANTAL_DATABASE_PASSWORD: "s3cret" };
    delete env[name];
    let err: unknown;
    try {
      taskDatabaseUrl(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(78);
    expect((err as ConfigError).message).toMatch(message);
    expect((err as ConfigError).message).not.toContain("s3cret");
  });

  it("a port that is not one is refused, naming the variable", () =>
    expect(() => taskDatabaseUrl({ ...parts, CHANTAL_DATABASE_PORT: "54x", CHANTAL_DATABASE_PASSWORD: "p" })).toThrow(
      /CHANTAL_DATABASE_PORT: is "54x", not a TCP port/,
    ));

  it.each([
    ["verify-full", "?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fcerts%2Frds-global-bundle.pem"],
    ["require", "?sslmode=no-verify"],
    [undefined, ""],
  ])("CHANTAL_DATABASE_TLS=%s adds %j", (tls, query) => {
    const env = { ...parts, CHANTAL_DATABASE_PASSWORD: "p", ...(tls ? { CHANTAL_DATABASE_TLS: tls } : {}) };
    expect(taskDatabaseUrl(env)).toBe(`postgres://chantal:p@db.internal:5433/chantal${query}`);
  });
});
