// Tests of core/cloud/reconcile.ts.
import type { GetScheduleOutput } from "@aws-sdk/client-scheduler";
import { describe, expect, it } from "vitest";
import { createFromTemplate, mergedUpdate, reconcileSchedules, scheduleDifferences, type DesiredSchedule } from "../../../core/cloud/reconcile.js";
import { describeLiveSchedule } from "../../../core/cloud/schedules.js";
import { isManagedScheduleName } from "../../../core/cloud/plan.js";

const target = {
  Arn: "arn:aws:ecs:eu-west-1:1:cluster/c",
  RoleArn: "arn:aws:iam::1:role/r",
  EcsParameters: { TaskDefinitionArn: "arn:aws:ecs:eu-west-1:1:task-definition/t", LaunchType: "FARGATE" as const },
  RetryPolicy: { MaximumRetryAttempts: 2 },
  DeadLetterConfig: { Arn: "arn:aws:sqs:eu-west-1:1:dlq" },
};

function desired(name: string, over: Partial<DesiredSchedule> = {}): DesiredSchedule {
  return {
    name,
    expression: "cron(0 2 * * ? *)",
    timezone: "UTC",
    flexibleTimeWindow: { Mode: "OFF" },
    description: `d ${name}`,
    input: '{"a":1,"b":[1,2]}',
    ...over,
  };
}

/** The live form of a desired schedule, as GetSchedule returns it. */
function live(d: DesiredSchedule, over: Partial<GetScheduleOutput> = {}): GetScheduleOutput {
  return {
    Name: d.name,
    GroupName: "g",
    ScheduleExpression: d.expression,
    ScheduleExpressionTimezone: d.timezone,
    FlexibleTimeWindow: d.flexibleTimeWindow,
    Description: d.description,
    State: "ENABLED",
    Target: { ...target, Input: d.input },
    ...over,
  };
}

describe("scheduleDifferences", () => {
  const d = desired("chantal-sync-a");
  it.each<[string, Partial<GetScheduleOutput>, { field: string; from: string; to: string }[]]>([
    ["identical", {}, []],
    ["input with other key order and spacing", { Target: { ...target, Input: '{ "b": [1, 2], "a": 1 }' } }, []],
    ["no zone means UTC", { ScheduleExpressionTimezone: undefined }, []],
    ["expression", { ScheduleExpression: "cron(0 3 * * ? *)" }, [{ field: "expression", from: "cron(0 3 * * ? *)", to: "cron(0 2 * * ? *)" }]],
    ["zone", { ScheduleExpressionTimezone: "Europe/Berlin" }, [{ field: "timezone", from: "Europe/Berlin", to: "UTC" }]],
    ["window", { FlexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 5 } }, [{ field: "flexibleTimeWindow", from: "FLEXIBLE 5 min", to: "OFF" }]],
    ["disabled by hand", { State: "DISABLED" }, [{ field: "state", from: "DISABLED", to: "ENABLED" }]],
    ["description", { Description: undefined }, [{ field: "description", from: "", to: "d chantal-sync-a" }]],
    ["input", { Target: { ...target, Input: '{"a":2,"b":[1,2]}' } }, [{ field: "input", from: '{"a":2,"b":[1,2]}', to: '{"a":1,"b":[1,2]}' }]],
  ])("%s", (_label, over, fields) => {
    expect(scheduleDifferences(live(d, over), d)).toEqual(fields);
  });
});

describe("reconcileSchedules", () => {
  const a = desired("chantal-sync-a");
  const b = desired("chantal-sync-b");
  const backup = desired("chantal-backup");
  it.each<[string, DesiredSchedule[], GetScheduleOutput[], { changes: string[]; unchanged: string[]; unmanaged: string[] }]>([
    ["empty group: create all", [a, b], [], { changes: ["create chantal-sync-a", "create chantal-sync-b"], unchanged: [], unmanaged: [] }],
    ["all in place", [a, b], [live(b), live(a)], { changes: [], unchanged: ["chantal-sync-a", "chantal-sync-b"], unmanaged: [] }],
    [
      "create, update and delete, in that order",
      [a, backup],
      [live(a, { ScheduleExpression: "cron(0 9 * * ? *)" }), live(b)],
      { changes: ["create chantal-backup", "update chantal-sync-a", "delete chantal-sync-b"], unchanged: [], unmanaged: [] },
    ],
    [
      "schedules chantal does not manage are left alone",
      [],
      [live(desired("nightly-report")), live(desired("chantal-synchronize")), live(backup)],
      { changes: ["delete chantal-backup"], unchanged: [], unmanaged: ["chantal-synchronize", "nightly-report"] },
    ],
  ])("%s", (_label, want, have, expected) => {
    const rec = reconcileSchedules(want, new Map(have.map((s) => [s.Name!, s])), { isManaged: isManagedScheduleName });
    expect({ changes: rec.changes.map((c) => `${c.action} ${c.name}`), unchanged: rec.unchanged, unmanaged: rec.unmanaged }).toEqual(expected);
  });
});

