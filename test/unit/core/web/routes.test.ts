// resolveRoute: pages, /api/ endpoints, /metrics and the stylesheet; 404 and 405; repository ids decoded from one segment.
import { describe, expect, it } from "vitest";
import { repositoryPath, resolveRoute } from "../../../../core/web/routes.js";

const brief = (method: string, url: string) => {
  const r = resolveRoute(method, url);
  if (r.status !== 200) return r;
  const route = r.route;
  return "view" in route ? { kind: route.kind, view: route.view, repoId: route.repoId, params: Object.fromEntries(route.params) } : { kind: route.kind };
};

describe("resolveRoute", () => {
  it.each([
    ["GET", "/", { kind: "page", view: "repositories", repoId: undefined, params: {} }],
    ["HEAD", "/repositories", { kind: "page", view: "repositories", repoId: undefined, params: {} }],
    ["GET", "/repositories/epel-9", { kind: "page", view: "repository", repoId: "epel-9", params: {} }],
    ["GET", "/repositories/epel-9/", { kind: "page", view: "repository", repoId: "epel-9", params: {} }],
    ["GET", "/repositories/a%2Fb", { kind: "page", view: "repository", repoId: "a/b", params: {} }],
    ["GET", "/repositories/r1/diff?from=s1&to=s2", { kind: "page", view: "diff", repoId: "r1", params: { from: "s1", to: "s2" } }],
    ["GET", "/runs?repo=r1&limit=5", { kind: "page", view: "runs", repoId: undefined, params: { repo: "r1", limit: "5" } }],
    ["GET", "/groups", { kind: "page", view: "groups", repoId: undefined, params: {} }],
    ["GET", "/backups", { kind: "page", view: "backups", repoId: undefined, params: {} }],
    ["GET", "/pool", { kind: "page", view: "pool", repoId: undefined, params: {} }],
    ["GET", "/api/repositories", { kind: "api", view: "repositories", repoId: undefined, params: {} }],
    ["GET", "/api/repositories/r1", { kind: "api", view: "repository", repoId: "r1", params: {} }],
    ["GET", "/api/repositories/r1/diff?from=a&to=b", { kind: "api", view: "diff", repoId: "r1", params: { from: "a", to: "b" } }],
    ["GET", "/api/runs", { kind: "api", view: "runs", repoId: undefined, params: {} }],
    ["GET", "/api/groups", { kind: "api", view: "groups", repoId: undefined, params: {} }],
    ["GET", "/api/backups", { kind: "api", view: "backups", repoId: undefined, params: {} }],
    ["GET", "/api/pool", { kind: "api", view: "pool", repoId: undefined, params: {} }],
    ["GET", "/api/scheduler", { kind: "api", view: "scheduler", repoId: undefined, params: {} }],
    ["GET", "/metrics", { kind: "metrics" }],
    ["GET", "/metrics?x=1", { kind: "metrics" }],
    ["GET", "/style.css", { kind: "stylesheet" }],
  ])("%s %s", (method, url, expected) => expect(brief(method, url)).toEqual(expected));

  it.each([
    ["/nothing", false],
    ["/metricsx", false],
    ["/repositories/r1/diff/x", false],
    ["/repositories/%E0%A4%A", false],
    ["//", false],
    ["/api", true],
    ["/api/", true],
    ["/api/nothing", true],
    ["/api/repositories/r1/snapshots", true],
  ])("404 for %s (api: %s)", (url, api) => expect(resolveRoute("GET", url)).toEqual({ status: 404, api }));

  it.each(["POST", "PUT", "DELETE", "PATCH", "OPTIONS", undefined])("405 for %s, on every path", (method) => {
    expect(resolveRoute(method, "/metrics")).toEqual({ status: 405 });
    expect(resolveRoute(method, "/api/repositories")).toEqual({ status: 405 });
    expect(resolveRoute(method, "/nothing")).toEqual({ status: 405 });
  });

  it("repositoryPath encodes the id as one segment, and resolveRoute reads it back", () => {
    const id = "odd/id?x=<y>";
    const r = resolveRoute("GET", repositoryPath(id, "/diff"));
    expect(r.status === 200 && "repoId" in r.route && r.route.repoId).toBe(id);
  });
});
