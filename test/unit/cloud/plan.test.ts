// Tests of core/cloud/plan.ts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigSchema, type Config } from "../../../core/config/schema.js";
import {
  containerOverrides,
  deploymentPlan,
  flexibleWindow,
  groupScheduleName,
  heapLimitMb,
  isManagedScheduleName,
  planProblemIssues,
  syncScheduleName,
} from "../../../core/cloud/plan.js";

function config(doc: Record<string, unknown>): Config {
  return ConfigSchema.parse(doc);
}

const repo = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "rpm", upstream_url: `https://mirror.example.com/${id}/`, ...extra });

describe("syncScheduleName", () => {
  it.each([
    ["rhel9-baseos", "chantal-sync-rhel9-baseos"],
    ["a", "chantal-sync-a"],
    ["x".repeat(50), `chantal-sync-${"x".repeat(50)}`],
    // sha256("x" * 51) starts 3ecd502a; sha256("x" * 63) starts 75220b47 (printf | sha256sum)
    ["x".repeat(51), `chantal-sync-${"x".repeat(42)}-3ecd502a`],
    ["x".repeat(63), `chantal-sync-${"x".repeat(42)}-75220b47`],
  ])("%s -> %s", (id, name) => {
    expect(syncScheduleName(id)).toBe(name);
    expect(name.length).toBeLessThanOrEqual(64);
  });

  it("gives distinct, valid names to any distinct repository ids, however long", () => {
    const idChar = fc.constantFrom(..."abcXYZ019._-".split(""));
    const id = fc.tuple(fc.constantFrom("a", "Z", "7"), fc.array(idChar, { maxLength: 62 })).map(([first, rest]) => first + rest.join(""));
    fc.assert(
      fc.property(fc.uniqueArray(id, { minLength: 2, maxLength: 40 }), (ids) => {
        const names = ids.map(syncScheduleName);
        for (const n of names) expect(n).toMatch(/^[0-9a-zA-Z\-_.]{1,64}$/);
        expect(new Set(names).size).toBe(ids.length);
      }),
      { numRuns: 300, seed: 8 },
    );
  });

  it("keeps long ids with a common prefix apart", () => {
    const a = syncScheduleName(`${"p".repeat(50)}-a`);
    const b = syncScheduleName(`${"p".repeat(50)}-b`);
    expect(a.slice(0, 55)).toBe(b.slice(0, 55));
    expect(a).not.toBe(b);
  });
});

describe("flexibleWindow", () => {
  it.each([
    [0, { Mode: "OFF" }],
    [1, { Mode: "FLEXIBLE", MaximumWindowInMinutes: 1 }],
    [60, { Mode: "FLEXIBLE", MaximumWindowInMinutes: 1 }],
    [61, { Mode: "FLEXIBLE", MaximumWindowInMinutes: 2 }],
    [120, { Mode: "FLEXIBLE", MaximumWindowInMinutes: 2 }],
    [300, { Mode: "FLEXIBLE", MaximumWindowInMinutes: 5 }],
  ])("jitter %i s -> %j", (jitter, window) => {
    expect(flexibleWindow(jitter)).toEqual(window);
  });
});

