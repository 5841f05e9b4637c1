// `cloud schedules` when EventBridge Scheduler throttles 30% of the calls and one schedule stays unreadable: every call retried on its own, everything that can be applied is, the rest named (exit 1).
import { afterEach, beforeEach, expect, it } from "vitest";
import { makeConfigDir, runCli } from "../helpers/cli.js";
import { fakeAwsEnv, startSchedulerApiServer, type SchedulerApiServer } from "../helpers/scheduler-api-server.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";
const GROUP = "chantal-throttled";
const TARGET = {
  Arn: "arn:aws:ecs:eu-west-1:123456789012:cluster/c",
  RoleArn: "arn:aws:iam::123456789012:role/r",
  EcsParameters: { TaskDefinitionArn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/t", LaunchType: "FARGATE", TaskCount: 1 },
  Input: "{}",
};
const REPOS = 40;
const CONFIG =
  'storage:\n  backend: s3\n  s3: { bucket: "${CHANTAL_POOL_BUCKET}" }\ncloud: { schedules_owner: runtime }\nrepositories:\n' +
  Array.from(
    { length: REPOS },
    (_, i) => `  - { id: r${i}, type: rpm, upstream_url: "https://m.example.com/${i}/", schedule: { cron: "${i} 4 * * *" } }\n`,
  ).join("");

let server: SchedulerApiServer;
const configDir = makeConfigDir({ "config.yaml": CONFIG });
const schedules = () => runCli(["--config-dir", configDir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url, "--json"], { env: fakeAwsEnv() });

beforeEach(async () => {
  server = await startSchedulerApiServer({ pageSize: 7 });
  server.addGroup(GROUP);
  server.seed({
    Name: "chantal-target-template",
    GroupName: GROUP,
    ScheduleExpression: "cron(0 0 1 1 ? 2099)",
    FlexibleTimeWindow: { Mode: "OFF" },
    State: "DISABLED",
    Target: TARGET,
  });
  // Ten exist already, with an outdated time: each is read (GetSchedule) and updated.
  for (let i = 0; i < 10; i++)
    server.seed({ Name: `chantal-sync-r${i}`, GroupName: GROUP, ScheduleExpression: "cron(0 1 * * ? *)", FlexibleTimeWindow: { Mode: "OFF" }, Target: TARGET });
});

afterEach(async () => {
  await server?.close();
});

it("converges although 30% of ListSchedules, GetSchedule, CreateSchedule and UpdateSchedule calls are throttled", async () => {
  for (const op of ["ListSchedules", "GetSchedule", "CreateSchedule", "UpdateSchedule"]) server.throttle(op, 0.3, op.length);
  const r = await schedules();
  expect(r.stderr).not.toMatch(/error/);
  expect(r.code).toBe(0);
  expect(server.throttled()).toBeGreaterThan(10);
  const out = JSON.parse(r.stdout) as { changes: { action: string; ok: boolean }[]; failed: number };
  expect(out.failed).toBe(0);
  expect(out.changes.filter((c) => c.action === "create")).toHaveLength(REPOS - 10);
  expect(out.changes.filter((c) => c.action === "update")).toHaveLength(10);
  for (let i = 0; i < REPOS; i++) expect(server.schedule(GROUP, `chantal-sync-r${i}`)?.ScheduleExpression).toBe(`cron(${i} 4 * * ? *)`);
  // Still throttled, nothing left to do.
  const again = await schedules();
  expect(again.code).toBe(0);
  expect((JSON.parse(again.stdout) as { changes: unknown[] }).changes).toEqual([]);
});

it("applies every other change when one schedule cannot be read, leaves that one alone and names it (exit 1)", async () => {
  server.fail("GetSchedule", "chantal-sync-r3", { status: 400, type: "ValidationException", message: "broken schedule" });
  const r = await schedules();
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^error: could not read schedule chantal-sync-r3 \(left as it is; run cloud schedules again\): .*broken schedule\n/m);
  const out = JSON.parse(r.stdout) as { changes: { name: string }[]; unreadable: { name: string }[] };
  expect(out.unreadable.map((u) => u.name)).toEqual(["chantal-sync-r3"]);
  // Not created again (it exists), not updated: untouched; every other repository is as planned.
  expect(out.changes.map((c) => c.name)).not.toContain("chantal-sync-r3");
  expect(server.schedule(GROUP, "chantal-sync-r3")?.ScheduleExpression).toBe("cron(0 1 * * ? *)");
  expect(server.schedule(GROUP, "chantal-sync-r4")?.ScheduleExpression).toBe("cron(4 4 * * ? *)");
  expect(server.schedule(GROUP, "chantal-sync-r39")?.ScheduleExpression).toBe("cron(39 4 * * ? *)");
});
