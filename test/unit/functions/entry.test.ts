import { describe, expect, it } from "vitest";
import { databaseUrlFromSstResource, parseTaskInput } from "../../../functions/entry.js";
import { UsageError } from "../../../core/errors.js";

describe("parseTaskInput", () => {
  it.each([
    [["sync", "--repo-id", "r1"], {}, { handler: "sync", repoId: "r1", trigger: "cloud" }],
    [["sync", "--repo-id", "r1", "--snapshot", "{repo_id}-{date}"], {}, { handler: "sync", repoId: "r1", trigger: "cloud", snapshotTemplate: "{repo_id}-{date}" }],
    [["backup"], {}, { handler: "backup", trigger: "cloud" }],
    [[], { SST_EVENT: '{"handler":"sync","repoId":"r2","trigger":"cloud"}' }, { handler: "sync", repoId: "r2", trigger: "cloud" }],
    [[], { SST_EVENT: '{"handler":"backup"}' }, { handler: "backup", trigger: "cloud" }],
    [["backup"], { SST_EVENT: '{"handler":"sync","repoId":"ignored"}' }, { handler: "backup", trigger: "cloud" }],
  ])("%j with %j", (args, env, expected) => {
    expect(parseTaskInput(args, env)).toEqual(expected);
  });

  it.each([
    [[], {}, /no task/],
    [["sync"], {}, /repoId/],
    [["frobnicate"], {}, /unknown handler "frobnicate"/],
    [["sync", "--repo-id"], {}, /unexpected argument "--repo-id"/],
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
