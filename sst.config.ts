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
    const stack = await import("./core/cloud/stack.js");

    const config = await cloud.loadCloudConfig(resolveConfigDir(undefined, process.env), process.env);
    // A pool on the task's ephemeral disk, backups outside S3, undeclared secrets, files not in the image: refused before anything changes.
    cloud.assertCloudSafe(config);
    const stage = $app.stage;
    const settings = config.loaded.config.cloud;
    const region = aws.getRegionOutput().name;
    const account = aws.getCallerIdentityOutput().accountId;

    // Network (cloud.network.subnets): public subnets with a public IP (default), private behind a NAT gateway, or private with VPC endpoints only.
    const network = stack.networkPlan(settings?.network?.subnets);
    const vpc = new sst.aws.Vpc("Vpc", network.nat ? { nat: network.nat } : {});
    for (const e of network.endpoints) {
      new aws.ec2.VpcEndpoint(`Endpoint${e.service.replace(/[^A-Za-z0-9]/g, "")}`, {
        vpcId: vpc.id,
        serviceName: $interpolate`com.amazonaws.${region}.${e.service}`,
        vpcEndpointType: e.type,
        ...(e.type === "Gateway"
          ? { routeTableIds: vpc.nodes.privateRouteTables.apply((tables) => tables.map((t) => t.id)) }
          : { subnetIds: vpc.privateSubnets, securityGroupIds: vpc.securityGroups, privateDnsEnabled: true }),
      });
    }

    // Data. cloud.database: an RDS Proxy for a large fleet; TLS enforced by the server when the task verifies or requires it.
    const databaseSettings = settings?.database ?? { proxy: false, tls: "verify-full" as const };
    const database = new sst.aws.Postgres("Database", {
      vpc,
      database: "chantal",
      ...(databaseSettings.proxy ? { proxy: true } : {}),
      transform: {
        parameterGroup: (args) => {
          args.parameters = $output(args.parameters ?? []).apply((ps) => ps.map((p) => (p.name === "rds.force_ssl" ? { ...p, value: "1" } : p)));
        },
      },
    });
    // The password reaches the task only as an ECS secret from this SecureString (aws/ssm key): no link, so no task definition holds it.
    const databasePassword = new aws.ssm.Parameter("DatabasePassword", {
      name: cloud.databasePasswordParameterName(stage),
      type: "SecureString",
      value: database.password,
      description: `chantal ${stage}: the database password; ECS injects it into the task as ${cloud.DATABASE_VARIABLES.password}`,
    });
    const databaseVariables = stack.taskDatabaseVariables<$util.Input<string>>({
      host: database.host,
      port: database.port.apply(String),
      username: database.username,
      database: database.database,
      passwordParameterArn: databasePassword.arn,
    });
    const mirror = settings?.mirror;
    const published = stack.publishedPrefix(config.loaded.config);
    const pool = new sst.aws.Bucket("Pool", {
      // content-addressed pool and published trees; cloud.mirror: who may read the published prefix (never the pool itself)
      policy:
        mirror?.serve === "bucket"
          ? stack.bucketReadStatements(mirror, published)
          : mirror?.serve === "cloudfront"
            ? account.apply((a) => [stack.cloudFrontReadStatement(published, a)])
            : [],
      ...(mirror?.serve === "bucket" && mirror.public
        ? {
            transform: {
              publicAccessBlock: (a: aws.s3.BucketPublicAccessBlockArgs) => {
                a.blockPublicPolicy = false;
                a.restrictPublicBuckets = false;
              },
            },
          }
        : {}),
    });
    const backups = new sst.aws.Bucket("Backups");
    const configBucket = new sst.aws.Bucket("Config");
    // A task killed mid-upload leaves a multipart upload that S3 bills until it is aborted.
    for (const [name, bucket] of [
      ["Pool", pool],
      ["Backups", backups],
    ] as const)
      new aws.s3.BucketLifecycleConfigurationV2(`${name}Lifecycle`, { bucket: bucket.name, rules: stack.lifecycleRules() });

    // The configuration the task reads at start: the same files, uploaded on every deploy.
    for (const f of config.files) {
      new aws.s3.BucketObjectv2(`ConfigFile${f.file.replace(/[^A-Za-z0-9]/g, "")}`, {
        bucket: configBucket.name,
        key: cloud.configObjectKey(f.file),
        content: f.text,
        contentType: "application/yaml",
      });
    }

    // cloud.mirror: serve: cloudfront puts a distribution in front of the published prefix, index files not cached, packages cached long.
    let mirrorUrl: $util.Output<string> | undefined;
    if (mirror?.serve === "cloudfront") {
      const access = new aws.cloudfront.OriginAccessControl("MirrorAccess", {
        originAccessControlOriginType: "s3",
        signingBehavior: "always",
        signingProtocol: "sigv4",
      });
      const policyFor = new Map<number, aws.cloudfront.CachePolicy>();
      const cachePolicy = (ttl: number) => {
        let p = policyFor.get(ttl);
        if (!p) {
          p = new aws.cloudfront.CachePolicy(`MirrorCache${ttl}`, {
            minTtl: ttl,
            defaultTtl: ttl,
            maxTtl: ttl,
            parametersInCacheKeyAndForwardedToOrigin: {
              cookiesConfig: { cookieBehavior: "none" },
              headersConfig: { headerBehavior: "none" },
              queryStringsConfig: { queryStringBehavior: "none" },
            },
          });
          policyFor.set(ttl, p);
        }
        return p.id;
      };
      const allowList =
        mirror.allowed_cidrs.length > 0
          ? new aws.cloudfront.Function("MirrorAllowList", {
              runtime: "cloudfront-js-2.0",
              publish: true,
              code: stack.viewerAllowListFunction(mirror.allowed_cidrs),
            })
          : undefined;
      const behavior = (ttl: number) => ({
        targetOriginId: "pool",
        viewerProtocolPolicy: "redirect-to-https",
        allowedMethods: ["GET", "HEAD"],
        cachedMethods: ["GET", "HEAD"],
        compress: false, // packages are compressed already; a Range request must see the stored bytes
        cachePolicyId: cachePolicy(ttl),
        ...(allowList ? { functionAssociations: [{ eventType: "viewer-request", functionArn: allowList.arn }] } : {}),
      });
      const distribution = new aws.cloudfront.Distribution("Mirror", {
        enabled: true,
        comment: `chantal ${stage}: the published trees`,
        origins: [{ originId: "pool", domainName: pool.nodes.bucket.bucketRegionalDomainName, originPath: `/${published}`, originAccessControlId: access.id }],
        defaultCacheBehavior: behavior(mirror.package_max_age_seconds),
        orderedCacheBehaviors: stack.mirrorCacheBehaviors(mirror).map((b) => ({ pathPattern: b.pathPattern, ...behavior(b.ttl) })),
        restrictions: { geoRestriction: { restrictionType: "none" } },
        viewerCertificate: { cloudfrontDefaultCertificate: true },
        priceClass: "PriceClass_100",
      });
      mirrorUrl = $interpolate`https://${distribution.domainName}/`;
    } else if (mirror?.serve === "bucket") mirrorUrl = $interpolate`https://${pool.nodes.bucket.bucketRegionalDomainName}/${published}/`;

    // One task definition for every schedule; the schedule's input picks the handler and repository.
    const cluster = new sst.aws.Cluster("Cluster", { vpc });
    const taskSize = config.loaded.config.cloud?.task ?? plan.DEFAULT_TASK_SIZE;
    const task = new sst.aws.Task("Chantal", {
      cluster,
      // cloud.task (default 0.5 vCPU, 1 GB); a repository's own cloud.task is a RunTask override in its schedule's input.
      cpu: `${taskSize.cpu} vCPU` as "0.5 vCPU",
      memory: `${taskSize.memory_gb} GB`,
      storage: "30 GB", // temporary downloads before they go to S3
      // Nothing is linked: a link puts the database password in the task definition's environment, and grants s3:* on buckets.
      permissions: $resolve([pool.arn, backups.arn, configBucket.arn]).apply(([poolBucketArn, backupsBucketArn, configBucketArn]) =>
        stack
          .taskRoleStatements({ poolBucketArn, backupsBucketArn, configBucketArn, configPrefix: cloud.CONFIG_PREFIX })
          .map(({ actions, resources, conditions }) => ({ actions, resources, ...(conditions ? { conditions } : {}) })),
      ),
      containers: [
        {
          name: plan.CONTAINER_NAME,
          image: { context: ".", dockerfile: "Dockerfile" },
          command: ["node", "bin/chantal-run.js", "--help"],
          environment: {
            [cloud.APP_VARIABLES.configUri]: $interpolate`s3://${configBucket.name}/${cloud.CONFIG_PREFIX}`,
            [cloud.APP_VARIABLES.poolBucket]: pool.name,
            [cloud.APP_VARIABLES.backupTarget]: $interpolate`s3://${backups.name}/backups`,
            [cloud.DATABASE_TLS_VARIABLE]: databaseSettings.tls,
            ...databaseVariables.environment,
            ...(mirrorUrl ? { [cloud.APP_VARIABLES.mirrorUrl]: mirrorUrl } : {}),
          },
          ssm: {
            ...Object.fromEntries(
              config.secretVariables.map((v) => [v, $interpolate`arn:aws:ssm:${region}:${account}:parameter${cloud.ssmParameterName(stage, v)}`]),
            ),
            ...databaseVariables.secrets,
          },
        },
      ],
      transform: {
        // SST's execution role reads every SSM parameter and secret of the account: only the database password's and the declared ones here.
        executionRole: (args) => {
          const arns = config.secretVariables.map((v) => $interpolate`arn:aws:ssm:${region}:${account}:parameter${cloud.ssmParameterName(stage, v)}`);
          args.inlinePolicies = [
            {
              name: "inline",
              policy: $util
                .all([databasePassword.arn, $output(arns)])
                .apply(
                  ([databasePasswordArn, parameterArns]) =>
                    aws.iam.getPolicyDocumentOutput({ statements: stack.executionRoleStatements({ databasePasswordArn, parameterArns }) }).json,
                ),
            },
          ];
        },
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
        networkConfiguration: {
          subnets: network.subnets === "private" ? vpc.privateSubnets : vpc.publicSubnets,
          securityGroups: vpc.securityGroups,
          assignPublicIp: network.assignPublicIp,
        },
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

    // cloud.schedules_owner: runtime — `chantal-run cloud schedules` owns them; a deploy creating the same names would fail with ConflictException.
    for (const s of stack.deployedSchedules(config.plan.schedules, settings?.schedules_owner)) {
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

    // cloud.alarms: one topic for a message in the dead-letter queue and for a task that exits non-zero or cannot start.
    let alarmTopic: aws.sns.Topic | undefined;
    if (settings?.alarms) {
      const topic = new aws.sns.Topic("Alarms");
      alarmTopic = topic;
      for (const [i, email] of settings.alarms.email.entries())
        new aws.sns.TopicSubscription(`AlarmEmail${i}`, { topic: topic.arn, protocol: "email", endpoint: email });
      new aws.cloudwatch.MetricAlarm("DeadLetterAlarm", {
        ...stack.deadLetterAlarm(),
        dimensions: { QueueName: deadLetters.name },
        alarmDescription: "chantal: a scheduled run could not start within an hour (its event is in the dead-letter queue)",
        alarmActions: [topic.arn],
      });
      const failedTasks = new aws.cloudwatch.EventRule("FailedTasks", {
        description: "chantal: a task exited non-zero or could not start",
        eventPattern: cluster.nodes.cluster.arn.apply((arn) => JSON.stringify(stack.taskFailureEventPattern(arn))),
      });
      new aws.cloudwatch.EventTarget("FailedTasksToAlarms", { rule: failedTasks.name, arn: topic.arn });
      new aws.sns.TopicPolicy("AlarmsPolicy", {
        arn: topic.arn,
        policy: aws.iam.getPolicyDocumentOutput({
          statements: [
            { principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }], actions: ["sns:Publish"], resources: [topic.arn] },
            { principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }], actions: ["sns:Publish"], resources: [topic.arn] },
          ],
        }).json,
      });
    }

    return {
      scheduleGroup: group.name,
      mirrorUrl: mirrorUrl ?? "(none: cloud.mirror)",
      alarmTopic: alarmTopic?.arn ?? "(none: cloud.alarms)",
      schedules: config.plan.schedules.length,
      configBucket: configBucket.name,
      poolBucket: pool.name,
      backupsBucket: backups.name,
      deadLetterQueue: deadLetters.url,
      schedulerRole: schedulerRole.arn,
      ssmParameters: config.secretVariables.map((v) => cloud.ssmParameterName(stage, v)).join(" ") || "(none)",
      databasePasswordParameter: databasePassword.name,
    };
  },
});
