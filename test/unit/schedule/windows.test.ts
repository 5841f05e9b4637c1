// Tests of core/schedule/windows.ts: whether a sync may start, when it may, and when it stops (maintenance windows).
import { describe, expect, it } from "vitest";
import { ConfigSchema } from "../../../core/config/schema.js";
import {
  decideWindow,
  deferredStart,
  jitterInWindow,
  type MaintenanceWindow,
  openStretchAt,
  planWindows,
  waitReason,
  windowWaitOf,
  windowWaitText,
} from "../../../core/schedule/windows.js";

const H = 3600_000;

function win(spec: Partial<MaintenanceWindow> & { cron: string; hours?: number }, index = 0): MaintenanceWindow {
  const { hours = 4, ...rest } = spec;
  return { index, durationMs: hours * H, mode: "only", repositories: null, onClose: "finish", timeZone: "UTC", ...rest };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(".000Z", "Z"));

/** The decision as one short line: "run closes <t> [abort]" or "wait <t>". */
function decide(windows: MaintenanceWindow[], at: string, repo = "r1"): string {
  const d = decideWindow(windows, repo, Date.parse(at));
  if (d.action === "wait") return `wait ${iso(d.until) ?? "never"}`;
  return `run closes ${iso(d.closesAt) ?? "-"}${d.abortAt !== null ? " abort" : ""}`;
}

const nightly = win({ cron: "0 1 * * *", hours: 4 });

