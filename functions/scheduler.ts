// The scheduler handler: the daemon assembled from the configuration (job handlers calling runSync, runBackup, pool gc and group snapshots,
// the host lock, the pid file, heartbeats, reload on SIGHUP) and its detached start; beside functions/sync.ts and backup.ts.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadConfig, type LoadedConfig } from "../core/config/load.js";
import type { Database } from "../core/db/client.js";
import { ScheduleFires } from "../core/db/schedule-fires.js";
import { acquireLock, describeHolder, LockHeldError, type HeldLock } from "../core/db/locks.js";
import { AbortedError, ChantalError, ConfigError, errorMessage, ExitCode, formatConfigIssue, LockBusyError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { chantalVersion } from "../core/package-info.js";
import { claimHangups } from "../core/runtime/signals.js";
import { sleep } from "../core/runtime/sleep.js";
import { acceleratedClock, systemClock, testClockSpec, type Clock } from "../core/schedule/clock.js";
import { Scheduler, type JobRunner, type JobRunRequest, type JobRunResult } from "../core/schedule/daemon.js";
import { readPidFile, removePidFile, runningSchedulerPid, schedulerPaths, writePidFile } from "../core/schedule/pidfile.js";
import { planJobs, type JobKind } from "../core/schedule/plan.js";
import { defaultTarget, openStore } from "../core/backup/store.js";
import { listenerPlan } from "../core/web/listen.js";
import { startWebServer, type WebServer } from "../core/web/server.js";
import { blobStoreOf } from "../core/storage/backend.js";
import { heartbeat, markStopped, registerInstance, ScheduleStateStore, schedulerLockRequest, hostLockKey } from "../core/schedule/state.js";
import { SCHEDULER_HEARTBEAT_MS, schedulerHostName } from "../core/schedule/hosts.js";
import { backupRequestFromConfig, runBackup } from "./backup.js";
import { runScheduledGroupSnapshot } from "./group-snapshot.js";
import { runScheduledPoolGc } from "./pool-gc.js";
import { runSync } from "./sync.js";
import { buildDigest } from "../core/notify/digest.js";
import { freshnessChanges } from "../core/notify/freshness-watch.js";
import { maxWaitMs, Notifier } from "../core/notify/notifier.js";

/** What the daemon needs from its caller (the CLI's command context is one). */
export interface SchedulerContext {
  log: Logger;
  /** Aborted by SIGINT/SIGTERM: the daemon stops, giving running jobs the grace period. */
  signal: AbortSignal;
  configDir: string;
  loadConfig(): Promise<LoadedConfig>;
  openDatabase(): Promise<Database>;
  /** --http host:port: serve the dashboard, /api/ and GET /metrics (else web.listen, else metrics.listen; none: no listener). */
  metricsListen?: string;
  /** --host-name: the name this daemon locks, registers and claims fires under (default: the machine's host name). */
  hostName?: string;
}

/** How often the daemon computes every repository's freshness state to announce changes (notify: freshness.*). */
export const FRESHNESS_CHECK_MS = 5 * 60_000;
const FRESHNESS_EVENTS = ["freshness.stale", "freshness.expiring", "freshness.failing", "freshness.ok"] as const;
/** How long `start --daemon` waits for the detached daemon to come up (the embedded database may need initdb). */
const DETACH_TIMEOUT_MS = 180_000;

/** The handler of each job kind: a scheduled run calls the same handler as the CLI and the cloud. */
export function jobHandlers(database: Database, log: Logger, clock: Clock, notifier: Notifier | null = null): Record<JobKind, JobRunner> {
  return {
    async sync(req: JobRunRequest): Promise<JobRunResult> {
      const r = await runSync(
        {
          repoId: req.job.target,
          trigger: "schedule",
          publish: true,
          ...(req.job.snapshotTemplate ? { snapshotTemplate: req.job.snapshotTemplate, snapshotTimeZone: req.job.timeZone } : {}),
        },
        { loaded: req.loaded, database, log, signal: req.signal, now: () => clock.now(), notifier },
      );
      return { status: r.status, runId: r.runId, error: r.error, details: { ...r.counts, snapshot: r.snapshot, durationMs: r.durationMs } };
    },
    async "pool-gc"(req: JobRunRequest): Promise<JobRunResult> {
      const r = await runScheduledPoolGc(req.loaded.config, database, req.signal);
      const d = r.report;
      return {
        status: r.status,
        runId: null,
        error: r.error,
        details: d ? { freedBlobs: d.freed.blobs, freedBytes: d.freed.bytes, rows: d.rows.packages + d.rows.metadata, trees: d.trees.length } : {},
      };
    },
    async "group-snapshot"(req: JobRunRequest): Promise<JobRunResult> {
      const r = await runScheduledGroupSnapshot(
        {
          groupId: req.job.target,
          nameTemplate: req.job.snapshotTemplate ?? "{repo_id}-{datetime}",
          timeZone: req.job.timeZone,
          slot: { at: req.scheduledAt, memberFires: req.memberFires ?? [] },
        },
        { config: req.loaded.config, database, log, signal: req.signal, now: () => clock.now() },
      );
      return { status: r.status, runId: null, error: r.error, details: r.snapshot ? { snapshot: r.snapshot, members: r.members } : {} };
    },
    async backup(req: JobRunRequest): Promise<JobRunResult> {
      const { config, dir } = req.loaded;
      const r = await runBackup(
        backupRequestFromConfig(config),
        {
          config,
          configDir: dir,
          databaseUrl: database.url,
          log,
          signal: req.signal,
          now: () => clock.now(),
        },
        { notifier },
      ).catch((err: unknown) => {
        // A configuration problem (an unreadable signing key) fails this run; the daemon keeps going.
        if (err instanceof ConfigError)
          return { status: "failed" as const, location: null, size: 0, pruned: [] as string[], durationMs: 0, error: err.message };
        throw err;
      });
      return {
        status: r.status,
        runId: null,
        error: r.error,
        details: { location: r.location, size: r.size, pruned: r.pruned.length, durationMs: r.durationMs },
      };
    },
    async "notify-digest"(req: JobRunRequest): Promise<JobRunResult> {
      const config = req.loaded.config;
      if (!notifier) return { status: "skipped", runId: null, error: "notify.email is not configured" };
      try {
        const report = await buildDigest(database.pool, blobStoreOf(config), config, clock.now(), (m) => log.warn(m));
        const sent = await notifier.sendDigest(report);
        if (!sent) return { status: "skipped", runId: null, error: "notify.email.digest is not set" };
        return {
          status: sent.ok ? "success" : "failed",
          runId: null,
          error: sent.error,
          details: { repositories: report.repositories.length, attempts: sent.attempts },
        };
      } catch (err) {
        return { status: "failed", runId: null, error: errorMessage(err) };
      }
    },
  };
}

/**
 * Announce freshness changes now and every FRESHNESS_CHECK_MS of the daemon's clock (and after each sync, through
 * `kick`); a failing check is logged and tried again at the next one. Returns kick and stop.
 */
function freshnessWatch(database: Database, log: Logger, clock: Clock, notifier: Notifier, current: { loaded: LoadedConfig }) {
  let cancel = () => {};
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const check = () => {
    running = running.then(async () => {
      if (stopped) return;
      // Nobody listens: nothing is computed or recorded (a target added later hears of a state that is not ok once).
      if (!FRESHNESS_EVENTS.some((e) => notifier.wants(e))) return;
      const config = current.loaded.config;
      try {
        notifier.emit(await freshnessChanges(database.pool, blobStoreOf(config), config, clock.now(), (m) => log.debug(m)));
      } catch (err) {
        log.warn({ error: errorMessage(err) }, "freshness check for notifications failed; trying again at the next one");
      }
    });
    return running;
  };
  const schedule = () => {
    cancel = clock.setTimer(() => {
      void check().then(() => {
        if (!stopped) schedule();
      });
    }, FRESHNESS_CHECK_MS);
  };
  void check();
  schedule();
  return {
    kick: () => void check(),
    async stop() {
      stopped = true;
      cancel();
      await running;
    },
  };
}

function schedulerClock(log: Logger): Clock {
  const spec = testClockSpec(process.env);
  if (!spec) return systemClock;
  log.warn(
    { start: spec.start.toISOString(), speed: spec.speed },
    "TEST CLOCK: CHANTAL_SCHEDULER_TEST_START is set; the scheduler does not follow the real time",
  );
  return acceleratedClock(spec.start, spec.speed);
}

async function ensureNotRunning(pidFile: string): Promise<void> {
  const pid = await runningSchedulerPid(pidFile);
  if (pid !== null)
    throw new ChantalError(`the scheduler is already running on this host (pid ${pid}, pid file ${pidFile}); stop it with: chantal-run scheduler stop`);
}

async function takeHostLock(database: Database, host: string): Promise<HeldLock> {
  try {
    return await acquireLock(database.url, schedulerLockRequest(host));
  } catch (err) {
    if (err instanceof LockHeldError) {
      throw new LockBusyError(
        `a scheduler is already running as host ${host} (${err.holders.map(describeHolder).join(", ") || "another session"}); each daemon on one database needs its own --host-name`,
      );
    }
    throw err;
  }
}

/**
 * SIGHUP: read the configuration again; an invalid one is logged and the running one kept. One that arrives
 * before the scheduler runs (even during the process start-up, see core/runtime/signals.ts) is applied once it does,
 * and one during shutdown is ignored (never the default action, which would end the process).
 */
function hangupHandler(ctx: SchedulerContext) {
  let target: { scheduler: Scheduler; current: { loaded: LoadedConfig }; onReloaded: () => void } | null = null;
  let pending = false;
  let closed = false;
  let chain = Promise.resolve();
  const reload = () => {
    if (closed) return;
    if (!target) {
      pending = true;
      return;
    }
    const { scheduler, current, onReloaded } = target;
    chain = chain
      .then(async () => {
        if (closed) return;
        ctx.log.info("SIGHUP: reloading the configuration");
        let loaded: LoadedConfig;
        try {
          loaded = await loadConfig({ configDir: ctx.configDir });
        } catch (err) {
          const issues = err instanceof ConfigError ? err.issues.map(formatConfigIssue) : [errorMessage(err)];
          ctx.log.error({ issues }, `configuration not reloaded, the running one is kept: ${issues.join("; ")}`);
          return;
        }
        if (JSON.stringify(loaded.config.database) !== JSON.stringify(current.loaded.config.database)) {
          ctx.log.warn("database settings changed: they take effect at the next start (the scheduler keeps its connection)");
        }
        const changes = await scheduler.reload(loaded);
        current.loaded = loaded;
        onReloaded();
        const keys = (jobs: { key: string }[]) => jobs.map((j) => j.key);
        ctx.log.info(
          { added: keys(changes.added), removed: keys(changes.removed), retimed: keys(changes.retimed), updated: keys(changes.updated) },
          "configuration reloaded",
        );
      })
      .catch((err: unknown) => ctx.log.error({ error: errorMessage(err) }, "reloading the configuration failed"));
  };
  const hangups = claimHangups(reload);
  return {
    /** From now on SIGHUP reloads this scheduler. */
    attach(scheduler: Scheduler, current: { loaded: LoadedConfig }, onReloaded: () => void) {
      target = { scheduler, current, onReloaded };
      if (pending) reload();
    },
    /** Shutdown: later SIGHUPs do nothing; waits for a reload in progress. */
    close(): Promise<void> {
      closed = true;
      return chain;
    },
    dispose() {
      closed = true;
      hangups.release();
    },
  };
}

/** Resolves with why the daemon should stop: a signal (through ctx.signal) or the loss of its lock connection. */
function stopRequested(ctx: SchedulerContext, lock: HeldLock): Promise<Error> {
  return new Promise((resolve) => {
    const done = (s: AbortSignal) => () => resolve(s.reason instanceof Error ? s.reason : new AbortedError(String(s.reason)));
    if (ctx.signal.aborted) return done(ctx.signal)();
    if (lock.signal.aborted) return done(lock.signal)();
    ctx.signal.addEventListener("abort", done(ctx.signal), { once: true });
    lock.signal.addEventListener("abort", done(lock.signal), { once: true });
  });
}

/** Run the daemon in this process until a signal or the loss of its lock stops it; returns the exit code. */
export async function runScheduler(ctx: SchedulerContext): Promise<number> {
  const hangup = hangupHandler(ctx);
  try {
    return await runDaemon(ctx, hangup);
  } finally {
    hangup.dispose();
  }
}

async function runDaemon(ctx: SchedulerContext, hangup: ReturnType<typeof hangupHandler>): Promise<number> {
  const loaded = await ctx.loadConfig();
  const { pidFile } = schedulerPaths(loaded);
  await ensureNotRunning(pidFile);
  // A listener address that needs web.auth fails here, before anything is registered; a taken port fails below, before any job runs.
  const plan = listenerPlan(loaded.config, ctx.metricsListen);
  const clock = schedulerClock(ctx.log);
  const host = schedulerHostName(ctx.hostName);
  const database = await ctx.openDatabase();
  const lock = await takeHostLock(database, host);
  const current = { loaded };
  let stopHeartbeat = () => {};
  let webServer: WebServer | null = null;
  let stopWatch = async () => {};
  try {
    await writePidFile(pidFile, process.pid);
    const scheduleCount = () => planJobs(current.loaded.config).length;
    const id = await registerInstance(database.pool, {
      host,
      pid: process.pid,
      lockKey: hostLockKey(host),
      backendPid: lock.backendPid,
      version: chantalVersion,
      configDir: loaded.dir,
      scheduleCount: scheduleCount(),
    });
    // One notifier for the daemon's life: a reload changes its targets (deliveries under way keep theirs).
    const notifier = new Notifier(loaded.config, { log: ctx.log, configDir: loaded.dir });
    const watch = freshnessWatch(database, ctx.log, clock, notifier, current);
    stopWatch = async () => {
      await watch.stop();
      await notifier.settle(maxWaitMs(current.loaded.config));
    };
    const baseHandlers = jobHandlers(database, ctx.log, clock, notifier);
    const handlers: typeof baseHandlers = {
      ...baseHandlers,
      // A sync may change a repository's state (failing, back to ok): look again at once.
      sync: (req) => baseHandlers.sync(req).finally(() => watch.kick()),
    };
    const scheduler = new Scheduler({
      loaded,
      clock,
      log: ctx.log,
      store: new ScheduleStateStore(database.pool, id),
      // Claims live as long as this daemon's host lock: its session is how other daemons know we are alive.
      fires: new ScheduleFires(database.pool, { host, pid: process.pid, lockKey: hostLockKey(host), backendPid: lock.backendPid, instanceId: id }),
      runJob: (req) => handlers[req.job.kind](req),
    });
    // Before the scheduler starts: a taken port fails the start before any job runs.
    if (plan) {
      webServer = await startWebServer(
        plan,
        () => {
          const config = current.loaded.config;
          return {
            db: database.pool,
            blobs: blobStoreOf(config),
            config,
            now: () => clock.now(),
            backups: () => openStore(defaultTarget(config), config),
            scheduler: () => ({ nextRuns: scheduler.nextRuns(), queued: scheduler.queuedKeys.length, running: scheduler.runningKeys.length }),
            warn: (m) => ctx.log.warn(m),
          };
        },
        ctx.log,
      );
      ctx.log.info(
        { url: webServer.url, metrics: `${webServer.url}/metrics`, auth: plan.auth ? Object.keys(plan.auth)[0] : "none" },
        "serving the dashboard and metrics",
      );
    }
    await scheduler.start();
    const beat = () =>
      void heartbeat(database.pool, id, scheduleCount()).catch((err: unknown) => ctx.log.warn({ error: errorMessage(err) }, "heartbeat failed"));
    const timer = setInterval(beat, SCHEDULER_HEARTBEAT_MS);
    stopHeartbeat = () => clearInterval(timer);
    hangup.attach(scheduler, current, () => {
      beat();
      notifier.configure(current.loaded.config);
    });
    ctx.log.info({ host, pid: process.pid, schedules: scheduler.jobList.length, pidFile }, "scheduler started");

    const reason = await stopRequested(ctx, lock);
    const lostLock = lock.signal.aborted && !ctx.signal.aborted;
    ctx.log.info({ reason: reason.message }, "scheduler stopping");
    await hangup.close();
    const graceMs = current.loaded.config.scheduler.grace_period_seconds * 1000;
    const result = await scheduler.stop(
      lostLock ? 0 : graceMs,
      new AbortedError(`the scheduler is stopping (${reason.message}); grace period of ${graceMs / 1000} s over`, "SIGTERM"),
    );
    const signalName = reason instanceof AbortedError && reason.signalName !== "abort" ? reason.signalName : null;
    const why = lostLock ? `lost its database connection: ${reason.message}` : signalName ? `stopped by ${signalName}` : reason.message;
    await markStopped(database.pool, id, why).catch(() => undefined);
    ctx.log.info(result, "scheduler stopped");
    return lostLock ? ExitCode.failed : ExitCode.ok;
  } finally {
    stopHeartbeat();
    await stopWatch();
    await webServer?.close();
    await removePidFile(pidFile, process.pid).catch(() => undefined);
    await lock.release();
  }
}

function lastLines(path: string, n: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}

export type DetachOutcome =
  | { status: "running"; pid: number; logFile: string; pidFile: string }
  | { status: "exited"; code: number; logFile: string; lastLines: string };

/** `start --daemon`: run `node <childArgs>` detached, its output in scheduler.log_file; resolves once it runs or has exited. */
export async function startDetached(ctx: SchedulerContext, childArgs: string[]): Promise<DetachOutcome> {
  const loaded = await ctx.loadConfig(); // an invalid configuration fails here, on the terminal, with exit 78
  const { pidFile, logFile } = schedulerPaths(loaded);
  await ensureNotRunning(pidFile);
  listenerPlan(loaded.config, ctx.metricsListen); // so does --http to an address that needs web.auth
  testClockSpec(process.env); // a malformed test clock fails here, not in the detached child
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, "a");
  const child = spawn(process.execPath, childArgs, { detached: true, stdio: ["ignore", out, out], env: process.env });
  closeSync(out);
  const exited = new Promise<number>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  const end = Date.now() + DETACH_TIMEOUT_MS;
  for (;;) {
    if ((await readPidFile(pidFile).catch(() => null)) === child.pid) break;
    const code = await Promise.race([exited, sleep(100).then(() => null)]);
    if (code !== null) return { status: "exited", code, logFile, lastLines: lastLines(logFile, 10) };
    if (Date.now() > end) {
      child.unref();
      throw new ChantalError(`the scheduler (pid ${child.pid}) did not come up within ${DETACH_TIMEOUT_MS / 1000} s; see ${logFile}`);
    }
  }
  child.unref();
  return { status: "running", pid: child.pid!, logFile, pidFile };
}
