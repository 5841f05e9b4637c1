// Tests of functions/entry.ts.
import { describe, expect, it } from "vitest";
import { databaseUrlFromSstResource, parseTaskInput } from "../../../functions/entry.js";
import { UsageError } from "../../../core/errors.js";

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

describe("databaseUrlFromSstResource", () => {
  it("builds a URL from the linked resource, encoding credentials", () => {
    const env = { SST_RESOURCE_Database: JSON.stringify({ host: "db.internal", port: 5433, username: "chantal", password: "p@ss/w:rd", database: "chantal" }) };
    expect(databaseUrlFromSstResource(env)).toBe("postgres://chantal:p%40ss%2Fw%3Ard@db.internal:5433/chantal");
    expect(databaseUrlFromSstResource({})).toBeUndefined();
  });
});
