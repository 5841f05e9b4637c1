// `repo sync --all` over 60 tiny repositories with the real CLI: every one succeeds, the process's open fds stay
// bounded (a per-repository agent or file left open would add one or more per repository), and the server never
// sees more connections at once than http.max_total_connections. Then the scheduler firing 24 at once with
// max_concurrent_syncs 8: the concurrent runs share the process's connection pools, so the one upstream server never
// sees more connections than the caps. Untimed: bench/many-repos.ts measures the times.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { migrate } from "../../core/db/migrate.js";
import { spawnCli } from "../helpers/cli.js";
import { until } from "../helpers/wait.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

const REPOS = 60;
const MAX_TOTAL = 3;
let upstream: string;
let env: SyncEnvironment;

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-many-up-"));
  for (let i = 0; i < REPOS; i++) await generateRpmRepo(join(upstream, `r${i}`), 2, 256, { seedName: `r${i}x` });
  env = await startSyncEnvironment({
    upstream,
    repoYaml: (url) =>
      Array.from({ length: REPOS }, (_, i) => `  - id: r${i}\n    type: rpm\n    upstream_url: ${url}/r${i}/\n    download_concurrency: 3\n`).join(""),
  });
  env.pg.on("error", () => undefined);
  // The global cap below each repository's download_concurrency: more connections at once means one leaked or not capped.
  mkdirSync(join(env.configDir, "conf.d"));
  writeFileSync(join(env.configDir, "conf.d", "http.yaml"), `http:\n  max_total_connections: ${MAX_TOTAL}\n`);
  await migrate(env.pg);
}, 120_000);
afterAll(async () => {
  await env?.close();
  rmSync(upstream, { recursive: true, force: true });
});

/** The CLI's open fds every 20 ms while it runs: [the peak over the first repositories, the peak over the whole run]. */
async function syncAllSampled(): Promise<{ code: number | null; stdout: string; stderr: string; early: number; peak: number }> {
  const cli = spawnCli(["--config-dir", env.configDir, "repo", "sync", "--all", "--json"], { env: { CHANTAL_LOG_LEVEL: "warn" }, timeoutMs: 300_000 });
  let early = 0;
  let peak = 0;
  let done = false;
  const finished = async () => (await env.pg.query("SELECT count(*)::int AS n FROM chantal.sync_runs WHERE status <> 'running'")).rows[0].n as number;
  const before = await finished();
  const sampling = (async () => {
    while (!done) {
      let n = 0;
      try {
        n = readdirSync(`/proc/${cli.child.pid}/fd`).length;
      } catch {
        /* exited */
      }
      peak = Math.max(peak, n);
      // Until a sixth of the repositories are done (their sync_runs rows): the fds a single repository's sync needs.
      if ((await finished()) - before < REPOS / 6) early = peak;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const r = await cli.result;
  done = true;
  await sampling;
  return { ...r, early, peak };
}

describe("repo sync --all over many repositories", () => {
  it(`syncs ${REPOS} repositories with bounded fds and at most http.max_total_connections at the server`, async () => {
    // The global cap below each repository's download_concurrency: more connections at once means one leaked or not capped.
    const cfg = join(env.configDir, "config.yaml");
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("repositories:\n", `http:\n  max_total_connections: ${MAX_TOTAL}\nrepositories:\n`));
    const r = await syncAllSampled();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout) as { repo_id: string; status: string }[];
    expect(results).toHaveLength(REPOS);
    expect(results.filter((x) => x.status !== "success")).toEqual([]);
    expect(readdirSync(env.published(`r${REPOS - 1}`))).toContain("repodata");
    // One fd kept per repository would add REPOS over the run; the early peak already holds everything one sync opens.
    expect(r.early).toBeGreaterThan(0);
    expect(r.peak - r.early).toBeLessThan(REPOS / 3);
    expect(env.server.peak.connections).toBeLessThanOrEqual(MAX_TOTAL);
    expect(env.server.requests.length).toBeGreaterThan(REPOS * 4);

    // The no-op re-sync: every repository says so, the same bounds.
    const before = env.server.requests.length;
    const again = await syncAllSampled();
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { status: string }[]).every((x) => x.status === "noop")).toBe(true);
    expect(again.early).toBeGreaterThan(0);
    expect(again.peak - again.early).toBeLessThan(REPOS / 3);
    expect(env.server.peak.connections).toBeLessThanOrEqual(MAX_TOTAL);
    expect(env.server.requests.length - before).toBeGreaterThanOrEqual(REPOS);
  }, 600_000);

  const SCHEDULED = 24;
  const PER_HOST = 4;
  it(`the scheduler firing ${SCHEDULED} at once, 8 at a time: at most http.max_connections_per_host connections at the one upstream`, async () => {
    // New repositories (so every run downloads), each every minute; the caps below what 8 runs of 3 connections would open.
    const cfg = join(env.configDir, "config.yaml");
    const scheduled = Array.from(
      { length: SCHEDULED },
      (_, i) =>
        `  - id: s${i}\n    type: rpm\n    upstream_url: ${env.server.url}/r${i}/\n    download_concurrency: 3\n    schedule:\n      cron: "* * * * *"\n      timezone: UTC\n`,
    ).join("");
    const http = `http:\n  max_connections_per_host: ${PER_HOST}\n  max_total_connections: 6\n`;
    writeFileSync(
      cfg,
      readFileSync(cfg, "utf8")
        .replace(`http:\n  max_total_connections: ${MAX_TOTAL}\n`, "")
        .replace("repositories:\n", `${http}scheduler:\n  max_concurrent_syncs: 8\nrepositories:\n`) + scheduled,
    );
    writeFileSync(join(env.configDir, "conf.d", "http.yaml"), http);
    env.server.peak.connections = 0;
    const start = new Date(Math.ceil((Date.now() + 3000) / 60_000) * 60_000 - 2000).toISOString();
    const daemon = spawnCli(["--config-dir", env.configDir, "scheduler", "start"], {
      env: { CHANTAL_SCHEDULER_TEST_START: start, CHANTAL_SCHEDULER_TEST_SPEED: "1", CHANTAL_LOG_LEVEL: "warn" },
      timeoutMs: 300_000,
    });
    let running = 0;
    try {
      await until(
        `${SCHEDULED} scheduled runs finished`,
        async () => {
          const r = await env.pg.query(
            `SELECT count(*) FILTER (WHERE status = 'running')::int AS running, count(*) FILTER (WHERE status <> 'running')::int AS done FROM chantal.sync_runs WHERE trigger = 'schedule'`,
          );
          running = Math.max(running, r.rows[0].running as number);
          return (r.rows[0].done as number) >= SCHEDULED;
        },
        240_000,
      );
    } finally {
      daemon.child.kill("SIGTERM");
    }
    await daemon.result;
    const runs = await env.pg.query(
      `SELECT r.repo_id, s.status, s.error FROM chantal.sync_runs s JOIN chantal.repositories r ON r.id = s.repository_id WHERE s.trigger = 'schedule'`,
    );
    expect(runs.rows.filter((x) => x.status !== "success")).toEqual([]);
    expect(runs.rows).toHaveLength(SCHEDULED);
    // The runs did overlap (else the cap is met trivially), and the server saw no more connections than the cap.
    expect(running).toBeGreaterThan(2);
    expect(env.server.peak.connections).toBeGreaterThan(0);
    expect(env.server.peak.connections).toBeLessThanOrEqual(PER_HOST);
  }, 600_000);
});