describe("deploymentPlan", () => {
  it("schedules every enabled repository with an enabled schedule, and the backup", () => {
    const plan = deploymentPlan(
      config({
        scheduler: { timezone: "America/New_York" },
        repositories: [
          repo("rhel9-baseos", {
            schedule: { cron: "0 2 * * *", timezone: "Europe/Berlin", jitter_seconds: 90, create_snapshot: true, snapshot_name_template: "rhel9-{date}" },
          }),
          repo("epel", { schedule: { cron: "30 4 * * MON-FRI" } }),
          repo("manual-only"),
          repo("paused", { schedule: { enabled: false, cron: "0 3 * * *" } }),
          repo("retired", { enabled: false, schedule: { cron: "0 3 * * *" } }),
        ],
        backup: { schedule: { cron: "@daily", timezone: "Europe/Paris" } },
      }),
    );
    expect(plan.problems).toEqual([]);
    expect(plan.schedules).toEqual([
      {
        name: "chantal-sync-rhel9-baseos",
        handler: "sync",
        repoId: "rhel9-baseos",
        cron: "0 2 * * *",
        expression: "cron(0 2 * * ? *)",
        timezone: "Europe/Berlin",
        flexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 2 },
        description: 'chantal: sync rhel9-baseos at "0 2 * * *"',
        command: ["node", "--max-old-space-size=716", "dist/functions/entry.js", "sync", "--repo-id", "rhel9-baseos", "--snapshot", "rhel9-{date}"],
        event: { handler: "sync", repoId: "rhel9-baseos", trigger: "cloud", snapshotTemplate: "rhel9-{date}" },
      },
      {
        name: "chantal-sync-epel",
        handler: "sync",
        repoId: "epel",
        cron: "30 4 * * MON-FRI",
        expression: "cron(30 4 ? * MON-FRI *)",
        timezone: "America/New_York",
        flexibleTimeWindow: { Mode: "OFF" },
        description: 'chantal: sync epel at "30 4 * * MON-FRI"',
        command: ["node", "--max-old-space-size=716", "dist/functions/entry.js", "sync", "--repo-id", "epel"],
        event: { handler: "sync", repoId: "epel", trigger: "cloud" },
      },
      {
        name: "chantal-backup",
        handler: "backup",
        cron: "@daily",
        expression: "cron(0 0 * * ? *)",
        timezone: "Europe/Paris",
        flexibleTimeWindow: { Mode: "OFF" },
        description: 'chantal: database backup at "@daily"',
        command: ["node", "--max-old-space-size=716", "dist/functions/entry.js", "backup"],
        event: { handler: "backup", trigger: "cloud" },
      },
    ]);
  });

  it("schedules pool.gc.schedule as the pool-gc handler; a cron EventBridge cannot run is a problem naming its path", () => {
    const plan = deploymentPlan(config({ pool: { gc: { schedule: { cron: "0 4 * * 0" } } } }));
    expect(plan.problems).toEqual([]);
    expect(plan.schedules).toEqual([
      {
        name: "chantal-pool-gc",
        handler: "pool-gc",
        cron: "0 4 * * 0",
        expression: expect.stringMatching(/^cron\(/),
        timezone: "UTC",
        flexibleTimeWindow: { Mode: "OFF" },
        description: 'chantal: pool gc at "0 4 * * 0"',
        command: ["node", "--max-old-space-size=716", "dist/functions/entry.js", "pool-gc"],
        event: { handler: "pool-gc", trigger: "cloud" },
      },
    ]);
    const bad = deploymentPlan(config({ pool: { gc: { schedule: { cron: "0 3 1-7 * SUN" } } } }));
    expect(bad.schedules).toEqual([]);
    expect(bad.problems.map((p) => p.path)).toEqual(["pool.gc.schedule.cron"]);
    expect(deploymentPlan(config({ pool: { gc: { schedule: { cron: "0 4 * * 0", enabled: false } } } })).schedules).toEqual([]);
  });

  it("schedules each group with an enabled schedule as the group-snapshot handler, with the ordering note; a cron AWS cannot run names the group", () => {
    const repos = [repo("a", { schedule: { cron: "0 3 * * *" } }), repo("b")];
    const plan = deploymentPlan(
      config({
        scheduler: { timezone: "Europe/Berlin" },
        repositories: repos,
        groups: [
          { id: "el9", repositories: ["a", "b"], schedule: { cron: "30 3 * * *", name: "el9-{date}" } },
          { id: "off", repositories: ["a"], schedule: { cron: "30 3 * * *", enabled: false } },
          { id: "plain", repositories: ["a"] },
        ],
      }),
    );
    expect(plan.problems).toEqual([]);
    expect(plan.schedules.filter((s) => s.handler === "group-snapshot")).toEqual([
      {
        name: "chantal-group-el9",
        handler: "group-snapshot",
        groupId: "el9",
        cron: "30 3 * * *",
        expression: "cron(30 3 * * ? *)",
        timezone: "Europe/Berlin",
        flexibleTimeWindow: { Mode: "OFF" },
        description: 'chantal: group snapshot el9 at "30 3 * * *" (set it after the members\' syncs: EventBridge cannot chain)',
        command: ["node", "--max-old-space-size=716", "dist/functions/entry.js", "group-snapshot", "--group", "el9"],
        event: { handler: "group-snapshot", groupId: "el9", trigger: "cloud" },
      },
    ]);
    expect(isManagedScheduleName("chantal-group-el9")).toBe(true);
    expect(groupScheduleName("g".repeat(63))).toHaveLength(64);
    const bad = deploymentPlan(config({ repositories: repos, groups: [{ id: "el9", repositories: ["a"], schedule: { cron: "0 3 1-7 * SUN" } }] }));
    expect(bad.schedules.map((s) => s.name)).toEqual(["chantal-sync-a"]);
    expect(bad.problems).toEqual([expect.objectContaining({ repository: null, group: "el9", path: "groups[0].schedule.cron" })]);
    const issues = planProblemIssues(bad.problems, { files: ["config.yaml"], sources: new Map() });
    expect(issues[0]!.message).toMatch(/^group el9 cannot run on AWS EventBridge Scheduler: /);
  });

  it.each([
    ["the schedule's own zone", { timezone: "Asia/Tokyo" }, { timezone: "Europe/Berlin" }, "Asia/Tokyo", "Europe/Berlin"],
    ["scheduler.timezone", {}, { timezone: "Europe/Berlin" }, "Europe/Berlin", "Europe/Berlin"],
    ["UTC when neither is set (a task has no host zone)", {}, {}, "UTC", "UTC"],
  ])("time zone: %s", (_label, schedule, scheduler, syncTz, backupTz) => {
    const plan = deploymentPlan(
      config({ scheduler, repositories: [repo("r", { schedule: { cron: "0 1 * * *", ...schedule } })], backup: { schedule: { cron: "0 5 * * *" } } }),
    );
    expect(plan.schedules.map((s) => [s.name, s.timezone])).toEqual([
      ["chantal-sync-r", syncTz],
      ["chantal-backup", backupTz],
    ]);
  });

  it("reports expressions AWS cannot represent with the repository, reason and fix, and leaves them out", () => {
    const plan = deploymentPlan(
      config({
        repositories: [repo("ok", { schedule: { cron: "0 1 * * *" } }), repo("both-days", { schedule: { cron: "0 2 1 * MON" } })],
        backup: { schedule: { cron: "0 3 1-7 * SUN" } },
      }),
    );
    expect(plan.schedules.map((s) => s.name)).toEqual(["chantal-sync-ok"]);
    expect(plan.problems).toEqual([
      {
        repository: "both-days",
        path: "repositories[1].schedule.cron",
        cron: "0 2 1 * MON",
        reason:
          'day-of-month "1" and day-of-week "MON" are both restricted: unix cron runs on days matching either, and EventBridge Scheduler cannot express "either" (one of the two must be "?")',
        fix: 'restrict only one of them: "0 2 1 * *" (days of the month) or "0 2 * * MON" (days of the week)',
      },
      {
        repository: null,
        path: "backup.schedule.cron",
        cron: "0 3 1-7 * SUN",
        reason:
          'day-of-month "1-7" and day-of-week "SUN" are both restricted: unix cron runs on days matching either, and EventBridge Scheduler cannot express "either" (one of the two must be "?")',
        fix: 'restrict only one of them: "0 3 1-7 * *" (days of the month) or "0 3 * * SUN" (days of the week)',
      },
    ]);
    // As config issues: the repository's own file and index, the backup's merged files.
    const loaded = { files: ["config.yaml", "conf.d/10.yaml"], sources: new Map([["both-days", { file: "conf.d/10.yaml", index: 0, line: 4 }]]) };
    expect(planProblemIssues(plan.problems, loaded)).toEqual([
      {
        file: "conf.d/10.yaml:4",
        path: "repository both-days: schedule.cron",
        message: `cannot run on AWS EventBridge Scheduler: ${plan.problems[0]!.reason}; fix: ${plan.problems[0]!.fix}`,
      },
      {
        file: "config.yaml, conf.d/10.yaml",
        path: "backup.schedule.cron",
        message: `the backup schedule cannot run on AWS EventBridge Scheduler: ${plan.problems[1]!.reason}; fix: ${plan.problems[1]!.fix}`,
      },
    ]);
  });

  it("plans nothing for a configuration without schedules", () => {
    expect(deploymentPlan(config({ repositories: [repo("a")] }))).toEqual({ schedules: [], problems: [] });
  });
});

