// Names that say which process made a temporary entry (pid@host), and whether that process is gone for good.
import { hostname } from "node:os";
import { isProcessAlive } from "../process.js";

/** This host as it appears in marker names: no path separators, no '@'. */
export const MARKER_HOST = hostname().replace(/[^A-Za-z0-9.-]+/g, "-").slice(0, 63);

/** `<pid>@<host>` of this process, the suffix of its temporary names. */
export function ownMarker(): string {
  return `${process.pid}@${MARKER_HOST}`;
}

export interface Marker {
  pid: number;
  /** null: a name of an older version, which carried the pid only (made on this host). */
  host: string | null;
}

/** The marker after `<tag>-` at the end of a name (`latest.swap-123@host`, `x.building-123`), or null. */
export function markerOf(name: string, tag: "swap" | "building"): Marker | null {
  const m = new RegExp(`\\.${tag}-(\\d+)(?:@([A-Za-z0-9.-]+))?$`).exec(name);
  return m ? { pid: Number(m[1]), host: m[2] ?? null } : null;
}

export interface LeftoverFacts {
  marker: Marker;
  ageMs: number;
  /** Older than this, a marker of another host (whose pids we cannot check) counts as dead. */
  maxAgeMs: number;
  self: { pid: number; host: string };
  isAlive: (pid: number) => boolean;
}

/** Dead: made on this host by a process that is gone, or older than maxAgeMs (another host's, or a reused pid). */
export function isDeadLeftover(f: LeftoverFacts): boolean {
  if (f.ageMs > f.maxAgeMs) return true;
  const here = f.marker.host === null || f.marker.host === f.self.host;
  if (!here) return false;
  return f.marker.pid !== f.self.pid && !f.isAlive(f.marker.pid);
}

export function leftoverFacts(marker: Marker, ageMs: number, maxAgeMs: number): LeftoverFacts {
  return { marker, ageMs, maxAgeMs, self: { pid: process.pid, host: MARKER_HOST }, isAlive: isProcessAlive };
}
