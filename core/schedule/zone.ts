// Wall-clock arithmetic in an IANA time zone with Intl only: offsets, local time of an instant, instants of a local time.
//
// A "wall-clock time" is a local date and time without a zone, carried as the milliseconds of the same
// fields read as UTC (so 2026-03-29 02:30 local is Date.UTC(2026, 2, 29, 2, 30)).

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC at an instant, in milliseconds (Europe/Berlin in summer: +7,200,000). */
export function zoneOffsetMs(timeZone: string, instantMs: number): number {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instantMs))) {
    if (part.type !== "literal") p[part.type] = Number(part.value);
  }
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/** The wall-clock time of an instant in a zone. */
export function wallClockOf(timeZone: string, instantMs: number): number {
  return instantMs + zoneOffsetMs(timeZone, instantMs);
}

export type WallClockInstants =
  | { kind: "unique"; instant: number }
  /** The local time happens twice (the repeated hour when clocks go back): both instants, earlier first. */
  | { kind: "repeated"; first: number; second: number }
  /** The local time never happens (the skipped hour when clocks go forward): the instant the gap ends. */
  | { kind: "skipped"; gapEnd: number };

const DAY_MS = 86_400_000;

/** The instants at which a wall-clock time happens in a zone (assumes at most one offset change within a day of it). */
export function instantsOf(timeZone: string, wallClock: number): WallClockInstants {
  const before = zoneOffsetMs(timeZone, wallClock - DAY_MS);
  const after = zoneOffsetMs(timeZone, wallClock + DAY_MS);
  const candidates = [...new Set([wallClock - before, wallClock - after])].filter((i) => wallClockOf(timeZone, i) === wallClock).sort((a, b) => a - b);
  if (candidates.length === 2) return { kind: "repeated", first: candidates[0]!, second: candidates[1]! };
  if (candidates.length === 1) return { kind: "unique", instant: candidates[0]! };
  return { kind: "skipped", gapEnd: transitionBetween(timeZone, wallClock - after, wallClock - before, after) };
}

/** The first instant in [lo, hi] whose offset is `offsetAfter` (binary search to the millisecond). */
function transitionBetween(timeZone: string, lo: number, hi: number, offsetAfter: number): number {
  let a = Math.min(lo, hi);
  let b = Math.max(lo, hi);
  while (b - a > 1) {
    const mid = Math.floor((a + b) / 2);
    if (zoneOffsetMs(timeZone, mid) === offsetAfter) b = mid;
    else a = mid;
  }
  return zoneOffsetMs(timeZone, a) === offsetAfter ? a : b;
}

/** The host's zone (TZ, /etc/localtime), as Node sees it. */
export function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** `+02:00`, `-05:00`, `+05:30`: a zone offset in milliseconds, as ISO-8601 writes it. */
export function formatOffset(offsetMs: number): string {
  const abs = Math.abs(offsetMs) / 60_000;
  return `${offsetMs < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** `2026-03-29T03:00:00+02:00`: an instant as local time with its offset, for people. */
export function formatInZone(instant: Date, timeZone: string): string {
  const ms = instant.getTime();
  const offset = zoneOffsetMs(timeZone, ms);
  const local = new Date(Math.floor(ms / 1000) * 1000 + offset).toISOString().slice(0, 19);
  return `${local}${formatOffset(offset)}`;
}
