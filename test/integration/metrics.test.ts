// Freshness and Prometheus metrics against real syncs on 127.0.0.1 (an RPM repository that syncs, one whose upstream
// is missing, one with max_age 1s, an APT suite whose Valid-Until is near): `metrics write --textfile`, `repo list/show
// --json`, and the daemon's GET /metrics, each parsed with a real Prometheus text parser.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../../core/free-port.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { APT_TOOLS, buildDeb, createGpgKey, type GpgKey, writeAptRepo } from "../helpers/apt-fixtures.js";
import { parseMetrics } from "../helpers/prometheus.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";
import { until } from "../helpers/wait.js";

const REVISION = 1_780_000_000;
const validUntil = new Date(Math.floor(Date.now() / 1000) * 1000 + 2 * 86_400_000);

let scratch: string;
let env: SyncEnvironment;
let key: GpgKey | undefined;

afterAll(async () => {
  await env?.close();
  await key?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describeWithTools(APT_TOOLS, "freshness and metrics", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-metrics-"));
    const upstream = join(scratch, "up");
    await generateRpmRepo(join(upstream, "rpm"), 3, 1_000);
    const repomd = join(upstream, "rpm", "repodata", "repomd.xml");
    writeFileSync(repomd, readFileSync(repomd, "utf8").replace(/<revision>[0-9]+<\/revision>/, `<revision>${REVISION}</revision>`));
    key = await createGpgKey(join(scratch, "key"));
    await buildDeb(join(upstream, "apt"), { name: "alpha", version: "1.0-1" });
    await writeAptRepo(join(upstream, "apt"), { dist: "stable", signer: key, extraFields: [`Valid-Until: ${validUntil.toUTCString().replace("GMT", "UTC")}`] });
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        `  - id: good\n    type: rpm\n    upstream_url: ${url}/rpm/\n` +
        `  - id: quick\n    type: rpm\n    upstream_url: ${url}/rpm/\n    freshness: { max_age: 1s, valid_until_warning: 1d }\n` +
        `  - id: broken\n    type: rpm\n    upstream_url: ${url}/missing/\n` +
        `  - id: deb\n    type: apt\n    upstream_url: ${url}/apt/\n    apt:\n      distribution: stable\n    verify:\n      keyring: ${key!.keyring}\n`,
    });
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(join(env.configDir, "conf.d", "freshness.yaml"), "freshness:\n  max_age: 36h\n  valid_until_warning: 3d\n");
    for (const id of ["good", "quick", "deb"]) {
      const r = await env.cli("repo", "sync", "--repo-id", id);
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await env.cli("repo", "sync", "--repo-id", "broken")).code).not.toBe(0);
    await new Promise((r) => setTimeout(r, 1_500)); // quick's max_age of 1s passes
  }, 180_000);

  it("repo list and repo show --json give each repository's state", async () => {
    const r = await env.cli("repo", "list", "--json");
    expect(r.code, r.stderr).toBe(0);
    const states = Object.fromEntries(JSON.parse(r.stdout).map((x: { id: string; freshness: { state: string } }) => [x.id, x.freshness.state]));
    expect(states).toEqual({ good: "ok", quick: "stale", broken: "failing", deb: "expiring" });

    const show = await env.cli("repo", "show", "deb", "--json");
    expect(show.code, show.stderr).toBe(0);
    const f = JSON.parse(show.stdout).freshness;
    expect(f.state).toBe("expiring");
    expect(new Date(f.valid_until).getTime()).toBe(validUntil.getTime());
    expect(f.upstream_timestamp).not.toBeNull();
    expect(f.packages_added_last_run).toBe(1);

    const good = JSON.parse((await env.cli("repo", "show", "good", "--json")).stdout).freshness;
    expect(new Date(good.upstream_timestamp).getTime()).toBe(REVISION * 1000);
    expect(good.revision).toBe(String(REVISION));

    const text = await env.cli("repo", "list");
    expect(text.stdout).toMatch(/FRESHNESS/);
    expect(text.stdout).toMatch(/broken.*failing/);
  });

  it("metrics write --textfile writes chantal.prom atomically with every repository's series", async () => {
    const dir = join(scratch, "textfile");
    const r = await env.cli("metrics", "write", "--textfile", dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir)).toEqual(["chantal.prom"]); // no temp file left
    const m = parseMetrics(readFileSync(join(dir, "chantal.prom"), "utf8"));
    const types = new Set(m.families.filter((f) => f.name.startsWith("chantal_")).map((f) => f.type));
    expect(types).toEqual(new Set(["GAUGE"]));

    const runs = (await env.pg.query(`SELECT r.repo_id, s.* FROM chantal.sync_runs s JOIN chantal.repositories r ON r.id = s.repository_id`)).rows;
    const run = (id: string) => runs.find((x) => x.repo_id === id)!;
    expect(m.value("chantal_repository_last_success_timestamp_seconds", { repo_id: "good" })).toBeCloseTo(run("good").finished_at.getTime() / 1000, 3);
    expect(m.value("chantal_repository_last_success_timestamp_seconds", { repo_id: "broken" })).toBeUndefined();
    expect(m.value("chantal_repository_last_run_status", { repo_id: "good", status: "success" })).toBe(1);
    expect(m.value("chantal_repository_last_run_status", { repo_id: "good", status: "failed" })).toBe(0);
    expect(m.value("chantal_repository_last_run_status", { repo_id: "broken", status: "failed" })).toBe(1);
    expect(m.value("chantal_repository_last_run_duration_seconds", { repo_id: "good" })).toBeCloseTo(
      (run("good").finished_at.getTime() - run("good").started_at.getTime()) / 1000,
      3,
    );
    expect(m.value("chantal_repository_last_run_downloaded_bytes", { repo_id: "good" })).toBe(Number(run("good").bytes_downloaded));
    expect(m.value("chantal_repository_last_run_downloaded_packages", { repo_id: "good" })).toBe(3);
    expect(m.value("chantal_repository_packages", { repo_id: "good" })).toBe(3);
    expect(m.value("chantal_repository_packages", { repo_id: "deb" })).toBe(1);
    expect(m.value("chantal_repository_packages", { repo_id: "broken" })).toBe(0);
    for (const [id, state] of [
      ["good", "ok"],
      ["quick", "stale"],
      ["broken", "failing"],
      ["deb", "expiring"],
    ] as const) {
      expect(m.value("chantal_repository_freshness_state", { repo_id: id, state })).toBe(1);
      expect(m.samples("chantal_repository_freshness_state").filter((s) => s.labels.repo_id === id && s.value === 1)).toHaveLength(1);
    }
    expect(m.value("chantal_repository_valid_until_timestamp_seconds", { repo_id: "deb" })).toBe(validUntil.getTime() / 1000);
    expect(m.value("chantal_repository_valid_until_timestamp_seconds", { repo_id: "good" })).toBeUndefined();
    expect(m.value("chantal_repository_upstream_timestamp_seconds", { repo_id: "good" })).toBe(REVISION);
    const pool = (await env.pg.query(`SELECT (SELECT sum(size) FROM chantal.packages) + (SELECT sum(size) FROM chantal.metadata_files) AS b`)).rows[0].b;
    expect(m.value("chantal_pool_recorded_bytes")).toBe(Number(pool));
    // No backup directory yet: zero archives, no last-backup series; no daemon: no scheduler series.
    expect(m.value("chantal_backups")).toBe(0);
    expect(m.value("chantal_backup_last_success_timestamp_seconds")).toBeUndefined();
    expect(m.value("chantal_scheduler_queued_runs")).toBeUndefined();
  });

  it("backup metrics: the newest archive's time and size", async () => {
    const b = await env.cli("db", "backup");
    expect(b.code, b.stderr).toBe(0);
    const dir = join(scratch, "textfile2");
    expect((await env.cli("metrics", "write", "--textfile", dir)).code).toBe(0);
    const m = parseMetrics(readFileSync(join(dir, "chantal.prom"), "utf8"));
    const list = JSON.parse((await env.cli("db", "backup-list", "--json")).stdout);
    expect(m.value("chantal_backups")).toBe(list.length);
    expect(m.value("chantal_backup_last_size_bytes")).toBe(list[0].size);
    expect(Math.abs(m.value("chantal_backup_last_success_timestamp_seconds")! - new Date(list[0].created_at).getTime() / 1000)).toBeLessThan(2);
  });

  it("scheduler start --http serves GET /metrics (404 for unknown paths, 405 for POST) and stops with the daemon", async () => {
    writeFileSync(join(env.configDir, "conf.d", "schedule.yaml"), 'scheduler:\n  catch_up: false\npool:\n  gc:\n    schedule: { cron: "0 3 * * *" }\n');
    const port = await freePort();
    const daemon = env.spawn("scheduler", "start", "--http", `127.0.0.1:${port}`);
    try {
      const url = `http://127.0.0.1:${port}`;
      const res = await until(
        "the daemon serves /metrics",
        async () => {
          if (daemon.child.exitCode !== null) throw new Error(`the daemon exited: ${daemon.output()}`);
          return fetch(`${url}/metrics`).catch(() => undefined);
        },
        60_000,
      );
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const m = parseMetrics(await res.text());
      expect(m.value("chantal_repository_freshness_state", { repo_id: "broken", state: "failing" })).toBe(1);
      expect(m.value("chantal_repository_packages", { repo_id: "good" })).toBe(3);
      expect(m.value("chantal_scheduler_queued_runs")).toBe(0);
      const next = m.value("chantal_scheduler_next_run_timestamp_seconds", { job: "pool-gc" });
      expect(next).toBeGreaterThan(Date.now() / 1000);
      expect(next).toBeLessThanOrEqual(Date.now() / 1000 + 86_400);
      expect(m.value("chantal_scheduler_running_runs")).toBe(0);
      expect((await fetch(`${url}/nothing`)).status).toBe(404);
      expect((await fetch(`${url}/`)).headers.get("content-type")).toBe("text/html; charset=utf-8"); // the dashboard (test/integration/web.test.ts)
      expect((await fetch(`${url}/metrics`, { method: "POST" })).status).toBe(405);
    } finally {
      daemon.child.kill("SIGTERM");
    }
    const r = await daemon.result;
    expect(r.code, daemon.output()).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  }, 90_000);

  it("scheduler start --http on a taken port fails at start, naming the address and the fix", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await env.cli("scheduler", "start", "--http", `127.0.0.1:${port}`);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}.*metrics\\.listen or --http`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);
});