describe("decideWindow", () => {
  it.each<[string, MaintenanceWindow[], string, string]>([
    ["no window: runs at once", [], "2026-06-01T12:00:00Z", "run closes -"],
    ["before an only window: waits for its opening", [nightly], "2026-06-01T00:30:00Z", "wait 2026-06-01T01:00:00Z"],
    ["at the opening: runs", [nightly], "2026-06-01T01:00:00Z", "run closes 2026-06-01T05:00:00Z"],
    ["inside: runs until the close", [nightly], "2026-06-01T04:59:59Z", "run closes 2026-06-01T05:00:00Z"],
    ["at the close (the end is outside): waits a day", [nightly], "2026-06-01T05:00:00Z", "wait 2026-06-02T01:00:00Z"],
    ["on_close: abort gives the stop time", [win({ cron: "0 1 * * *", onClose: "abort" })], "2026-06-01T02:00:00Z", "run closes 2026-06-01T05:00:00Z abort"],
    ["crossing midnight: open after midnight", [win({ cron: "0 22 * * *" })], "2026-06-01T01:30:00Z", "run closes 2026-06-01T02:00:00Z"],
    ["crossing midnight: open before midnight", [win({ cron: "0 22 * * *" })], "2026-06-01T23:30:00Z", "run closes 2026-06-02T02:00:00Z"],
    ["crossing midnight: after its close", [win({ cron: "0 22 * * *" })], "2026-06-01T02:00:00Z", "wait 2026-06-01T22:00:00Z"],
    [
      "never inside only: waits for the never window's end",
      [win({ cron: "0 0 * * *", hours: 8 }), win({ cron: "0 2 * * *", hours: 1, mode: "never" }, 1)],
      "2026-06-01T02:30:00Z",
      "wait 2026-06-01T03:00:00Z",
    ],
    [
      "never inside only: before it, runs (never windows stop no running sync)",
      [win({ cron: "0 0 * * *", hours: 8 }), win({ cron: "0 2 * * *", hours: 1, mode: "never" }, 1)],
      "2026-06-01T01:00:00Z",
      "run closes 2026-06-01T08:00:00Z",
    ],
    [
      "never covering a whole only window: the next only opening that is free",
      [win({ cron: "0 1 * * *", hours: 1 }), win({ cron: "0 0 1 * *", hours: 48, mode: "never" }, 1)],
      "2026-06-01T00:30:00Z",
      "wait 2026-06-03T01:00:00Z",
    ],
    [
      "never equal to the only window: no start within the horizon",
      [nightly, win({ cron: "0 1 * * *", mode: "never" }, 1)],
      "2026-06-01T00:30:00Z",
      "wait never",
    ],
    ["never alone: waits for its end", [win({ cron: "0 8 * * 1-5", hours: 10, mode: "never" })], "2026-06-01T09:00:00Z", "wait 2026-06-01T18:00:00Z"],
    ["never alone, outside: runs with no close", [win({ cron: "0 8 * * 1-5", hours: 10, mode: "never" })], "2026-06-01T19:00:00Z", "run closes -"],
    [
      "several only windows are a union: inside the second",
      [win({ cron: "0 1 * * *", hours: 2 }), win({ cron: "30 2 * * *", hours: 1 }, 1)],
      "2026-06-01T03:10:00Z",
      "run closes 2026-06-01T03:30:00Z",
    ],
    [
      "overlapping only windows merge; the later close (abort) ends the stretch",
      [win({ cron: "0 1 * * *", hours: 2 }), win({ cron: "0 2 * * *", hours: 2, onClose: "abort" }, 1)],
      "2026-06-01T01:30:00Z",
      "run closes 2026-06-01T04:00:00Z abort",
    ],
    [
      "a finishing window that outlasts an aborting one: no abort",
      [win({ cron: "0 1 * * *", hours: 2, onClose: "abort" }), win({ cron: "0 2 * * *", hours: 2 }, 1)],
      "2026-06-01T01:30:00Z",
      "run closes 2026-06-01T04:00:00Z",
    ],
    ["duration longer than the period: occurrences merge", [win({ cron: "0 */6 * * *", hours: 7 })], "2026-06-01T05:00:00Z", "run closes -"],
    ["touching occurrences are one stretch", [win({ cron: "0 1,3 * * *", hours: 2 })], "2026-06-01T02:00:00Z", "run closes 2026-06-01T05:00:00Z"],
    ["a window of other repositories does not apply", [win({ cron: "0 1 * * *", repositories: ["other"] })], "2026-06-01T12:00:00Z", "run closes -"],
    [
      "a window naming the repository applies",
      [win({ cron: "0 1 * * *", repositories: ["other", "r1"] })],
      "2026-06-01T12:00:00Z",
      "wait 2026-06-02T01:00:00Z",
    ],
    // Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z). The duration is real time.
    [
      "DST spring: 01:00 local + 4h closes at 06:00 CEST (04:00Z)",
      [win({ cron: "0 1 * * *", timeZone: "Europe/Berlin" })],
      "2026-03-29T03:30:00Z",
      "run closes 2026-03-29T04:00:00Z",
    ],
    [
      "DST spring: an opening in the skipped hour opens at the gap's end",
      [win({ cron: "30 2 * * *", hours: 2, timeZone: "Europe/Berlin" })],
      "2026-03-29T00:30:00Z",
      "wait 2026-03-29T01:00:00Z",
    ],
    [
      "DST spring: the day after, local 02:30 CEST again",
      [win({ cron: "30 2 * * *", hours: 2, timeZone: "Europe/Berlin" })],
      "2026-03-29T04:00:00Z",
      "wait 2026-03-30T00:30:00Z",
    ],
    // 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00Z); 02:30 local opens once, at its first pass (00:30Z).
    [
      "DST autumn: open in the second pass of the repeated hour, closes one real hour after the first",
      [win({ cron: "30 2 * * *", hours: 1, timeZone: "Europe/Berlin" })],
      "2026-10-25T01:10:00Z",
      "run closes 2026-10-25T01:30:00Z",
    ],
    [
      "DST autumn: after the close the second 02:30 opens nothing",
      [win({ cron: "30 2 * * *", hours: 1, timeZone: "Europe/Berlin" })],
      "2026-10-25T01:30:00Z",
      "wait 2026-10-26T01:30:00Z",
    ],
  ])("%s", (_name, windows, at, expected) => {
    expect(decide(windows, at)).toBe(expected);
  });
});

describe("openStretchAt", () => {
  it("is null outside every window", () => expect(openStretchAt([nightly], Date.parse("2026-06-01T06:00:00Z"))).toBeNull());
  it("names the window that closes the stretch", () =>
    expect(openStretchAt([win({ cron: "0 1 * * *", hours: 1 }), win({ cron: "30 1 * * *", hours: 2 }, 1)], Date.parse("2026-06-01T01:10:00Z"))).toMatchObject({
      end: Date.parse("2026-06-01T03:30:00Z"),
      window: { index: 1 },
    }));
});

