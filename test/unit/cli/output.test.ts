// The one JSON writer (snake_case keys, ISO-8601 UTC) and the one terminal time format (local zone, seconds, zone once).
import { afterEach, describe, expect, it } from "vitest";
import { dataKeyed, formatLocalTime, jsonValue, LocalTimes, snakeCase, zoneOffsetLabel } from "../../../bin/output.js";

describe("terminal time format", () => {
  const savedTz = process.env.TZ;
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it.each([
    // zone, instant, local time, offset
    ["Europe/Paris", "2026-12-02T10:15:03.000Z", "2026-12-02 11:15:03", "UTC+01:00"], // winter
    ["Europe/Paris", "2026-07-14T10:15:03.999Z", "2026-07-14 12:15:03", "UTC+02:00"], // summer; milliseconds dropped, not rounded
    ["Europe/Paris", "2026-03-29T00:59:59.000Z", "2026-03-29 01:59:59", "UTC+01:00"], // the second before clocks go forward
    ["Europe/Paris", "2026-03-29T01:00:00.000Z", "2026-03-29 03:00:00", "UTC+02:00"],
    ["Europe/Paris", "2026-10-25T00:30:00.000Z", "2026-10-25 02:30:00", "UTC+02:00"], // the repeated hour, first time
    ["Europe/Paris", "2026-10-25T01:30:00.000Z", "2026-10-25 02:30:00", "UTC+01:00"], // and second time: the offset tells them apart
    ["UTC", "2026-12-31T23:59:59.000Z", "2026-12-31 23:59:59", "UTC+00:00"],
    ["America/New_York", "2026-01-01T03:04:05.000Z", "2025-12-31 22:04:05", "UTC-05:00"], // the day before, locally
    ["America/New_York", "2026-07-01T12:00:00.000Z", "2026-07-01 08:00:00", "UTC-04:00"],
    ["Asia/Kolkata", "2026-01-01T20:30:00.000Z", "2026-01-02 02:00:00", "UTC+05:30"],
  ])("%s: %s is %s (%s)", (zone, iso, local, offset) => {
    process.env.TZ = zone; // the process zone, as the CLI sees it
    const instant = new Date(iso);
    expect(formatLocalTime(instant)).toBe(local);
    expect(zoneOffsetLabel(instant)).toBe(offset);
    expect(formatLocalTime(instant, zone)).toBe(local);
  });

  it("names the zone once per output, with every offset its times have", () => {
    process.env.TZ = "Europe/Paris";
    const times = new LocalTimes();
    expect(times.note()).toBe(""); // nothing shown, no zone line
    expect(times.format(null)).toBeNull();
    expect(times.format(new Date("2026-12-02T10:15:03Z"))).toBe("2026-12-02 11:15:03");
    expect(times.format(new Date("2026-12-03T10:15:03Z"))).toBe("2026-12-03 11:15:03");
    expect(times.note()).toBe("times are in Europe/Paris (UTC+01:00)");
    times.format(new Date("2026-07-14T10:15:03Z"));
    expect(times.note()).toBe("times are in Europe/Paris (UTC+01:00, UTC+02:00)");
  });
});

describe("JSON output", () => {
  it.each([
    ["packagesTotal", "packages_total"],
    ["durationMs", "duration_ms"],
    ["repoId", "repo_id"],
    ["MaximumWindowInMinutes", "maximum_window_in_minutes"],
    ["caBundle", "ca_bundle"],
    ["sha256", "sha256"],
    ["already_snake", "already_snake"],
    ["httpURLPath", "http_url_path"],
  ])("%s -> %s", (key, snake) => expect(snakeCase(key)).toBe(snake));

  it("snake_cases keys at every depth, writes Dates as ISO-8601 UTC, keeps the keys of data-keyed maps", () => {
    const value = {
      repoId: "r1",
      startedAt: new Date("2026-12-02T10:15:03Z"),
      counts: { packagesTotal: 3, nested: [{ bytesDownloaded: 1, at: new Date(0) }] },
      skipped: undefined,
      members: dataKeyed({ "config/myRepo.yaml": { sha256Hex: "x" } }),
    };
    expect(JSON.parse(JSON.stringify(jsonValue(value)))).toEqual({
      repo_id: "r1",
      started_at: "2026-12-02T10:15:03.000Z",
      counts: { packages_total: 3, nested: [{ bytes_downloaded: 1, at: "1970-01-01T00:00:00.000Z" }] },
      members: { "config/myRepo.yaml": { sha256_hex: "x" } },
    });
  });
});
