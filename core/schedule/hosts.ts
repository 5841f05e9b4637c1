// The scheduler hosts sharing one database: the name a daemon runs under, and whether each is running, stale or stopped.
import { hostname } from "node:os";
import { UsageError } from "../errors.js";

/** How often a daemon writes its heartbeat (real time: `scheduler status` compares it with the database's clock). */
export const SCHEDULER_HEARTBEAT_MS = 15_000;
/** A daemon whose heartbeat is older than this many intervals is stale: hung, or cut off from the database. */
export const STALE_AFTER_HEARTBEATS = 3;
/** `scheduler status` lists each host whose newest daemon gave a heartbeat within this many days. */
export const HOSTS_LISTED_DAYS = 7;

const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** --host-name, else the machine's host name: the name the daemon locks, registers and claims fires under. */
export function schedulerHostName(option: string | undefined, machine: () => string = hostname): string {
  if (option === undefined) return machine();
  if (!HOST_NAME.test(option))
    throw new UsageError(`--host-name "${option}": use letters, digits, '.', '_' and '-' (up to 253), starting with a letter or digit`);
  return option;
}

export type HostState = "running" | "stale" | "stopped";

export interface HostInstance {
  /** Its session holds the scheduler lock of its host name (it is connected, whatever its heartbeat says). */
  lockHeld: boolean;
  heartbeatAt: Date;
  stoppedAt: Date | null;
}

export interface HostVerdict {
  state: HostState;
  /** Why a host is stale, for the operator. */
  reason: string | null;
  heartbeatAgeSeconds: number;
}

/** The state of a host's newest daemon at the database's time `now`. */
export function hostVerdict(i: HostInstance, now: Date, heartbeatMs: number = SCHEDULER_HEARTBEAT_MS): HostVerdict {
  const ageMs = Math.max(0, now.getTime() - i.heartbeatAt.getTime());
  const heartbeatAgeSeconds = Math.floor(ageMs / 1000);
  if (i.stoppedAt !== null) return { state: "stopped", reason: null, heartbeatAgeSeconds };
  if (!i.lockHeld) return { state: "stale", reason: "died without stopping: its database session is gone", heartbeatAgeSeconds };
  if (ageMs > STALE_AFTER_HEARTBEATS * heartbeatMs)
    return { state: "stale", reason: `no heartbeat for ${heartbeatAgeSeconds} s (more than ${STALE_AFTER_HEARTBEATS} intervals): hung?`, heartbeatAgeSeconds };
  return { state: "running", reason: null, heartbeatAgeSeconds };
}