describe("containerOverrides", () => {
  it("is the ECS RunTask override of the chantal container: argv and the same request as SST_EVENT", () => {
    const [s] = deploymentPlan(config({ repositories: [repo("epel", { schedule: { cron: "0 1 * * *" } })] })).schedules;
    expect(JSON.parse(containerOverrides(s!))).toEqual({
      containerOverrides: [
        {
          name: "chantal",
          command: ["node", "--max-old-space-size=716", "dist/functions/entry.js", "sync", "--repo-id", "epel"],
          environment: [{ name: "SST_EVENT", value: '{"handler":"sync","repoId":"epel","trigger":"cloud"}' }],
        },
      ],
    });
  });
});

describe("task sizes and the fleet's spread (cloud.task, a repository's cloud.task, cloud.spread_minutes)", () => {
  it.each([
    [0.5, 358],
    [1, 716],
    [2, 1433],
    [4, 1536],
    [30, 1536],
  ])("a %s GB task gets a %i MB heap", (gb, mb) => {
    expect(heapLimitMb(gb)).toBe(mb);
  });

  it("sizes every task from cloud.task, a repository's own size as a RunTask override, and widens the windows", () => {
    const plan = deploymentPlan(
      config({
        cloud: { task: { cpu: 1, memory_gb: 4 }, spread_minutes: 90 },
        repositories: [
          repo("small", { schedule: { cron: "0 2 * * *" } }),
          repo("big", { schedule: { cron: "0 2 * * *", jitter_seconds: 60 }, cloud: { task: { cpu: 2, memory_gb: 8 } } }),
        ],
        backup: { target: "s3://b/x", schedule: { cron: "0 5 * * *" } },
      }),
    );
    const [small, big, backup] = plan.schedules;
    expect(small!.command.slice(0, 3)).toEqual(["node", "--max-old-space-size=1536", "dist/functions/entry.js"]);
    expect(small!.taskSize).toBeUndefined();
    expect(JSON.parse(containerOverrides(small!))).not.toHaveProperty("cpu");
    expect(big!.taskSize).toEqual({ cpu: 2, memory_gb: 8 });
    expect(JSON.parse(containerOverrides(big!))).toMatchObject({ cpu: "2048", memory: "8192" });
    expect(small!.flexibleTimeWindow).toEqual({ Mode: "FLEXIBLE", MaximumWindowInMinutes: 90 });
    expect(big!.flexibleTimeWindow).toEqual({ Mode: "FLEXIBLE", MaximumWindowInMinutes: 90 });
    // The backup is one task: not spread.
    expect(backup!.flexibleTimeWindow).toEqual({ Mode: "OFF" });
  });

  it.each([
    [{ cpu: 0.5, memory_gb: 8 }, "memory_gb", "0.5 vCPU takes 1-4 GB (1, 2, 3, 4), not 8"],
    [{ cpu: 3, memory_gb: 8 }, "cpu", "3 vCPU is not a Fargate size (0.25, 0.5, 1, 2, 4, 8 or 16)"],
    [{ cpu: 8, memory_gb: 18 }, "memory_gb", "8 vCPU takes 16-60 GB (16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60), not 18"],
  ])("refuses the size %j (%s)", (task, key, message) => {
    const r = ConfigSchema.safeParse({ cloud: { task } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ["cloud", "task", key], message });
  });
});
