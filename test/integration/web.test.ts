// The daemon's listener against real syncs (one ok with two snapshots, one failing, one stale): the JSON API (/api/...) and web.auth
// (401 without the bearer token on a config that listens beyond loopback, 200 with), the pages escaping an upstream package name, 405.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, type DashboardFixture, setUpDashboard, startDaemon, XSS_DESCRIPTION, XSS_NAME } from "../helpers/dashboard-fixture.js";

const TOKEN = "dashboard-test-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

let fx: DashboardFixture;
let daemon: Daemon | undefined;

beforeAll(async () => {
  fx = await setUpDashboard();
}, 240_000);

afterAll(async () => {
  await daemon?.stop();
  await fx?.close();
});

async function api<T = unknown>(path: string): Promise<T> {
  const r = await fetch(`${daemon!.url}${path}`, { headers: auth });
  expect(r.status, `${path}: ${await r.clone().text()}`).toBe(200);
  expect(r.headers.get("content-type")).toBe("application/json");
  return r.json() as Promise<T>;
}

describe("web listener: JSON API and auth", () => {
  it("config validate refuses a listener beyond loopback without web.auth, and accepts it with", async () => {
    mkdirSync(join(fx.env.configDir, "conf.d"), { recursive: true });
    const file = join(fx.env.configDir, "conf.d", "web.yaml");
    writeFileSync(file, "web:\n  listen: 0.0.0.0:9464\n");
    const bad = await fx.env.cli("config", "validate");
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/web\.listen.*0\.0\.0\.0:9464 is reachable from other hosts: set web\.auth/);
    writeFileSync(file, `web:\n  listen: 0.0.0.0:9464\n  auth:\n    bearer_token: ${TOKEN}\n`);
    const good = await fx.env.cli("config", "validate");
    expect(good.code, good.stderr).toBe(0);
    rmSync(file);
    // --http to such an address without web.auth: refused before the daemon starts (also with --daemon, on the terminal).
    for (const extra of [[], ["--daemon"]]) {
      const r = await fx.env.cli("scheduler", "start", "--http", "0.0.0.0:9464", ...extra);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--http 0\.0\.0\.0:9464 is reachable from other hosts and web\.auth is not set/);
    }
  }, 60_000);

  it("the daemon with web.auth: 401 without or with a wrong token on every path, 200 with it", async () => {
    // web.listen names all interfaces (needing auth); --http keeps the test on 127.0.0.1, the credentials still apply.
    daemon = await startDaemon(fx.env, { webYaml: `web:\n  listen: 0.0.0.0:9464\n  auth:\n    bearer_token: ${TOKEN}\n`, headers: auth });
    for (const path of ["/", "/repositories/good", "/api/repositories", "/metrics", "/style.css"]) {
      const r = await fetch(`${daemon.url}${path}`);
      expect(r.status, path).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe('Bearer realm="chantal"');
      expect((await fetch(`${daemon.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    }
    expect((await fetch(`${daemon.url}/metrics`, { headers: auth })).status).toBe(200);
  }, 120_000);

  it("/api/repositories: each repository's freshness, last run with its error, next run", async () => {
    const repos =
      await api<
        {
          id: string;
          freshness: { state: string };
          last_run: { status: string; error: string | null } | null;
          next_run: string | null;
          description: string | null;
        }[]
      >("/api/repositories");
    expect(Object.fromEntries(repos.map((r) => [r.id, r.freshness.state]))).toEqual({ good: "ok", quick: "stale", broken: "failing" });
    const broken = repos.find((r) => r.id === "broken")!;
    expect(broken.last_run?.status).toBe("failed");
    expect(broken.last_run?.error).toMatch(new RegExp(`127\\.0\\.0\\.1:${fx.deadPort}|ECONNREFUSED|refused`));
    const good = repos.find((r) => r.id === "good")!;
    expect(good.description).toBe(XSS_DESCRIPTION);
    const next = new Date(good.next_run!);
    expect(next.getUTCHours()).toBe(4);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime()).toBeLessThanOrEqual(Date.now() + 86_400_000);
    expect(repos.find((r) => r.id === "quick")!.next_run).toBeNull();
    const sched = await api<{ next_runs: { job: string; at: string }[] }>("/api/scheduler");
    expect(sched.next_runs.find((j) => j.job === "sync:good")?.at).toBe(good.next_run);
  });

  it("/api/repositories/good: the run history and snapshots; /api/runs filters by repository", async () => {
    const r = await api<{ runs: { status: string; snapshot: string | null }[]; snapshots: { name: string; package_count: number }[]; groups: string[] }>(
      "/api/repositories/good",
    );
    expect(r.runs.map((x) => [x.status, x.snapshot])).toEqual([
      ["success", "s2"],
      ["success", "s1"],
    ]);
    expect(r.snapshots.map((s) => [s.name, s.package_count])).toEqual([
      ["G1", 4], // the group snapshot's member
      ["s2", 4],
      ["s1", 3],
    ]);
    expect(r.groups).toEqual(["el"]);
    const runs = await api<{ repository: string; status: string; error: string | null }[]>("/api/runs?repo=broken");
    expect(runs.map((x) => [x.repository, x.status])).toEqual([["broken", "failed"]]);
    expect(runs[0]!.error).toBeTruthy();
    const notFound = await fetch(`${daemon!.url}/api/repositories/nope`, { headers: auth });
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ error: 'no repository "nope" in the configuration or the database' });
  });

  it("/api/repositories/good/diff: the snapshot diff side by side, the hostile name as data", async () => {
    const d = await api<{ counts: Record<string, number>; rows: { name: string; from: string | null; to: string | null; change: string }[] }>(
      "/api/repositories/good/diff?from=s1&to=s2",
    );
    expect(d.counts).toEqual({ added: 2, removed: 1, updated: 2 });
    expect(d.rows.map((x) => [x.name, x.from, x.to, x.change])).toEqual([
      [XSS_NAME, null, "1.1-1", "added"],
      ["pkg000000", "1.0-1", null, "removed"],
      ["pkg000001", "1.0-1", "1.1-1", "upgrade"],
      ["pkg000002", "1.0-1", "1.1-1", "upgrade"],
      ["pkg000003", null, "1.1-1", "added"],
    ]);
    const missing = await fetch(`${daemon!.url}/api/repositories/good/diff?from=s1&to=nope`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('repository good has no snapshot named "nope"');
  });

  it("/api/groups, /api/backups, /api/pool: what each environment serves, the backups, the pool", async () => {
    const g = await api<{
      environments: { environment: string; serves: { group: string; snapshot: string; members: { repository: string }[] }[] }[];
      groups: { id: string; snapshots: { name: string }[] }[];
    }>("/api/groups");
    expect(g.environments.map((e) => [e.environment, e.serves.map((s) => `${s.group}:${s.snapshot}`)])).toEqual([
      ["dev", ["el:G1"]],
      ["prod", []],
    ]);
    expect(g.environments[0]!.serves[0]!.members.map((m) => m.repository)).toEqual(["good", "quick"]);
    expect(g.groups.map((x) => [x.id, x.snapshots.map((s) => s.name)])).toEqual([["el", ["G1"]]]);
    const b = await api<{ error: string | null; backups: { valid: boolean; size: number }[] }>("/api/backups");
    expect(b.error).toBeNull();
    expect(b.backups).toHaveLength(1);
    expect(b.backups[0]!.valid).toBe(true);
    const pool = await api<{ pool: { bytes: number }; repositories: { repoId: string }[] }>("/api/pool");
    const usage = JSON.parse((await fx.env.cli("storage", "usage", "--json")).stdout);
    expect(pool.pool.bytes).toBe(usage.pool.bytes);
    expect(pool.repositories.map((r) => r.repoId)).toEqual(["broken", "good", "quick"]);
  });

  it("pages escape upstream and configuration text; every page answers; nothing changes state (405)", async () => {
    const page = async (path: string) => {
      const r = await fetch(`${daemon!.url}${path}`, { headers: auth });
      expect(r.status, path).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(r.headers.get("content-security-policy")).toMatch(/^default-src 'self'/);
      return r.text();
    };
    const diff = await page("/repositories/good/diff?from=s1&to=s2");
    expect(diff).toContain("&lt;svg/onload=alert(1)&gt;");
    expect(diff).not.toContain("<svg");
    const home = await page("/");
    expect(home).toContain("&lt;img src=x onerror=alert(2)&gt;");
    expect(home).not.toContain("<img");
    expect(home).toMatch(/data-repo="broken" data-state="failing"/);
    for (const path of ["/repositories/good", "/runs", "/groups", "/backups", "/pool", "/scheduler"]) await page(path);
    for (const method of ["POST", "PUT", "DELETE"]) expect((await fetch(`${daemon!.url}/api/repositories`, { method, headers: auth })).status).toBe(405);
    expect(await daemon!.stop()).toBe(0);
    daemon = undefined;
  }, 60_000);
});
