// Tests of core/schedule/plan.ts.
import { rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { makeConfigDir } from "../../helpers/cli.js";
import { ConfigSchema, type Config } from "../../../core/config/schema.js";
import { ConfigError } from "../../../core/errors.js";
import { diffPlans, planJobs, scheduleTimeZone, unscheduledReason, type ScheduledJob } from "../../../core/schedule/plan.js";

function config(doc: Record<string, unknown>): Config {
  return ConfigSchema.parse(doc);
}

const repo = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "rpm", upstream_url: `http://127.0.0.1/${id}/`, ...extra });

describe("planJobs: group snapshots", () => {
  it("one group-snapshot job per group with an enabled schedule, after the repositories, with its members and name template", () => {
    const c = config({
      scheduler: { timezone: "America/New_York" },
      repositories: [repo("a", { schedule: { cron: "0 3 * * *" } }), repo("b")],
      groups: [
        { id: "el9", repositories: ["a", "b"], schedule: { cron: "30 3 * * *", timezone: "Europe/Paris", name: "el9-{date}" } },
        { id: "scheduler-zone", repositories: ["b"], schedule: { cron: "0 4 * * *" } },
        { id: "off", repositories: ["a"], schedule: { enabled: false, cron: "0 4 * * *" } },
        { id: "none", repositories: ["a"] },
      ],
    });
    expect(planJobs(c, "Asia/Tokyo").filter((j) => j.kind === "group-snapshot")).toEqual<ScheduledJob[]>([
      {
        key: "group-snapshot:el9",
        kind: "group-snapshot",
        target: "el9",
        cron: "30 3 * * *",
        timeZone: "Europe/Paris",
        jitterSeconds: 0,
        snapshotTemplate: "el9-{date}",
        members: ["a", "b"],
      },
      {
        key: "group-snapshot:scheduler-zone",
        kind: "group-snapshot",
        target: "scheduler-zone",
        cron: "0 4 * * *",
        timeZone: "America/New_York",
        jitterSeconds: 0,
        snapshotTemplate: "{repo_id}-{datetime}",
        members: ["b"],
      },
    ]);
  });
});

describe("planJobs", () => {
  const c = config({
    scheduler: { timezone: "America/New_York" },
    repositories: [
      repo("own-zone", {
        schedule: { cron: "0 2 * * *", timezone: "Europe/Berlin", jitter_seconds: 120, create_snapshot: true, snapshot_name_template: "own-{date}" },
      }),
      repo("scheduler-zone", { schedule: { cron: "30 3 * * *" } }),
      repo("no-schedule"),
      repo("schedule-off", { schedule: { enabled: false, cron: "0 4 * * *" } }),
      repo("repo-off", { enabled: false, schedule: { cron: "0 5 * * *" } }),
    ],
  });

  it("one sync job per enabled repository with an enabled schedule", () => {
    expect(planJobs(c, "Asia/Tokyo")).toEqual<ScheduledJob[]>([
      {
        key: "sync:own-zone",
        kind: "sync",
        target: "own-zone",
        cron: "0 2 * * *",
        timeZone: "Europe/Berlin",
        jitterSeconds: 120,
        snapshotTemplate: "own-{date}",
      },
      { key: "sync:scheduler-zone", kind: "sync", target: "scheduler-zone", cron: "30 3 * * *", timeZone: "America/New_York", jitterSeconds: 0 },
    ]);
  });

  it.each([
    ["schedule zone wins", "Europe/Berlin", "America/New_York", "Europe/Berlin"],
    ["then scheduler.timezone", undefined, "America/New_York", "America/New_York"],
    ["then the host's", undefined, undefined, "Asia/Tokyo"],
  ])("time zone: %s", (_t, own, scheduler, expected) => {
    const cfg = config({ scheduler: scheduler ? { timezone: scheduler } : {} });
    expect(scheduleTimeZone(cfg, own, "Asia/Tokyo")).toBe(expected);
  });

  it.each([
    ["no-schedule", "manual only"],
    ["schedule-off", "manual only"],
    ["repo-off", "repository disabled"],
    ["own-zone", null],
  ])("unscheduledReason(%s) = %s", (id, reason) => {
    expect(unscheduledReason(c.repositories.find((r) => r.id === id)!)).toBe(reason);
  });
});

describe("diffPlans", () => {
  const job = (key: string, cron: string, extra: Partial<ScheduledJob> = {}): ScheduledJob => ({
    key,
    kind: "sync",
    target: key,
    cron,
    timeZone: "UTC",
    jitterSeconds: 0,
    ...extra,
  });

  it("sorts jobs into added, removed, retimed (cron or zone) and updated (other settings)", () => {
    const before = [job("a", "0 1 * * *"), job("b", "0 2 * * *"), job("c", "0 3 * * *"), job("d", "0 4 * * *"), job("e", "0 5 * * *")];
    const after = [
      job("a", "0 1 * * *"),
      job("b", "0 9 * * *"),
      job("c", "0 3 * * *", { timeZone: "Europe/Berlin" }),
      job("d", "0 4 * * *", { jitterSeconds: 30 }),
      job("f", "0 6 * * *"),
    ];
    const d = diffPlans(before, after);
    expect(d.added.map((j) => j.key)).toEqual(["f"]);
    expect(d.removed.map((j) => j.key)).toEqual(["e"]);
    expect(d.retimed.map((j) => j.key)).toEqual(["b", "c"]);
    expect(d.updated.map((j) => j.key)).toEqual(["d"]);
  });
});

describe("snapshot name templates of schedules", () => {
  it("are rendered when the configuration loads: one that cannot make a name is an error naming the file and key path", async () => {
    const dir = makeConfigDir({
      "config.yaml": "repositories: []\n",
      "conf.d/a.yaml": [
        "repositories:",
        "  - { id: good, type: rpm, upstream_url: 'http://127.0.0.1/a/', schedule: { cron: '0 2 * * *', create_snapshot: true, snapshot_name_template: '{repo_id}-{date}' } }",
        "  - { id: bad, type: rpm, upstream_url: 'http://127.0.0.1/c/', schedule: { cron: '0 2 * * *', create_snapshot: true, snapshot_name_template: 'x-{week}' } }",
        "",
      ].join("\n"),
    });
    try {
      const err = await loadConfig({ configDir: dir, env: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues).toEqual([
        { file: "conf.d/a.yaml:3", path: "repository bad: schedule.snapshot_name_template", message: expect.stringContaining("unknown placeholder {week}") },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