describe("deferredStart: coalescing and jitter inside the window", () => {
  it.each<[string, MaintenanceWindow[], string, number, string | null]>([
    ["inside the window: starts now", [nightly], "2026-06-01T02:00:00Z", 60_000, null],
    ["outside: the opening plus its jitter", [nightly], "2026-06-01T12:00:00Z", 60_000, "2026-06-02T01:01:00Z"],
    [
      "a jitter longer than half the window is cut to half of it",
      [win({ cron: "0 1 * * *", hours: 0.05 })],
      "2026-06-01T12:00:00Z",
      300_000,
      "2026-06-02T01:01:30Z",
    ],
  ])("%s", (_name, windows, at, jitter, readyAt) => {
    const d = deferredStart(windows, "r1", Date.parse(at), jitter);
    expect(d === null ? null : iso(d.readyAt)).toBe(readyAt);
  });

  it("every fire time missed outside the window waits for the same one opening (one run, not one per fire)", () => {
    const hourly = ["2026-06-01T06:00:00Z", "2026-06-01T12:00:00Z", "2026-06-01T23:00:00Z", "2026-06-02T00:59:59Z"];
    expect(new Set(hourly.map((t) => iso(deferredStart([nightly], "r1", Date.parse(t), 0)!.opensAt)))).toEqual(new Set(["2026-06-02T01:00:00Z"]));
  });
});

describe("waitReason", () => {
  it("says why and when, in the zone given", () => {
    const d = decideWindow([nightly], "r1", Date.parse("2026-06-01T12:00:00Z"));
    expect(d.action === "wait" && waitReason(d, "Europe/Berlin")).toBe(
      "outside its maintenance windows: the next start is allowed at 2026-06-02T03:00:00+02:00",
    );
  });
  it("names the never window that holds it", () => {
    const d = decideWindow([win({ cron: "0 8 * * *", hours: 10, mode: "never" }, 2)], "r1", Date.parse("2026-06-01T09:00:00Z"));
    expect(d.action === "wait" && waitReason(d, "UTC")).toBe(
      'inside its maintenance window scheduler.windows[2] (never, "0 8 * * *" for 10h, UTC): the next start is allowed at 2026-06-01T18:00:00+00:00',
    );
  });
});

describe("jitterInWindow", () => {
  it.each([
    [60_000, 0, null, 60_000],
    [60_000, 0, 1_000_000, 60_000],
    [600_000, 0, 100_000, 50_000],
    [600_000, 100_000, 100_000, 0],
  ])("jitter %d from %d with the close at %s: %d", (delay, start, close, out) => expect(jitterInWindow(delay, start, close)).toBe(out));
});

describe("planWindows", () => {
  it("resolves durations, defaults and zones from the configuration", () => {
    const config = ConfigSchema.parse({
      scheduler: {
        timezone: "Europe/Berlin",
        windows: [
          { cron: "0 1 * * *", duration: "90m" },
          { cron: "0 8 * * 1-5", duration: "10h", mode: "never", repositories: ["a"], timezone: "UTC" },
        ],
      },
      repositories: [{ id: "a", type: "rpm", upstream_url: "http://127.0.0.1:9/a/" }],
    });
    expect(planWindows(config, "America/New_York")).toEqual([
      { index: 0, cron: "0 1 * * *", durationMs: 90 * 60_000, mode: "only", repositories: null, onClose: "finish", timeZone: "Europe/Berlin" },
      { index: 1, cron: "0 8 * * 1-5", durationMs: 10 * H, mode: "never", repositories: ["a"], onClose: "finish", timeZone: "UTC" },
    ]);
  });
});

describe("windowWaitOf and windowWaitText: what list, status and the dashboard show", () => {
  const opens = new Date("2026-06-02T01:00:00Z");
  it.each<[string, Parameters<typeof windowWaitOf>[0], boolean, ReturnType<typeof windowWaitOf>]>([
    ["waiting, daemon running", { windowWaiting: true, windowOpensAt: opens }, true, { opensAt: opens }],
    ["waiting, no window within a year", { windowWaiting: true, windowOpensAt: null }, true, { opensAt: null }],
    ["waiting, but no daemon runs (a stale record)", { windowWaiting: true, windowOpensAt: opens }, false, null],
    ["not waiting", { windowWaiting: false, windowOpensAt: null }, true, null],
    ["no record", undefined, true, null],
  ])("%s", (_name, recorded, running, expected) => {
    expect(windowWaitOf(recorded, running)).toEqual(expected);
  });
  it("says when the window opens, or that none does", () => {
    expect(windowWaitText({ opensAt: opens }, (d) => d.toISOString())).toBe("waiting for window (opens 2026-06-02T01:00:00.000Z)");
    expect(windowWaitText({ opensAt: null }, () => "x")).toBe("waiting for window (none opens within a year)");
  });
});
