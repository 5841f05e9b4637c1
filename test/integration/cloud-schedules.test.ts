// `cloud schedules` and `config validate --target aws` through the real CLI, against an EventBridge
// Scheduler wire-format server on 127.0.0.1 (the real SDK signs, serializes and parses).
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { liveScheduleRows } from "../../core/cloud/schedules.js";
import { makeConfigDir, runCli } from "../helpers/cli.js";
import { fakeAwsEnv, startSchedulerApiServer, type SchedulerApiServer } from "../helpers/scheduler-api-server.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";
const GROUP = "chantal-test";
const TARGET = {
  Arn: "arn:aws:ecs:eu-west-1:123456789012:cluster/chantal-test-Cluster",
  RoleArn: "arn:aws:iam::123456789012:role/chantal-test-SchedulerRole",
  EcsParameters: {
    TaskDefinitionArn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/chantal-test-Cluster-Chantal",
    LaunchType: "FARGATE",
    TaskCount: 1,
    NetworkConfiguration: { awsvpcConfiguration: { Subnets: ["subnet-1", "subnet-2"], SecurityGroups: ["sg-1"], AssignPublicIp: "ENABLED" } },
  },
  RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
  DeadLetterConfig: { Arn: "arn:aws:sqs:eu-west-1:123456789012:chantal-test-dlq" },
  Input: "{}",
};

// Variables that only the Fargate task has (SSM, the app's bucket names) are unset where the CLI runs.
const CONFIG = `
storage:
  backend: s3
  s3: { bucket: "\${CHANTAL_POOL_BUCKET}" }
cloud:
  secrets: [CHANTAL_PROXY_PASSWORD]
  schedules_owner: runtime
scheduler:
  timezone: Europe/Berlin
proxy:
  https_proxy: http://proxy.example.com:8080
  username: chantal
  password: \${CHANTAL_PROXY_PASSWORD}
repositories:
  - id: rhel9-baseos
    type: rpm
    upstream_url: https://cdn.example.com/rhel9/baseos/
    schedule: { cron: "0 3 * * *", jitter_seconds: 120 }
  - id: epel
    type: rpm
    upstream_url: https://mirror.example.com/epel/9/
    schedule: { cron: "30 4 * * MON-FRI", timezone: America/New_York, create_snapshot: true, snapshot_name_template: "epel-{date}" }
  - id: manual
    type: rpm
    upstream_url: https://mirror.example.com/manual/
backup:
  target: \${CHANTAL_BACKUP_TARGET}
  schedule: { cron: "@daily" }
`;

let server: SchedulerApiServer;
const env = () => ({
  ...fakeAwsEnv(),
  CHANTAL_PROXY_PASSWORD: undefined,
  CHANTAL_BACKUP_TARGET: undefined,
});
const cli = (args: string[], extraEnv: Record<string, string | undefined> = {}) => runCli(args, { env: { ...env(), ...extraEnv } });
const configDir = makeConfigDir({ "config.yaml": CONFIG });

function seedLiveGroup(): void {
  server.addGroup(GROUP);
  server.addGroup("other-stage");
  server.seed({
    Name: "chantal-target-template",
    GroupName: GROUP,
    ScheduleExpression: "cron(0 0 1 1 ? 2099)",
    FlexibleTimeWindow: { Mode: "OFF" },
    State: "DISABLED",
    Description: "target template",
    Target: TARGET,
  });
  // Outdated: the YAML moved it from 02:00 UTC to 03:00 Berlin with jitter. Its start date and key must survive the update.
  server.seed({
    Name: "chantal-sync-rhel9-baseos",
    GroupName: GROUP,
    ScheduleExpression: "cron(0 2 * * ? *)",
    FlexibleTimeWindow: { Mode: "OFF" },
    StartDate: 1767225600,
    KmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/abc",
    Description: 'chantal: sync rhel9-baseos at "0 2 * * *"',
    Target: {
      ...TARGET,
      Input: JSON.stringify({ containerOverrides: [{ name: "chantal", command: ["node", "dist/functions/entry.js", "sync", "--repo-id", "rhel9-baseos"] }] }),
    },
  });
  // Gone from the YAML: deleted. Not chantal's: left alone. Another stage's group: untouched.
  server.seed({ Name: "chantal-sync-retired", GroupName: GROUP, ScheduleExpression: "cron(0 1 * * ? *)", FlexibleTimeWindow: { Mode: "OFF" }, Target: TARGET });
  server.seed({ Name: "nightly-report", GroupName: GROUP, ScheduleExpression: "rate(1 days)", FlexibleTimeWindow: { Mode: "OFF" }, Target: TARGET });
  server.seed({
    Name: "chantal-sync-retired",
    GroupName: "other-stage",
    ScheduleExpression: "cron(0 1 * * ? *)",
    FlexibleTimeWindow: { Mode: "OFF" },
    Target: TARGET,
  });
}

