// Times for people: the local zone to the second, the zone named once (README "Output"); --json keeps ISO-8601 UTC.
import { formatOffset, hostTimeZone, wallClockOf, zoneOffsetMs } from "./schedule/zone.js";

/** The process's time zone (TZ, else /etc/localtime), as Node sees it. */
export function localTimeZone(): string {
  return hostTimeZone();
}

/** `UTC+01:00`, `UTC-05:00`, `UTC+05:30`: a zone's offset at an instant. */
export function zoneOffsetLabel(instant: Date, timeZone = localTimeZone()): string {
  return `UTC${formatOffset(zoneOffsetMs(timeZone, instant.getTime()))}`;
}

/** `2026-12-02 11:15:03`: an instant in the local zone (or `timeZone`), to the second; the zone is named once per output. */
export function formatLocalTime(instant: Date, timeZone = localTimeZone()): string {
  const wall = new Date(wallClockOf(timeZone, Math.floor(instant.getTime() / 1000) * 1000));
  return `${wall.toISOString().slice(0, 10)} ${wall.toISOString().slice(11, 19)}`;
}

/** One time in a sentence (an error message): `2026-12-02 11:15:03 Europe/Paris`. */
export function formatLocalTimeWithZone(instant: Date): string {
  return `${formatLocalTime(instant)} ${localTimeZone()}`;
}
