/// <reference path="./.sst/platform/config.d.ts" />
// The cloud app: from the same YAML as the local runner, one EventBridge Scheduler schedule per
// repository (and one for the backup) that runs the shared Fargate task with the same handlers.
//
//   CHANTAL_CONFIG_DIR=/etc/chantal npx sst deploy --stage production
//
// Why aws.scheduler.Schedule and not sst.aws.CronV2: CronV2 makes one IAM role per schedule (a fleet of
// 200 repositories would be 200 roles against a 1,000-role account quota, and 200 more resources per
// deploy); here one role, one dead-letter queue and one target serve every schedule.
export default $config({
  app(input) {
    return {
      name: "chantal",
      removal: input?.stage === "production" ? "retain" : "remove",
      protect: input?.stage === "production",
      home: "aws",
    };
  },
  async run() {
    const { resolveConfigDir } = await import("./core/config/load.js");
    const plan = await import("./core/cloud/plan.js");
    const cloud = await import("./core/cloud/cloud-config.js");

    const config = await cloud.loadCloudConfig(resolveConfigDir(undefined, process.env), process.env);
    // A pool on the task's ephemeral disk, backups outside S3, undeclared secrets, files not in the image: refused before anything changes.
    cloud.assertCloudSafe(config);
    const stage = $app.stage;

    // Network and data. No NAT gateway: tasks run in the public subnets with a public IP (SST's default).
    const vpc = new sst.aws.Vpc("Vpc");
    const database = new sst.aws.Postgres("Database", { vpc, database: "chantal" });
    const pool = new sst.aws.Bucket("Pool"); // content-addressed pool and published trees
    const backups = new sst.aws.Bucket("Backups");
    const configBucket = new sst.aws.Bucket("Config");

    // The configuration the task reads at start: the same files, uploaded on every deploy.
    for (const f of config.files) {
      new aws.s3.BucketObjectv2(`ConfigFile${f.file.replace(/[^A-Za-z0-9]/g, "")}`, {
        bucket: configBucket.name,
        key: cloud.configObjectKey(f.file),
        content: f.text,
        contentType: "application/yaml",
      });
    }

    // One task definition for every schedule; the schedule's input picks the handler and repository.
    const region = aws.getRegionOutput().name;
    const account = aws.getCallerIdentityOutput().accountId;
    const cluster = new sst.aws.Cluster("Cluster", { vpc });
    const taskSize = config.loaded.config.cloud?.task ?? plan.DEFAULT_TASK_SIZE;
    const task = new sst.aws.Task("Chantal", {
      cluster,
      // cloud.task (default 0.5 vCPU, 1 GB); a repository's own cloud.task is a RunTask override in its schedule's input.
      cpu: `${taskSize.cpu} vCPU` as "0.5 vCPU",
      memory: `${taskSize.memory_gb} GB`,
      storage: "30 GB", // temporary downloads before they go to S3
      link: [database, pool, backups, configBucket],
      containers: [
        {
          name: plan.CONTAINER_NAME,
          image: { context: ".", dockerfile: "Dockerfile" },
          command: ["node", "bin/chantal-run.js", "--help"],
          environment: {
            [cloud.APP_VARIABLES.configUri]: $interpolate`s3://${configBucket.name}/${cloud.CONFIG_PREFIX}`,
            [cloud.APP_VARIABLES.poolBucket]: pool.name,
            [cloud.APP_VARIABLES.backupTarget]: $interpolate`s3://${backups.name}/backups`,
          },
          ssm: Object.fromEntries(
            config.secretVariables.map((v) => [v, $interpolate`arn:aws:ssm:${region}:${account}:parameter${cloud.ssmParameterName(stage, v)}`]),
          ),
        },
      ],
      transform: {
        // JSON logs (no pseudo-terminal), and 120 s (Fargate's maximum) between SIGTERM and SIGKILL for a clean abort.
        taskDefinition: (args) => {
          args.containerDefinitions = $output(args.containerDefinitions).apply((json) =>
            JSON.stringify((JSON.parse(json) as Record<string, unknown>[]).map((c) => ({ ...c, pseudoTerminal: false, stopTimeout: 120 }))),
          );
        },
      },
    });

    // The schedules' shared target: run the latest revision of the task family (the family ARN, so
    // schedules that `chantal-run cloud schedules` created between deploys never point at an old revision).
    const taskFamilyArn = task.nodes.taskDefinition.arn.apply((arn) => arn.replace(/:\d+$/, ""));
    const deadLetters = new aws.sqs.Queue("ScheduleDeadLetters", { messageRetentionSeconds: 14 * 24 * 3600 });
    const schedulerRole = new aws.iam.Role("SchedulerRole", {
      assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "scheduler.amazonaws.com" }),
      inlinePolicies: [
        {
          name: "run-chantal-task",
          policy: aws.iam.getPolicyDocumentOutput({
            statements: [
              {
                actions: ["ecs:RunTask"],
                resources: [taskFamilyArn, $interpolate`${taskFamilyArn}:*`],
                conditions: [{ test: "ArnEquals", variable: "ecs:cluster", values: [cluster.nodes.cluster.arn] }],
              },
              { actions: ["iam:PassRole"], resources: [task.nodes.executionRole.arn, task.nodes.taskRole.arn] },
              { actions: ["sqs:SendMessage"], resources: [deadLetters.arn] },
            ],
          }).json,
        },
      ],
    });
    const group = new aws.scheduler.ScheduleGroup("ScheduleGroup", { name: plan.scheduleGroupName(stage) });
    const target = (input: string) => ({
      arn: cluster.nodes.cluster.arn,
      roleArn: schedulerRole.arn,
      input,
      ecsParameters: {
        taskDefinitionArn: taskFamilyArn,
        launchType: "FARGATE",
        taskCount: 1,
        networkConfiguration: { subnets: vpc.publicSubnets, securityGroups: vpc.securityGroups, assignPublicIp: true },
      },
      // A run that could not start (ECS capacity, throttling) is retried for up to an hour, then parked in the queue.
      retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
      deadLetterConfig: { arn: deadLetters.arn },
    });

    // Never fires (disabled, and 2099): `cloud schedules` copies its target when it creates a schedule.
    new aws.scheduler.Schedule("TargetTemplate", {
      name: plan.TARGET_TEMPLATE_SCHEDULE_NAME,
      groupName: group.name,
      state: "DISABLED",
      description: "chantal: target template for chantal-run cloud schedules (never fires)",
      scheduleExpression: "cron(0 0 1 1 ? 2099)",
      flexibleTimeWindow: { mode: "OFF" },
      target: target(JSON.stringify({ containerOverrides: [{ name: plan.CONTAINER_NAME, command: ["node", "bin/chantal-run.js", "--help"] }] })),
    });

    for (const s of config.plan.schedules) {
      new aws.scheduler.Schedule(`Schedule-${s.name}`, {
        name: s.name,
        groupName: group.name,
        description: s.description,
        scheduleExpression: s.expression,
        scheduleExpressionTimezone: s.timezone,
        flexibleTimeWindow:
          s.flexibleTimeWindow.Mode === "FLEXIBLE"
            ? { mode: "FLEXIBLE", maximumWindowInMinutes: s.flexibleTimeWindow.MaximumWindowInMinutes }
            : { mode: "OFF" },
        state: "ENABLED",
        target: target(plan.containerOverrides(s)),
      });
    }

    return {
      scheduleGroup: group.name,
      schedules: config.plan.schedules.length,
      configBucket: configBucket.name,
      poolBucket: pool.name,
      backupsBucket: backups.name,
      deadLetterQueue: deadLetters.url,
      schedulerRole: schedulerRole.arn,
      ssmParameters: config.secretVariables.map((v) => cloud.ssmParameterName(stage, v)).join(" ") || "(none)",
    };
  },
});