beforeEach(async () => {
  await server?.close();
  server = await startSchedulerApiServer({ pageSize: 2 });
  seedLiveGroup();
});

afterAll(async () => {
  await server?.close();
});

describe("cloud schedules", () => {
  it("--dry-run prints the difference and changes nothing", async () => {
    const r = await cli(["--config-dir", configDir, "cloud", "schedules", "--dry-run", "--group", GROUP, "--endpoint", server.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      `schedule group ${GROUP} (eu-west-1): 2 to create, 1 to update, 1 to delete, 0 unchanged (dry run: nothing changed)`,
      "+ chantal-sync-epel  cron(30 4 ? * MON-FRI *) America/New_York",
      "+ chantal-backup  cron(0 0 * * ? *) Europe/Berlin",
      "~ chantal-sync-rhel9-baseos",
      "    expression: cron(0 2 * * ? *) -> cron(0 3 * * ? *)",
      "    timezone: UTC -> Europe/Berlin",
      "    flexibleTimeWindow: OFF -> FLEXIBLE 2 min",
      '    description: chantal: sync rhel9-baseos at "0 2 * * *" -> chantal: sync rhel9-baseos at "0 3 * * *"',
      `    input: {"containerOverrides":[{"command":["node","dist/functions/entry.js","sync","--repo-id","rhel9-baseos"],"name":"chantal"}]} -> {"containerOverrides":[{"command":["node","--max-old-space-size=716","dist/functions/entry.js","sync","--repo-id","rhel9-baseos"],"environment":[{"name":"SST_EVENT","value":"{\\"handler\\":\\"sync\\",\\"repoId\\":\\"rhel9-baseos\\",\\"trigger\\":\\"cloud\\"}"}],"name":"chantal"}]}`,
      "- chantal-sync-retired",
      "left alone (not chantal's): nightly-report",
      "",
    ]);
    expect(server.writes()).toEqual([]);
    // The SDK really signed with the dummy credentials, and paginated ListSchedules (page size 2, 4 schedules).
    expect(new Set(server.requests.map((q) => q.accessKeyId))).toEqual(new Set(["AKIDCHANTALTEST"]));
    expect(server.requests.filter((q) => q.operation === "ListSchedules")).toHaveLength(2);
  });

  it("creates, updates (get, merge, put) and deletes, then finds nothing to change", async () => {
    const r = await cli(["--config-dir", configDir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url]);
    // schedules_owner: runtime — the deploy makes none of them, so nothing needs deleting before it.
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^schedule group chantal-test \(eu-west-1\): 2 to create, 1 to update, 1 to delete, 0 unchanged\n/);
    expect(server.writes().map((w) => w.operation)).toEqual(["CreateSchedule", "CreateSchedule", "UpdateSchedule", "DeleteSchedule"]);

    const epel = server.schedule(GROUP, "chantal-sync-epel")!;
    expect(epel).toMatchObject({
      ScheduleExpression: "cron(30 4 ? * MON-FRI *)",
      ScheduleExpressionTimezone: "America/New_York",
      FlexibleTimeWindow: { Mode: "OFF" },
      State: "ENABLED",
      Description: 'chantal: sync epel at "30 4 * * MON-FRI"',
    });
    // The ECS target, retries and dead-letter queue are the template's; only the input is the schedule's own.
    const { Input, ...targetWithoutInput } = epel.Target;
    expect(targetWithoutInput).toEqual((({ Input: _ignored, ...t }) => t)(TARGET));
    expect(JSON.parse(Input!)).toEqual({
      containerOverrides: [
        {
          name: "chantal",
          command: ["node", "--max-old-space-size=716", "dist/functions/entry.js", "sync", "--repo-id", "epel", "--snapshot", "epel-{date}"],
          environment: [{ name: "SST_EVENT", value: JSON.stringify({ handler: "sync", repoId: "epel", trigger: "cloud", snapshotTemplate: "epel-{date}" }) }],
        },
      ],
    });
    expect(server.schedule(GROUP, "chantal-backup")).toMatchObject({ ScheduleExpression: "cron(0 0 * * ? *)", ScheduleExpressionTimezone: "Europe/Berlin" });

    const rhel = server.schedule(GROUP, "chantal-sync-rhel9-baseos")!;
    expect(rhel).toMatchObject({
      ScheduleExpression: "cron(0 3 * * ? *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
      FlexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 2 },
      StartDate: 1767225600,
      KmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/abc",
    });
    expect(rhel.Target.EcsParameters).toEqual(TARGET.EcsParameters);
    expect(rhel.Target.DeadLetterConfig).toEqual(TARGET.DeadLetterConfig);

    expect(server.schedule(GROUP, "chantal-sync-retired")).toBeUndefined();
    expect(server.schedule(GROUP, "nightly-report")).toBeDefined();
    expect(server.schedule(GROUP, "chantal-target-template")?.State).toBe("DISABLED");
    expect(server.schedule("other-stage", "chantal-sync-retired")).toBeDefined();

    const before = server.writes().length;
    const again = await cli(["--config-dir", configDir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url, "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      group: GROUP,
      region: "eu-west-1",
      dry_run: false,
      changes: [],
      unchanged: ["chantal-sync-rhel9-baseos", "chantal-sync-epel", "chantal-backup"],
      unmanaged: ["nightly-report"],
      unreadable: [],
      failed: 0,
    });
    expect(server.writes()).toHaveLength(before);
  });

  it("applies every other change when one fails, names the failure and exits 1", async () => {
    server.fail("UpdateSchedule", "chantal-sync-rhel9-baseos", {
      status: 400,
      type: "ValidationException",
      message: "Invalid request provided: role cannot be assumed",
    });
    const r = await cli(["--config-dir", configDir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("~ chantal-sync-rhel9-baseos   FAILED: Invalid request provided: role cannot be assumed\n");
    expect(r.stderr).toMatch(/error: 1 of 4 change\(s\) failed\n$/);
    expect(server.schedule(GROUP, "chantal-sync-rhel9-baseos")?.ScheduleExpression).toBe("cron(0 2 * * ? *)");
    expect(server.schedule(GROUP, "chantal-sync-epel")).toBeDefined();
    expect(server.schedule(GROUP, "chantal-backup")).toBeDefined();
    expect(server.schedule(GROUP, "chantal-sync-retired")).toBeUndefined();
  });

  it("reads the endpoint from AWS_ENDPOINT_URL, the group from CHANTAL_SCHEDULE_GROUP and prints JSON", async () => {
    const r = await cli(["--config-dir", configDir, "cloud", "schedules", "--dry-run", "--json"], {
      AWS_ENDPOINT_URL: server.url,
      CHANTAL_SCHEDULE_GROUP: GROUP,
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { changes: { action: string; name: string; applied: boolean }[]; dry_run: boolean };
    expect(out.dry_run).toBe(true);
    expect(out.changes.map((c) => `${c.action} ${c.name} ${c.applied}`)).toEqual([
      "create chantal-sync-epel false",
      "create chantal-backup false",
      "update chantal-sync-rhel9-baseos false",
      "delete chantal-sync-retired false",
    ]);
  });

  it("refuses, before any AWS call, a configuration AWS cannot schedule (exit 78, repository, reason, fix)", async () => {
    const dir = makeConfigDir({
      "config.yaml": "repositories: []\n",
      "conf.d/10-repos.yaml": `repositories:\n  - id: first-monday\n    type: rpm\n    upstream_url: https://mirror.example.com/x/\n    schedule: { cron: "0 2 1-7 * MON" }\n`,
    });
    const r = await cli(["--config-dir", dir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url]);
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(
      'error: conf.d/10-repos.yaml:2: repository first-monday: schedule.cron: cannot run on AWS EventBridge Scheduler: day-of-month "1-7" and day-of-week "MON" are both restricted: unix cron runs on days matching either, and EventBridge Scheduler cannot express "either" (one of the two must be "?"); fix: restrict only one of them: "0 2 1-7 * *" (days of the month) or "0 2 * * MON" (days of the week)\n',
    );
    expect(server.requests).toEqual([]);
  });

  it("refuses to change schedules the deploy owns (cloud.schedules_owner: sst, the default), and shows the difference with --dry-run", async () => {
    const deployOwned = makeConfigDir({ "config.yaml": CONFIG.replace("  schedules_owner: runtime\n", "") });
    const r = await cli(["--config-dir", deployOwned, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/cloud\.schedules_owner is sst .*ConflictException.*schedules_owner: runtime/);
    expect(server.writes()).toEqual([]);
    const dry = await cli(["--config-dir", deployOwned, "cloud", "schedules", "--dry-run", "--group", GROUP, "--endpoint", server.url]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/to create/);
  });

  it("names a missing group and a missing target template", async () => {
    const missing = await cli(["--config-dir", configDir, "cloud", "schedules", "--group", "chantal-nope", "--endpoint", server.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/schedule group chantal-nope does not exist in region eu-west-1: deploy the SST app first/);

    server.groups.get(GROUP)!.delete("chantal-target-template");
    const noTemplate = await cli(["--config-dir", configDir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url]);
    expect(noTemplate.code).toBe(1);
    expect(noTemplate.stderr).toMatch(/schedule group chantal-test has no chantal-target-template schedule to copy the ECS target from/);
    expect(server.writes()).toEqual([]);
  });

  it("needs a region", async () => {
    const r = await cli(["--config-dir", configDir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url], {
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: no AWS region: pass --region or set AWS_REGION\n");
    const withFlag = await cli(
      ["--config-dir", configDir, "cloud", "schedules", "--dry-run", "--region", "eu-central-1", "--group", GROUP, "--endpoint", server.url],
      { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
    );
    expect(withFlag.code).toBe(0);
    expect(withFlag.stdout).toMatch(/^schedule group chantal-test \(eu-central-1\): /);
  });
});

describe("liveScheduleRows (for scheduler list --cloud)", () => {
  it("lists the group's schedules with the repository each one syncs, without the target template", async () => {
    expect((await cli(["--config-dir", configDir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url])).code).toBe(0);
    const creds = { AWS_ACCESS_KEY_ID: "AKIDLIST", AWS_SECRET_ACCESS_KEY: "x" };
    const saved = { ...process.env };
    Object.assign(process.env, creds);
    try {
      const out = await liveScheduleRows({ group: GROUP, region: "eu-west-1", endpoint: server.url, excludeNames: ["chantal-target-template"] });
      expect(out.region).toBe("eu-west-1");
      expect(out.rows.map((r) => [r.name, r.handler, r.repoId, r.expression, r.timezone, r.state, r.flexibleWindowMinutes])).toEqual([
        ["chantal-backup", "backup", null, "cron(0 0 * * ? *)", "Europe/Berlin", "ENABLED", null],
        ["chantal-sync-epel", "sync", "epel", "cron(30 4 ? * MON-FRI *)", "America/New_York", "ENABLED", null],
        ["chantal-sync-rhel9-baseos", "sync", "rhel9-baseos", "cron(0 3 * * ? *)", "Europe/Berlin", "ENABLED", 2],
        ["nightly-report", null, null, "rate(1 days)", "UTC", "ENABLED", null],
      ]);
    } finally {
      for (const k of Object.keys(creds))
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
    }
  });

  it("scheduler list --cloud prints them through the real CLI", async () => {
    expect((await cli(["--config-dir", configDir, "cloud", "schedules", "--group", GROUP, "--endpoint", server.url])).code).toBe(0);
    const r = await cli(["--config-dir", configDir, "scheduler", "list", "--cloud", "--group", GROUP, "--region", "eu-west-1", "--endpoint", server.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^schedule group chantal-test \(eu-west-1\)/);
    expect(r.stdout).toMatch(/^chantal-sync-rhel9-baseos +rhel9-baseos +cron\(0 3 \* \* \? \*\) +Europe\/Berlin +2 min +ENABLED/m);
    expect(r.stdout).not.toMatch(/chantal-target-template/);
    const json = JSON.parse(
      (await cli(["--config-dir", configDir, "scheduler", "list", "--cloud", "--json", "--group", GROUP, "--region", "eu-west-1", "--endpoint", server.url]))
        .stdout,
    );
    expect(json.schedules.map((s: { name: string }) => s.name)).toContain("chantal-backup");
  });
});

/** Storage and backups in S3: what every AWS configuration needs (core/cloud/safety.ts). */
const AWS_SAFE =
  'storage:\n  backend: s3\n  s3: { bucket: "${CHANTAL_POOL_BUCKET}" }\nbackup:\n  target: "${CHANTAL_BACKUP_TARGET}"\n  schedule: { cron: "0 5 * * *" }\n';

describe("config validate --target aws", () => {
  it("passes a configuration AWS can schedule", async () => {
    const r = await cli(["--config-dir", configDir, "config", "validate", "--target", "aws"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^configuration is valid/);
  });

  it("reports every schedule AWS cannot represent, with the repository, the reason and a fix (exit 78)", async () => {
    const dir = makeConfigDir({
      "config.yaml": `repositories:\n  - id: ok\n    type: rpm\n    upstream_url: https://m.example.com/ok/\n    schedule: { cron: "0 1 * * *" }\n  - id: both\n    type: rpm\n    upstream_url: https://m.example.com/both/\n    schedule: { cron: "0 2 1,15 * FRI" }\nbackup:\n  schedule: { cron: "0 3 1 * SUN" }\n`,
    });
    const r = await cli(["--config-dir", dir, "config", "validate", "--target", "aws"]);
    expect(r.code).toBe(78);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(
      'error: config.yaml:6: repository both: schedule.cron: cannot run on AWS EventBridge Scheduler: day-of-month "1,15" and day-of-week "FRI" are both restricted: unix cron runs on days matching either, and EventBridge Scheduler cannot express "either" (one of the two must be "?"); fix: restrict only one of them: "0 2 1,15 * *" (days of the month) or "0 2 * * FRI" (days of the week)',
    );
    expect(lines[1]).toMatch(
      /^error: config\.yaml: backup\.schedule\.cron: the backup schedule cannot run on AWS EventBridge Scheduler: day-of-month "1" and day-of-week "SUN"/,
    );
    // Without --target the same configuration is valid (the local scheduler ORs the two fields).
    expect((await cli(["--config-dir", dir, "config", "validate"])).code).toBe(0);
  });

  it("accepts L, nL, n#k, ? and 0,7, and warns (exit 0) about a time in the hour a daylight-saving change skips", async () => {
    const repo = (id: string, cron: string, tz = "UTC") =>
      `  - id: ${id}\n    type: rpm\n    upstream_url: https://m.example.com/${id}/\n    schedule: { cron: "${cron}", timezone: ${tz} }\n`;
    const dir = makeConfigDir({
      "config.yaml":
        AWS_SAFE +
        "repositories:\n" +
        repo("last", "0 4 L * *") +
        repo("lastfri", "0 4 * * 5L") +
        repo("third", "0 4 * * 5#3") +
        repo("any", "0 4 ? * MON") +
        repo("sundays", "0 4 * * 0,7") +
        repo("berlin", "30 2 * * *", "Europe/Berlin"),
    });
    const r = await cli(["--config-dir", dir, "config", "validate", "--target", "aws", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { valid: boolean; warnings: string[] };
    expect(out.valid).toBe(true);
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]).toMatch(
      /^repository berlin: "30 2 \* \* \*" in Europe\/Berlin falls in the hour clocks skip on \d{4}-03-\d\d \(02:00-02:59 does not exist\)/,
    );
    expect(r.stderr).toBe(`warning: ${out.warnings[0]}\n`);
    // The same expressions run locally (no warning: the local scheduler runs a skipped time at the end of the gap).
    const local = await cli(["--config-dir", dir, "config", "validate"], { CHANTAL_POOL_BUCKET: "pool", CHANTAL_BACKUP_TARGET: "s3://backups/b" });
    expect(local.code).toBe(0);
    expect(local.stderr).toBe("");
  });

  it("refuses what would lose data or fail at every start on AWS, each with the key and the fix (exit 78)", async () => {
    const dir = makeConfigDir({
      "config.yaml":
        'backup:\n  target: /var/backups/chantal\n  schedule: { cron: "0 5 * * *" }\n' +
        "proxy:\n  https_proxy: http://proxy.example.com:8080\n  password: ${PROXY_PASS}\n" +
        "cloud:\n  secrets: [PROXY_PASSWORD]\n  image_paths: [/etc/pki/ca]\n" +
        "repositories:\n  - id: rhel\n    type: rpm\n    upstream_url: https://cdn.example.com/rhel/\n" +
        "    auth: { type: client_cert, cert_dir: /etc/pki/entitlement, ca_file: /etc/pki/ca/redhat-uep.pem }\n",
    });
    const r = await cli(["--config-dir", dir, "config", "validate", "--target", "aws"], { PROXY_PASS: undefined });
    expect(r.code).toBe(78);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(
      /^error: config\.yaml: storage\.backend: on AWS: is the filesystem: a Fargate task's disk is deleted when the task stops.*fix: storage: \{ backend: s3/,
    );
    expect(lines[1]).toMatch(
      /^error: config\.yaml: backup\.target: on AWS: is "\/var\/backups\/chantal": on the task's ephemeral disk.*fix: backup: \{ target: \$\{CHANTAL_BACKUP_TARGET\} \}/,
    );
    expect(lines[2]).toMatch(
      /^error: config\.yaml: cloud\.secrets: on AWS: does not declare PROXY_PASS, which the configuration uses as \$\{PROXY_PASS\}.*\/chantal\/<stage>\/PROXY_PASS/,
    );
    // The client certificates are not in the image; the CA under a declared image path is.
    expect(lines[3]).toMatch(
      /^error: config\.yaml:\d+: repositories\[rhel\]\.auth\.cert_dir: on AWS: names \/etc\/pki\/entitlement, which the task will not have.*cloud\.image_paths/,
    );
    expect(lines).toHaveLength(4);
    // Valid for this host: the checks are AWS's.
    expect((await cli(["--config-dir", dir, "config", "validate"], { PROXY_PASS: "x" })).code).toBe(0);
  });

  it("warns when no backup is scheduled and when the SSM secrets are not declared", async () => {
    const dir = makeConfigDir({
      "config.yaml":
        'storage:\n  backend: s3\n  s3: { bucket: "${CHANTAL_POOL_BUCKET}" }\nproxy:\n  https_proxy: http://proxy.example.com:8080\n  password: ${PROXY_PASS}\n',
    });
    const r = await cli(["--config-dir", dir, "config", "validate", "--target", "aws", "--json"], { PROXY_PASS: undefined });
    expect(r.code).toBe(0);
    const { warnings } = JSON.parse(r.stdout) as { warnings: string[] };
    expect(warnings).toEqual([
      expect.stringMatching(/^config\.yaml: backup\.schedule: on AWS: is not set: no task backs up the database/),
      expect.stringMatching(/^config\.yaml: cloud\.secrets: on AWS: is not set: the task reads \/chantal\/<stage>\/PROXY_PASS from SSM/),
    ]);
  });

  it("warns when the fleet may run more tasks at once than cloud.max_concurrent_tasks, and not once it is spread", async () => {
    const repos = Array.from(
      { length: 30 },
      (_, i) => `  - { id: r${i}, type: rpm, upstream_url: "https://m.example.com/${i}/", schedule: { cron: "0 4 * * *" } }\n`,
    ).join("");
    const fleet = (cloud: string) => makeConfigDir({ "config.yaml": `${AWS_SAFE}cloud: ${cloud}\nrepositories:\n${repos}` });
    const crowded = await cli(["--config-dir", fleet("{ max_concurrent_tasks: 10 }"), "config", "validate", "--target", "aws"]);
    expect(crowded.code).toBe(0);
    expect(crowded.stderr).toMatch(
      /^warning: the schedules may run 30 tasks at once \(30 schedules around \S+T04:00Z, each ~10 min\), more than cloud\.max_concurrent_tasks 10: .*fix: cloud\.spread_minutes: 30 /,
    );
    const spread = await cli(["--config-dir", fleet("{ max_concurrent_tasks: 10, spread_minutes: 30 }"), "config", "validate", "--target", "aws"]);
    expect(spread.code).toBe(0);
    expect(spread.stderr).toBe("");
  });

  it("reports a missing configuration as the loader does (exit 78)", async () => {
    const r = await cli(["--config-dir", "/nonexistent/chantal", "config", "validate", "--target", "aws"]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/^error: \/nonexistent\/chantal\/config\.yaml: configuration file not found/);
  });

  it("rejects an unknown target", async () => {
    const r = await cli(["--config-dir", configDir, "config", "validate", "--target", "gcp"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: unknown --target "gcp" (known: aws)\n');
  });
});
