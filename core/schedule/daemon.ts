// The scheduler loop: fires due schedules, queues their runs (jitter, max_concurrent_syncs), runs them through an
// injected handler, keeps the state in the database, reloads its plan, and stops with a grace period.
//
// Each run first claims its fire (schedule, nominal fire time) in chantal.schedule_fires: with several daemons on one
// database the first to claim runs it and the others skip it; a fire whose daemon died mid-run is closed, not run again
// (core/db/schedule-fires.ts).
//
// Time comes from an injected Clock (tests move it by hand or start it at a chosen instant); the grace period
// at stop is real time, because it bounds how long a shutdown really takes (systemd's TimeoutStopSec).
import type { LoadedConfig } from "../config/load.js";
import type { ClaimResult, ScheduleFires } from "../db/schedule-fires.js";
import { AbortedError, errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { sleep } from "../runtime/sleep.js";
import { decideAtStart, type StartDecision } from "./catchup.js";
import type { Clock } from "./clock.js";
import { nextFire } from "./next.js";
import { groupSlotDecision, membersDueInSlot, type MemberFire } from "./group-slot.js";
import { diffPlans, planJobs, type PlanChanges, type ScheduledJob } from "./plan.js";
import { dropJobs, enqueue, jitterDelayMs, nextReadyAt, takeRunnable, type PendingRun } from "./queue.js";
import type { RunOutcome, ScheduleStateStore } from "./state.js";
import { deferredStart, decideWindow, describeWindow, jitterInWindow, planWindows, WindowClosedError, type MaintenanceWindow } from "./windows.js";
import { hostTimeZone } from "./zone.js";

export interface JobRunRequest {
  job: ScheduledJob;
  /** The fire time this run belongs to. */
  scheduledAt: Date;
  catchUp: boolean;
  /** Aborted when the grace period of a shutdown ends. */
  signal: AbortSignal;
  /** The configuration in force when the run starts. */
  loaded: LoadedConfig;
  /**
   * "group-snapshot": the members whose syncs fire at scheduledAt, each "done" with its status when it finished on this
   * daemon, else "none" (not run here: the handler looks for another daemon's fire in chantal.schedule_fires).
   */
  memberFires?: MemberFire[];
}

export interface JobRunResult extends RunOutcome {
  /** Extra fields for the log line (counts, snapshot). */
  details?: Record<string, unknown>;
}

export type JobRunner = (req: JobRunRequest) => Promise<JobRunResult>;

export interface SchedulerOptions {
  loaded: LoadedConfig;
  clock: Clock;
  log: Logger;
  store: ScheduleStateStore;
  /** Where each fire is claimed once among all daemons on the database. */
  fires: ScheduleFires;
  runJob: JobRunner;
  random?: () => number;
  hostZone?: string;
}

/** The longest the loop sleeps without looking at the clock again (a suspended host, a clock step). */
const MAX_SLEEP_MS = 30_000;
/** How often (clock time) the loop looks for fires left open by a daemon that is gone. */
const ORPHAN_SCAN_MS = 30_000;
/** How often (clock time) old rows of chantal.schedule_fires are deleted, and how old they get. */
const PRUNE_EVERY_MS = 6 * 3600_000;
const FIRES_KEPT_DAYS = 30;
/** How long (clock time) the outcomes of this daemon's fires are kept for the group snapshots of their fire times. */
const OUTCOMES_KEPT_MS = 2 * 86400_000;
/** How often (clock time) a run for which no maintenance window opens within the horizon looks again. */
const WINDOW_RECHECK_MS = 86400_000;

interface RunningJob {
  job: ScheduledJob;
  run: PendingRun;
  controller: AbortController;
  done: Promise<void>;
  /** Cancels the on_close: abort timer of its maintenance window. */
  cancelWindowTimer?: () => void;
}

export interface StopResult {
  /** Runs that finished within the grace period. */
  finished: number;
  /** Runs aborted when it ended. */
  aborted: number;
  /** Queued runs that never started. */
  dropped: number;
}

export class Scheduler {
  private loaded: LoadedConfig;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly store: ScheduleStateStore;
  private readonly fires: ScheduleFires;
  private readonly runJob: JobRunner;
  private readonly random: () => number;
  private readonly hostZone: string;
  private jobs = new Map<string, ScheduledJob>();
  private nextAt = new Map<string, number>();
  private queue: PendingRun[] = [];
  private readonly running = new Map<string, RunningJob>();
  private seq = 0;
  private stopping = false;
  private cancelTimer: (() => void) | null = null;
  private writes: Promise<void> = Promise.resolve();
  private nextScanAt = Number.NEGATIVE_INFINITY;
  private nextPruneAt = Number.NEGATIVE_INFINITY;
  private scanning: Promise<void> | null = null;
  private readonly claiming = new Set<Promise<boolean>>();
  /** `<job key>@<fire time ms>` -> how that fire ended here (its status, "skipped" when dropped as busy). */
  private readonly outcomes = new Map<string, { dueAt: number; status: string }>();
  /** scheduler.windows, and the sync jobs waiting for one to open (job key -> the opening, null: none within the horizon). */
  private windows: MaintenanceWindow[];
  private readonly windowWaits = new Map<string, number | null>();

  constructor(opts: SchedulerOptions) {
    this.loaded = opts.loaded;
    this.clock = opts.clock;
    this.log = opts.log;
    this.store = opts.store;
    this.fires = opts.fires;
    this.runJob = opts.runJob;
    this.random = opts.random ?? Math.random;
    this.hostZone = opts.hostZone ?? hostTimeZone();
    this.windows = planWindows(this.loaded.config, this.hostZone);
  }

  get jobList(): ScheduledJob[] {
    return [...this.jobs.values()];
  }

  /** Next fire time of each job (ms), for logs and tests. */
  nextRuns(): Map<string, Date> {
    return new Map([...this.nextAt].map(([k, v]) => [k, new Date(v)]));
  }

  get runningKeys(): string[] {
    return [...this.running.keys()];
  }

  get queuedKeys(): string[] {
    return this.queue.map((p) => p.jobKey);
  }

  /** Plans the jobs, decides catch-up from the stored state, and starts the loop. */
  async start(): Promise<void> {
    const plan = planJobs(this.loaded.config, this.hostZone);
    const stored = await this.store.loadTimings();
    const now = this.clock.now();
    const catchUp = this.loaded.config.scheduler.catch_up;
    for (const job of plan) {
      this.jobs.set(job.key, job);
      let d: StartDecision;
      try {
        d = decideAtStart(job, stored.get(job.key), now, catchUp);
      } catch (err) {
        this.log.error({ job: job.key, cron: job.cron, error: errorMessage(err) }, "schedule disabled: no next fire time");
        continue;
      }
      this.nextAt.set(job.key, d.next.getTime());
      if (d.action === "wait") {
        this.log.info({ job: job.key, cron: job.cron, timezone: job.timeZone, next: d.next.toISOString() }, "schedule planned");
        await this.store.schedule(job, d.next);
        continue;
      }
      const fields = { job: job.key, missed: d.missedAt.toISOString(), missedRuns: d.missedCount, next: d.next.toISOString() };
      if (d.action === "catch-up") {
        this.log.info(fields, "missed while the scheduler was down: running once now (scheduler.catch_up)");
        this.addRun(job, d.missedAt.getTime(), now.getTime(), true);
      } else {
        this.log.info(fields, "missed while the scheduler was down: waiting for the next time (scheduler.catch_up is off)");
      }
      await this.store.schedule(job, d.next, d.missedAt);
    }
    await this.store.retire(plan.map((j) => j.key));
    this.tick();
  }

  /** Takes a new configuration: new, changed and removed schedules apply at once; running syncs go on. */
  async reload(loaded: LoadedConfig): Promise<PlanChanges> {
    const plan = planJobs(loaded.config, this.hostZone);
    const changes = diffPlans([...this.jobs.values()], plan);
    this.loaded = loaded;
    this.jobs = new Map(plan.map((j) => [j.key, j]));
    this.windows = planWindows(loaded.config, this.hostZone);
    // Runs waiting for a window look again under the new windows.
    this.queue = this.queue.map((p) => (this.windowWaits.has(p.jobKey) ? { ...p, readyAt: Math.min(p.readyAt, this.clock.now().getTime()) } : p));
    const now = this.clock.now();
    for (const job of [...changes.added, ...changes.retimed]) {
      const next = this.safeNextFire(job, now);
      if (next === null) continue;
      this.nextAt.set(job.key, next);
      this.persist((s) => s.schedule(job, new Date(next)));
    }
    for (const job of changes.removed) {
      this.nextAt.delete(job.key);
      if (this.running.has(job.key)) this.log.info({ job: job.key }, "schedule removed: its running sync finishes");
    }
    const { kept, dropped } = dropJobs(this.queue, new Set(this.jobs.keys()));
    this.queue = kept;
    for (const p of dropped) this.log.info({ job: p.jobKey }, "schedule removed: its queued run is dropped");
    this.persist((s) => s.retire(plan.map((j) => j.key)));
    this.tick();
    await this.flush();
    return changes;
  }

  /**
   * No new runs; running ones get `graceMs` (real time) to finish, then are aborted with `reason` and awaited.
   * Queued and aborted runs are stored as due again, so that catch_up runs them at the next start.
   */
  async stop(graceMs: number, reason: Error = new AbortedError("the scheduler is stopping", "SIGTERM")): Promise<StopResult> {
    this.stopping = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    const dropped = this.queue.splice(0);
    for (const p of dropped) {
      const job = this.jobs.get(p.jobKey);
      this.log.info({ job: p.jobKey }, "stopping: queued run not started");
      if (job) this.persist((s) => s.schedule(job, new Date(p.dueAt)));
      if (job && this.windowWaits.delete(p.jobKey)) this.persist((s) => s.windowWait(job, false));
    }
    const inFlight = [...this.running.values()];
    let aborted = 0;
    if (inFlight.length > 0) {
      this.log.info({ running: inFlight.map((r) => r.job.key), graceSeconds: graceMs / 1000 }, "stopping: waiting for running syncs to finish");
      const all = Promise.allSettled(inFlight.map((r) => r.done));
      const grace = new AbortController();
      const timedOut = await Promise.race([
        all.then(() => false),
        sleep(graceMs, grace.signal).then(
          () => true,
          () => false,
        ),
      ]);
      grace.abort();
      if (timedOut) {
        for (const r of this.running.values()) {
          aborted++;
          this.log.warn({ job: r.job.key, graceSeconds: graceMs / 1000 }, "grace period over: aborting the running sync");
          r.controller.abort(reason);
          this.persist((s) => s.schedule(r.job, new Date(r.run.dueAt)));
        }
        await all;
      }
    }
    await this.flush();
    return { finished: inFlight.length - aborted, aborted, dropped: dropped.length };
  }

  /** Waits for the state writes issued so far (and a scan for orphaned fires in progress). */
  async flush(): Promise<void> {
    await this.scanning;
    await this.writes;
  }

  /** Waits until no claim or scan is in flight and the writes issued so far are done (for tests that move a ManualClock). */
  async idle(): Promise<void> {
    for (;;) {
      const pending: Promise<unknown>[] = [...this.claiming, ...(this.scanning ? [this.scanning] : [])];
      if (pending.length === 0) break;
      await Promise.allSettled(pending);
      await new Promise((r) => setImmediate(r)); // let the claim's continuation start its run
    }
    await this.writes;
  }

  // ------------------------------------------------------------------ the loop

  private tick(): void {
    if (this.stopping) return;
    const now = this.clock.now().getTime();
    for (const job of this.jobs.values()) {
      const due = this.nextAt.get(job.key);
      if (due !== undefined && due <= now) this.fire(job, due, now);
    }
    this.scanOrphans(now);
    this.startRunnable(now);
    this.armTimer(now);
  }

  /** Every ORPHAN_SCAN_MS: fires whose daemon died mid-run are closed; runs a shutdown aborted on a daemon now gone are queued here. */
  private scanOrphans(now: number): void {
    if (this.scanning || now < this.nextScanAt) return;
    this.nextScanAt = now + ORPHAN_SCAN_MS;
    this.scanning = this.takeOverOrphans()
      .catch((err: unknown) => this.log.error({ error: errorMessage(err) }, "cannot look for fires left by a scheduler that is gone"))
      .finally(() => {
        this.scanning = null;
      });
  }

  private async takeOverOrphans(): Promise<void> {
    if (this.clock.now().getTime() >= this.nextPruneAt) {
      this.nextPruneAt = this.clock.now().getTime() + PRUNE_EVERY_MS;
      const pruned = await this.fires.prune(FIRES_KEPT_DAYS);
      if (pruned > 0) this.log.debug({ pruned, olderThanDays: FIRES_KEPT_DAYS }, "old fire claims deleted");
    }
    for (const d of await this.fires.closeDead([...this.jobs.keys()]))
      this.log.warn(
        { job: d.jobKey, due: d.fireAt.toISOString(), claimedBy: `${d.host} pid ${d.pid}` },
        "the scheduler that claimed this fire time died while running it: its run is lost, not run again (the next fire time runs as usual)",
      );
    const open = await this.fires.orphans([...this.jobs.keys()]);
    if (this.stopping) return;
    const now = this.clock.now().getTime();
    let queued = false;
    for (const o of open) {
      const job = this.jobs.get(o.jobKey);
      if (!job || this.running.has(job.key) || this.queue.some((p) => p.jobKey === job.key)) continue;
      const next = this.safeNextFire(job, o.fireAt);
      if (next === null || next <= now) continue; // its next fire time has come: that one runs, this one is over
      this.log.warn(
        { job: job.key, due: o.fireAt.toISOString(), claimedBy: `${o.host} pid ${o.pid}` },
        "a shutdown aborted this fire time's run on a scheduler that is gone: taking it over",
      );
      queued = this.addRun(job, o.fireAt.getTime(), now, false) || queued;
    }
    if (queued) this.tick();
  }

  /** One fire time: queue a run (unless the job is busy) and compute the next time from now, so a clock jump fires once. */
  private fire(job: ScheduledJob, dueAt: number, now: number): void {
    for (const [k, o] of this.outcomes) if (o.dueAt < now - OUTCOMES_KEPT_MS) this.outcomes.delete(k);
    const next = this.safeNextFire(job, new Date(now));
    if (next === null) this.nextAt.delete(job.key);
    else this.nextAt.set(job.key, next);
    const queued = this.addRun(job, dueAt, now, false);
    if (queued)
      this.log.info({ job: job.key, due: new Date(dueAt).toISOString(), next: next === null ? null : new Date(next).toISOString() }, "schedule fell due");
    this.persist((s) => s.schedule(job, next === null ? null : new Date(next), new Date(dueAt)));
  }

  private addRun(job: ScheduledJob, dueAt: number, now: number, catchUp: boolean): boolean {
    const at = Math.max(dueAt, now);
    const jitter = jitterDelayMs(job.jitterSeconds, this.random);
    const window = job.kind === "sync" ? decideWindow(this.windows, job.target, at) : null;
    const readyAt = at + (window?.action === "run" ? jitterInWindow(jitter, at, window.closesAt) : jitter);
    const r = enqueue(this.queue, { jobKey: job.key, dueAt, readyAt, seq: ++this.seq, catchUp }, new Set(this.running.keys()));
    if (!r.queued && r.reason === "already queued" && this.windowWaits.has(job.key)) {
      // Fire times outside the window coalesce: one run at the opening.
      this.log.info(
        { job: job.key, due: new Date(dueAt).toISOString() },
        "a run of this schedule already waits for its maintenance window: this fire time joins it",
      );
      return false;
    }
    if (!r.queued) {
      // Its sync of this fire time does not run: a group snapshot of the same time does not wait for it.
      if (r.reason === "still running") this.recordOutcome(job.key, dueAt, "skipped");
      this.log.warn(
        { job: job.key, due: new Date(dueAt).toISOString(), reason: r.reason },
        "previous run of this schedule has not finished: this fire time is skipped",
      );
      return false;
    }
    this.queue = r.queue;
    if (readyAt > now) this.log.info({ job: job.key, jitterSeconds: (readyAt - Math.max(dueAt, now)) / 1000 }, "jitter: delaying this run");
    return true;
  }

  private startRunnable(now: number): void {
    this.queue = this.queue.map((p) => this.heldForWindow(p, now));
    const max = this.loaded.config.scheduler.max_concurrent_syncs;
    const { start, waiting } = takeRunnable(this.queue, this.running.size, max, now, (run) => this.waitsForMembers(run));
    this.queue = waiting;
    const blocked = waiting.filter((p) => p.readyAt <= now).length;
    if (blocked > 0 && start.length === 0) this.log.debug({ queued: blocked, max }, "max_concurrent_syncs reached: runs wait in order");
    for (const run of start) this.launch(run);
  }

  /** A ready sync outside its maintenance window waits for the next opening (scheduler.windows; core/schedule/windows.ts). */
  private heldForWindow(p: PendingRun, now: number): PendingRun {
    const job = this.jobs.get(p.jobKey);
    if (job?.kind !== "sync" || p.readyAt > now || decideWindow(this.windows, job.target, now).action === "run") return p;
    const d = deferredStart(this.windows, job.target, now, jitterDelayMs(job.jitterSeconds, this.random));
    if (d === null) return p;
    if (this.windowWaits.get(job.key) !== d.opensAt || !this.windowWaits.has(job.key)) {
      const opens = d.opensAt === null ? null : new Date(d.opensAt).toISOString();
      if (opens === null)
        this.log.warn({ job: job.key, window: describeWindow(d.blockedBy) }, "no maintenance window opens for this sync within a year: it waits");
      else
        this.log.info({ job: job.key, due: new Date(p.dueAt).toISOString(), opens, window: describeWindow(d.blockedBy) }, "waiting for its maintenance window");
      this.windowWaits.set(job.key, d.opensAt);
      this.persist((s) => s.windowWait(job, true, d.opensAt === null ? null : new Date(d.opensAt)));
    }
    return { ...p, readyAt: d.readyAt ?? now + WINDOW_RECHECK_MS };
  }

  private launch(run: PendingRun): void {
    const job = this.jobs.get(run.jobKey);
    if (!job) return;
    const controller = new AbortController();
    const entry: RunningJob = { job, run, controller, done: Promise.resolve() };
    this.running.set(job.key, entry);
    this.windowWaits.delete(job.key);
    const now = this.clock.now().getTime();
    const window = job.kind === "sync" ? decideWindow(this.windows, job.target, now) : null;
    if (window?.action === "run" && window.abortAt !== null && window.window) {
      const closing = window.window;
      entry.cancelWindowTimer = this.clock.setTimer(() => {
        this.log.warn({ job: job.key, window: describeWindow(closing) }, "maintenance window closed: stopping the running sync cleanly (on_close: abort)");
        controller.abort(new WindowClosedError(closing));
      }, window.abortAt - now);
    }
    entry.done = this.execute(job, run, controller.signal).finally(() => {
      entry.cancelWindowTimer?.();
      this.running.delete(job.key);
      // Stopped by its window's close: one new run waits for the next opening (a fresh fire time: the old one is done).
      if (controller.signal.reason instanceof WindowClosedError && !this.stopping && this.jobs.has(job.key)) {
        const at = this.clock.now().getTime();
        this.addRun(job, at, at, false);
      }
      this.tick();
    });
  }

  private recordOutcome(jobKey: string, dueAt: number, status: string): void {
    this.outcomes.set(`${jobKey}@${dueAt}`, { dueAt, status });
  }

  /** The members of a group snapshot's fire time: queued or running here is "pending", finished here "done", else "none". */
  private memberFires(job: ScheduledJob, dueAt: number): MemberFire[] {
    return membersDueInSlot(job, [...this.jobs.values()], new Date(dueAt)).map((m) => {
      const here = (p: PendingRun) => p.jobKey === m.key && p.dueAt === dueAt;
      if (this.queue.some(here) || [...this.running.values()].some((r) => here(r.run))) return { repoId: m.target, fire: { state: "pending" } };
      const o = this.outcomes.get(`${m.key}@${dueAt}`);
      return { repoId: m.target, fire: o ? { state: "done", status: o.status } : { state: "none" } };
    });
  }

  /** A group snapshot waits in the queue, without a slot, while a member's sync of its fire time is queued or running here. */
  private waitsForMembers(run: PendingRun): boolean {
    const job = this.jobs.get(run.jobKey);
    if (job?.kind !== "group-snapshot") return false;
    const d = groupSlotDecision(this.memberFires(job, run.dueAt));
    if (d.action === "wait")
      this.log.debug({ job: job.key, due: new Date(run.dueAt).toISOString(), waitingFor: d.waitingFor }, "group snapshot waits for its members' syncs");
    return d.action === "wait";
  }

  /** True when this daemon runs the fire; otherwise logs who has it (or why it is skipped). */
  private async claim(job: ScheduledJob, run: PendingRun): Promise<boolean> {
    const due = new Date(run.dueAt).toISOString();
    let claim: ClaimResult;
    try {
      claim = await this.fires.claim(job.key, new Date(run.dueAt));
    } catch (err) {
      this.log.error({ job: job.key, due, error: errorMessage(err) }, "cannot claim this fire time in the database: it is not run here");
      return false;
    }
    const holder = claim.claimed ? null : claim.holder ? `${claim.holder.host} pid ${claim.holder.pid}` : null;
    if (claim.claimed) {
      if (claim.takenOverFrom)
        this.log.warn(
          { job: job.key, due, takenOverFrom: claim.takenOverFrom, attempt: claim.attempt },
          "took over this fire time from a scheduler that is gone",
        );
      return true;
    }
    if (claim.reason === "busy") {
      this.recordOutcome(job.key, run.dueAt, "skipped");
      this.log.warn(
        { job: job.key, due, running: claim.busyFireAt?.toISOString(), on: holder },
        "previous run of this schedule has not finished: this fire time is skipped",
      );
    } else {
      if (claim.holder?.finished && claim.holder.status) this.recordOutcome(job.key, run.dueAt, claim.holder.status);
      this.log.info(
        { job: job.key, due, by: holder, status: claim.holder?.status ?? "running" },
        "another scheduler has claimed this fire time: it is not run here",
      );
    }
    return false;
  }

  private async execute(job: ScheduledJob, run: PendingRun, signal: AbortSignal): Promise<void> {
    const claimed = this.claim(job, run);
    this.claiming.add(claimed);
    try {
      if (!(await claimed)) return;
    } finally {
      this.claiming.delete(claimed);
    }
    const startedAt = this.clock.now();
    this.persist((s) => s.runStarted(job, startedAt));
    this.log.info({ job: job.key, due: new Date(run.dueAt).toISOString(), catchUp: run.catchUp }, "scheduled run starting");
    let result: JobRunResult;
    try {
      const memberFires = job.kind === "group-snapshot" ? { memberFires: this.memberFires(job, run.dueAt) } : {};
      result = await this.runJob({ job, scheduledAt: new Date(run.dueAt), catchUp: run.catchUp, signal, loaded: this.loaded, ...memberFires });
    } catch (err) {
      result = { status: "failed", runId: null, error: errorMessage(err) };
    }
    this.recordOutcome(job.key, run.dueAt, result.status);
    const level = result.status === "failed" || result.status === "interrupted" ? "error" : result.status.startsWith("skipped") ? "warn" : "info";
    this.log[level]({ job: job.key, status: result.status, run: result.runId, error: result.error, ...result.details }, `scheduled run ${result.status}`);
    const finishedAt = this.clock.now();
    this.persist((s) => s.runFinished(job, finishedAt, result));
    // A window's close ends the fire ("aborted"): unlike a shutdown's "interrupted" it is not left open for a takeover.
    const fireStatus = signal.reason instanceof WindowClosedError ? "aborted" : result.status;
    this.persistFire(() => this.fires.finish(job.key, new Date(run.dueAt), fireStatus, result.runId));
  }

  private armTimer(now: number): void {
    this.cancelTimer?.();
    const candidates = [...this.nextAt.values()];
    const ready = nextReadyAt(this.queue, now);
    if (ready !== null) candidates.push(ready);
    if (!this.scanning && Number.isFinite(this.nextScanAt)) candidates.push(this.nextScanAt); // never a time already past: no busy loop
    const wake = candidates.length > 0 ? Math.min(...candidates) : now + MAX_SLEEP_MS;
    this.cancelTimer = this.clock.setTimer(() => this.tick(), Math.min(Math.max(0, wake - now), MAX_SLEEP_MS));
  }

  private safeNextFire(job: ScheduledJob, after: Date): number | null {
    try {
      return nextFire(job.cron, after, job.timeZone).getTime();
    } catch (err) {
      this.log.error({ job: job.key, cron: job.cron, error: errorMessage(err) }, "schedule disabled: no next fire time");
      return null;
    }
  }

  /** State writes run one after another, in the order the loop issued them; a failed write is logged, never fatal. */
  private persist(write: (store: ScheduleStateStore) => Promise<void>): void {
    this.writes = this.writes
      .then(() => write(this.store))
      .catch((err: unknown) => this.log.error({ error: errorMessage(err) }, "cannot save scheduler state"));
  }

  /** A fire's outcome, in the same order as the state writes. */
  private persistFire(write: () => Promise<void>): void {
    this.writes = this.writes.then(write).catch((err: unknown) => this.log.error({ error: errorMessage(err) }, "cannot record the outcome of this fire time"));
  }
}
