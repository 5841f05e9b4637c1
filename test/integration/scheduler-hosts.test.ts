// Three real `scheduler start` processes (three --host-name) on one database, "* * * * *" schedules on a fast test clock:
// every fire runs once, never twice, never concurrently; kill -9 of the daemon in the middle of a slow sync: its fire is
// not run again by the other hosts nor by its own restart.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { migrate } from "../../core/db/migrate.js";
import { makeConfigDir, runCli } from "../helpers/cli.js";
import { clockOf, logLines, type SchedulerDaemon, SchedulerDaemons } from "../helpers/scheduler-daemon.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

/** Test seconds per real second: a minute passes every 10 s. */
const SPEED = 6;
const START = Date.parse("2026-06-01T09:59:30Z");
const HOSTS = ["host-a", "host-b", "host-c"] as const;
const RUN_STATUSES = ["success", "noop"];

let upstream: string;
let env: SyncEnvironment;
/** Until the kill, packages of the slow repository trickle in (a sync takes about two test minutes). */
let slowOn = true;
const daemons = new SchedulerDaemons();
const configDirs: string[] = [];

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-hosts-up-"));
  await generateRpmRepo(join(upstream, "fast"), 8, 4096);
  await generateRpmRepo(join(upstream, "slow"), 16, 16_384);
  const schedule = `    schedule:\n      cron: "* * * * *"\n      timezone: UTC\n`;
  env = await startSyncEnvironment({
    upstream,
    faults: (req) => (slowOn && req.path.startsWith("/slow/") && req.path.endsWith(".rpm") ? { chunkBytes: 4096, chunkDelayMs: 400 } : undefined),
    repoYaml: (url) =>
      ["r1", "r2"].map((id) => `  - id: ${id}\n    type: rpm\n    upstream_url: ${url}/fast/\n${schedule}`).join("") +
      `  - id: r3\n    type: rpm\n    upstream_url: ${url}/slow/\n    download_concurrency: 2\n${schedule}`,
  });
  env.pg.on("error", () => undefined);
  await migrate(env.pg);
  // A witness on the database's clock: when each sync run started and when it ended, whichever process wrote it.
  await env.pg.query(`
    CREATE TABLE public.run_log (run_id bigint, repository_id bigint, status text, at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE FUNCTION public.log_run() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO public.run_log (run_id, repository_id, status) VALUES (NEW.id, NEW.repository_id, NEW.status); RETURN NEW; END $$;
    CREATE TRIGGER log_run AFTER INSERT OR UPDATE OF status ON chantal.sync_runs FOR EACH ROW EXECUTE FUNCTION public.log_run();`);
  // One config directory per "host" (its own pid and log file), the same repositories, storage and database.
  const shared = readFileSync(join(env.configDir, "config.yaml"), "utf8");
  for (const host of HOSTS) {
    const run = join(env.base, "run", host);
    mkdirSync(run, { recursive: true });
    configDirs.push(
      makeConfigDir({
        "config.yaml": shared,
        "conf.d/scheduler.yaml": `scheduler:\n  max_concurrent_syncs: 3\n  catch_up: true\n  grace_period_seconds: 5\n  pid_file: ${run}/scheduler.pid\n  log_file: ${run}/scheduler.log\n`,
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  await daemons.killAll();
  await env?.close();
  configDirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

const startDaemon = (n: number, at: number) =>
  daemons.start(configDirs[n]!, { start: new Date(at), speed: SPEED }, { args: ["--host-name", HOSTS[n]!], timeoutMs: 240_000 });

const minute = (d: Date) => d.toISOString().slice(11, 16);

/** The log lines by which a daemon has dealt with a fire time: it runs it, another host has it, or it is skipped. */
const FIRE_DECIDED = [
  "scheduled run starting",
  "another scheduler has claimed this fire time: it is not run here",
  "previous run of this schedule has not finished: this fire time is skipped",
  "cannot claim this fire time in the database: it is not run here",
];
const decided = (d: SchedulerDaemon, job: string, due: Date) =>
  logLines(d).some((l) => l.job === job && l.due === due.toISOString() && FIRE_DECIDED.includes(l.msg as string));

describe("three scheduler hosts on one database", () => {
  it("each fire runs once across the hosts, never concurrently; a host killed mid-run loses at most that run; status lists every host", async () => {
    const live = HOSTS.map((_, n) => startDaemon(n, START));
    await until("three daemons started", () => live.every((d) => logLines(d).some((l) => l.msg === "scheduler started")), 60_000);

    // The slow repository's 10:00 run is under way on some host: kill that host.
    const claim = await until(
      "a running sync of r3",
      async () =>
        env.server.requests.some((r) => r.path.startsWith("/slow/") && r.path.endsWith(".rpm")) &&
        (await env.pg.query(`SELECT host, pid, fire_at FROM chantal.schedule_fires WHERE job_key = 'sync:r3' AND finished_at IS NULL AND status IS NULL`))
          .rows[0],
      90_000,
    );
    const victim = HOSTS.indexOf(claim.host);
    expect(victim).toBeGreaterThanOrEqual(0);
    expect(live[victim]!.child.pid).toBe(claim.pid);
    live[victim]!.child.kill("SIGKILL");
    expect((await live[victim]!.result).signal).toBe("SIGKILL");
    slowOn = false;
    const killedFire: Date = claim.fire_at;
    // What the killed host was doing: its r3 run, and perhaps a fast run of the same minute.
    const lost = (
      await env.pg.query(`SELECT job_key, fire_at FROM chantal.schedule_fires WHERE host = $1 AND pid = $2 AND finished_at IS NULL`, [claim.host, claim.pid])
    ).rows.map((f) => `${f.job_key}@${f.fire_at.toISOString()}`);
    expect(lost).toContain(`sync:r3@${killedFire.toISOString()}`);

    // Status from any host: the three hosts with their heartbeats, the killed one stale.
    const status = await runCli(["--config-dir", configDirs[(victim + 1) % 3]!, "scheduler", "status", "--json"], { env: { CHANTAL_LOG_LEVEL: "warn" } });
    expect(status.code).toBe(0);
    const hosts = JSON.parse(status.stdout).hosts as Record<string, unknown>[];
    expect(hosts.map((h) => [h.host, h.state])).toEqual(HOSTS.map((h) => [h, h === claim.host ? "stale" : "running"]));
    expect(hosts.every((h) => typeof h.heartbeat_at === "string" && typeof h.heartbeat_age_seconds === "number")).toBe(true);
    expect(hosts[victim]).toMatchObject({ pid: claim.pid, reason: expect.stringContaining("its database session is gone"), stopped_at: null });
    const text = await runCli(["--config-dir", configDirs[(victim + 1) % 3]!, "scheduler", "status"], { env: { CHANTAL_LOG_LEVEL: "warn" } });
    expect(text.stdout).toMatch(new RegExp(`^Hosts: +host-a pid \\d+: ${victim === 0 ? "stale" : "running"}`, "m"));
    expect(text.stdout).toMatch(
      new RegExp(`^(Hosts:)? +${claim.host} pid ${claim.pid}: stale \\(died without stopping: its database session is gone\\), last heartbeat `, "m"),
    );

    // The next fire of r3 runs on another host.
    const nextFire = new Date(killedFire.getTime() + 60_000);
    await until(
      "r3's next fire run by another host",
      async () =>
        (await env.pg.query(`SELECT 1 FROM chantal.schedule_fires WHERE job_key = 'sync:r3' AND fire_at >= $1 AND status = ANY($2)`, [nextFire, RUN_STATUSES]))
          .rows.length > 0,
      90_000,
    );

    // The killed host comes back (its clock started where a live host's is): catch-up finds nothing to run twice.
    const restartedAt = clockOf(live[(victim + 1) % 3]!);
    const back = startDaemon(victim, restartedAt);
    live[victim] = back;
    await until("the killed host back", () => logLines(back).some((l) => l.msg === "scheduler started"), 60_000);
    // Two more fire times with all three hosts. They stop once each of them has dealt with the last one (by its own
    // clock, which is behind the test's by its start-up time) and no claimed run is still going: a fire time the hosts
    // are stopped at before any claims it is not run by design (catch-up runs it at their next start).
    const lastFire = new Date(Math.ceil(restartedAt / 60_000) * 60_000 + 2 * 60_000);
    await until(
      "every host past the last fire time, its runs finished",
      async () =>
        live.every((d) => ["r1", "r2", "r3"].every((r) => decided(d, `sync:${r}`, lastFire))) &&
        (await env.pg.query(`SELECT 1 FROM chantal.schedule_fires WHERE finished_at IS NULL`)).rows.length === 0,
      120_000,
    );
    for (const d of live) d.child.kill("SIGTERM");
    for (const d of live) expect((await d.result).code).toBe(0);

    const fires = (
      await env.pg.query(
        `SELECT job_key, fire_at, host, pid, attempt, taken_over_from, status, run_id, finished_at FROM chantal.schedule_fires ORDER BY job_key, fire_at`,
      )
    ).rows;
    const runs = (await env.pg.query(`SELECT r.id, r.pid, r.status, x.repo_id FROM chantal.sync_runs r JOIN chantal.repositories x ON x.id = r.repository_id`))
      .rows;
    expect(runs.length).toBeGreaterThan(6);

    // Every fire time of every schedule from 10:00 to the last one is claimed once (the key is unique), by a live host.
    for (const repo of ["r1", "r2", "r3"]) {
      const times = fires.filter((f) => f.job_key === `sync:${repo}`).map((f) => f.fire_at.getTime());
      for (let t = Date.parse("2026-06-01T10:00:00Z"); t <= lastFire.getTime(); t += 60_000)
        expect(times, `${repo} at ${new Date(t).toISOString()}`).toContain(t);
    }
    // A fire ended in a run of its own (or was skipped: its schedule's previous run still went on); one the killed host
    // was running is closed as interrupted by a live host's scan, and no host started it again.
    const wasLost = (f: { job_key: string; fire_at: Date }) => lost.includes(`${f.job_key}@${f.fire_at.toISOString()}`);
    for (const f of fires.filter((x) => !wasLost(x))) {
      expect([...RUN_STATUSES, "skipped", "skipped-locked"], `${f.job_key} ${minute(f.fire_at)}`).toContain(f.status);
      expect(f.finished_at).toBeInstanceOf(Date);
      expect(f.attempt).toBe(1);
    }
    const starts = daemons.started.flatMap((d) =>
      logLines(d)
        .filter((l) => l.msg === "scheduled run starting")
        .map((l) => `${l.job}@${l.due}`),
    );
    for (const killed of fires.filter(wasLost)) {
      const key = `${killed.job_key}@${killed.fire_at.toISOString()}`;
      expect(killed, key).toMatchObject({ host: claim.host, pid: claim.pid, attempt: 1, taken_over_from: null, status: "interrupted", run_id: null });
      expect(killed.finished_at, key).toBeInstanceOf(Date);
      // Started once, by the killed host (a fast run killed between its claim and its log line never logged it).
      expect(starts.filter((x) => x === key).length, `${key} started again after its host was killed`).toBeLessThanOrEqual(1);
    }
    expect(starts).toContain(`sync:r3@${killedFire.toISOString()}`);
    // Each fire was started at most once across the hosts (the killed one's log included).
    expect(starts.length).toBe(new Set(starts).size);
    for (const d of daemons.started) expect(logLines(d).filter((l) => l.msg === "took over this fire time from a scheduler that is gone")).toEqual([]);

    // Each sync run belongs to exactly one fire, except the runs killed with their host (found interrupted by the next sync).
    const byRun = new Map<number, number>();
    for (const f of fires) if (f.run_id !== null) byRun.set(Number(f.run_id), (byRun.get(Number(f.run_id)) ?? 0) + 1);
    const orphans = runs.filter((r) => !byRun.has(Number(r.id)));
    expect(orphans.filter((r) => r.repo_id === "r3").map((r) => [r.pid, r.status])).toEqual([[claim.pid, "interrupted"]]);
    expect(orphans.every((r) => r.pid === claim.pid && r.status === "interrupted")).toBe(true);
    expect(orphans.length).toBeLessThanOrEqual(lost.length);
    expect([...byRun.values()].every((n) => n === 1)).toBe(true);
    const ran = fires.filter((f) => RUN_STATUSES.includes(f.status));
    expect(ran.length, JSON.stringify(fires.map((f) => [f.job_key, minute(f.fire_at), f.host, f.status]))).toBeGreaterThanOrEqual(3 * 5 - lost.length); // the lost fires are not run again
    // The killed host's next fire of r3 went elsewhere.
    const afterKill = fires.filter((f) => f.job_key === "sync:r3" && f.fire_at > killedFire && RUN_STATUSES.includes(f.status))[0]!;
    expect(afterKill.host).not.toBe(claim.host);

    // Never concurrently: on the database's clock, the runs of one repository do not overlap.
    const log = (await env.pg.query(`SELECT run_id, repository_id, status, at FROM public.run_log ORDER BY at`)).rows;
    const spans = new Map<number, { repo: number; from: number; to: number }>();
    for (const e of log) {
      const id = Number(e.run_id);
      if (e.status === "running") spans.set(id, { repo: Number(e.repository_id), from: e.at.getTime(), to: Number.POSITIVE_INFINITY });
      else if (spans.has(id)) spans.get(id)!.to = e.at.getTime();
    }
    const list = [...spans.values()].sort((a, b) => a.from - b.from);
    expect(list.length).toBe(runs.filter((r) => r.status !== "skipped-locked").length);
    for (const [i, s] of list.entries())
      for (const t of list.slice(i + 1))
        if (t.repo === s.repo) expect(t.from, "a run of one repository started while another ran").toBeGreaterThanOrEqual(s.to);

    // Catch-up at the restart ran nothing that had run: the restarted host's fires are all after it came back.
    const restartedFires = fires.filter((f) => f.pid === back.child.pid);
    expect(restartedFires.every((f) => f.fire_at.getTime() >= restartedAt - 60_000)).toBe(true);
    expect(logLines(back).filter((l) => l.msg === "took over this fire time from a scheduler that is gone")).toEqual([]);
  }, 300_000);
});