describe("mergedUpdate and createFromTemplate", () => {
  it("keeps every live field the plan does not set (UpdateSchedule replaces the whole schedule)", () => {
    const d = desired("chantal-sync-a", {
      expression: "cron(0 4 * * ? *)",
      timezone: "Europe/Berlin",
      flexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 2 },
      input: "{}",
    });
    const current = live(desired("chantal-sync-a"), {
      StartDate: new Date("2026-01-01T00:00:00Z"),
      EndDate: new Date("2030-01-01T00:00:00Z"),
      KmsKeyArn: "arn:aws:kms:k",
      ActionAfterCompletion: "NONE",
      State: "DISABLED",
      Arn: "arn:aws:scheduler:eu-west-1:1:schedule/g/chantal-sync-a",
    });
    expect(mergedUpdate(current, d, "g")).toEqual({
      Name: "chantal-sync-a",
      GroupName: "g",
      ScheduleExpression: "cron(0 4 * * ? *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
      FlexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 2 },
      Description: "d chantal-sync-a",
      State: "ENABLED",
      Target: { ...target, Input: "{}" },
      StartDate: new Date("2026-01-01T00:00:00Z"),
      EndDate: new Date("2030-01-01T00:00:00Z"),
      KmsKeyArn: "arn:aws:kms:k",
      ActionAfterCompletion: "NONE",
    });
  });

  it("creates with the template's target and the schedule's own input, enabled", () => {
    const template = live(desired("chantal-target-template"), { State: "DISABLED", KmsKeyArn: "arn:aws:kms:k" });
    expect(createFromTemplate(template, desired("chantal-sync-new", { input: '{"x":1}' }), "g")).toEqual({
      Name: "chantal-sync-new",
      GroupName: "g",
      ScheduleExpression: "cron(0 2 * * ? *)",
      ScheduleExpressionTimezone: "UTC",
      FlexibleTimeWindow: { Mode: "OFF" },
      Description: "d chantal-sync-new",
      State: "ENABLED",
      Target: { ...target, Input: '{"x":1}' },
      KmsKeyArn: "arn:aws:kms:k",
    });
  });
});

describe("describeLiveSchedule", () => {
  it.each<[string, GetScheduleOutput, object]>([
    [
      "a sync schedule",
      live(
        desired("chantal-sync-epel", {
          input: JSON.stringify({
            containerOverrides: [{ name: "chantal", environment: [{ name: "SST_EVENT", value: '{"handler":"sync","repoId":"epel","trigger":"cloud"}' }] }],
          }),
        }),
        {
          FlexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 3 },
          LastModificationDate: new Date("2026-05-01T10:00:00Z"),
        },
      ),
      {
        name: "chantal-sync-epel",
        handler: "sync",
        repoId: "epel",
        expression: "cron(0 2 * * ? *)",
        timezone: "UTC",
        state: "ENABLED",
        flexibleWindowMinutes: 3,
        lastModified: "2026-05-01T10:00:00.000Z",
      },
    ],
    [
      "a group snapshot schedule names its group",
      {
        Name: "chantal-group-el9",
        ScheduleExpression: "cron(30 3 * * ? *)",
        Target: {
          ...target,
          Input: JSON.stringify({
            containerOverrides: [
              { name: "chantal", environment: [{ name: "SST_EVENT", value: '{"handler":"group-snapshot","groupId":"el9","trigger":"cloud"}' }] },
            ],
          }),
        },
      },
      {
        name: "chantal-group-el9",
        handler: "group-snapshot",
        repoId: null,
        groupId: "el9",
        expression: "cron(30 3 * * ? *)",
        timezone: "UTC",
        state: "ENABLED",
        flexibleWindowMinutes: null,
        lastModified: null,
      },
    ],
    [
      "someone else's schedule with a non-JSON input",
      { Name: "other", ScheduleExpression: "rate(1 days)", Target: { ...target, Input: "hello" }, State: "DISABLED" },
      {
        name: "other",
        handler: null,
        repoId: null,
        expression: "rate(1 days)",
        timezone: "UTC",
        state: "DISABLED",
        flexibleWindowMinutes: null,
        lastModified: null,
      },
    ],
  ])("%s", (_label, s, row) => {
    expect(describeLiveSchedule(s)).toEqual(row);
  });
});
