// The run queue: jitter delays only its own run, at most max_concurrent_syncs run at once, the rest wait in the order they fell due.
//
// Pure: the daemon keeps the array and the set of running job keys and asks these functions what to do.

export interface PendingRun {
  jobKey: string;
  /** The fire time the run belongs to: its place in the queue. */
  dueAt: number;
  /** dueAt plus its jitter: it may not start earlier, but it never holds back runs behind it. */
  readyAt: number;
  /** Enqueue order, to break ties between runs due at the same instant. */
  seq: number;
  /** Started at daemon start for a fire time missed while the daemon was down. */
  catchUp: boolean;
}

/** A uniform random delay in [0, jitterSeconds] seconds, in whole milliseconds. */
export function jitterDelayMs(jitterSeconds: number, random: () => number): number {
  if (jitterSeconds <= 0) return 0;
  return Math.min(jitterSeconds * 1000, Math.floor(random() * (jitterSeconds * 1000 + 1)));
}

export type EnqueueResult = { queued: true; queue: PendingRun[] } | { queued: false; reason: "already queued" | "still running" };

/** A job has at most one run waiting and one running: a fire time that finds it busy is dropped, not stacked. */
export function enqueue(queue: readonly PendingRun[], run: PendingRun, running: ReadonlySet<string>): EnqueueResult {
  if (running.has(run.jobKey)) return { queued: false, reason: "still running" };
  if (queue.some((p) => p.jobKey === run.jobKey)) return { queued: false, reason: "already queued" };
  return { queued: true, queue: [...queue, run] };
}

const byDue = (a: PendingRun, b: PendingRun) => a.dueAt - b.dueAt || a.seq - b.seq;

/**
 * Which runs start now: ready ones, oldest fire time first, as many as there are free slots. A `blocked` run (a group
 * snapshot whose members' syncs of its fire time are still queued or running) waits without taking a slot.
 */
export function takeRunnable(
  queue: readonly PendingRun[],
  runningCount: number,
  maxConcurrent: number,
  now: number,
  blocked: (run: PendingRun) => boolean = () => false,
): { start: PendingRun[]; waiting: PendingRun[] } {
  const free = Math.max(0, maxConcurrent - runningCount);
  const ready = queue.filter((p) => p.readyAt <= now && !blocked(p)).sort(byDue);
  const start = ready.slice(0, free);
  const started = new Set(start);
  return { start, waiting: queue.filter((p) => !started.has(p)) };
}

/** When a waiting run's jitter ends next (null when none is delayed past now). */
export function nextReadyAt(queue: readonly PendingRun[], now: number): number | null {
  const later = queue.filter((p) => p.readyAt > now).map((p) => p.readyAt);
  return later.length > 0 ? Math.min(...later) : null;
}

/** Removes the runs of jobs that no longer exist (after a reload). */
export function dropJobs(queue: readonly PendingRun[], keep: ReadonlySet<string>): { kept: PendingRun[]; dropped: PendingRun[] } {
  return { kept: queue.filter((p) => keep.has(p.jobKey)), dropped: queue.filter((p) => !keep.has(p.jobKey)) };
}
