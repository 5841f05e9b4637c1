// The SST app's arguments from the configuration: cache behaviors, the allow-list function (run here on sample viewers), bucket policies, networking, roles and alarms.
import { describe, expect, it } from "vitest";
import {
  bucketReadStatements,
  cidrBits,
  cloudFrontReadStatement,
  deadLetterAlarm,
  deployedSchedules,
  executionRoleStatements,
  lifecycleRules,
  mirrorCacheBehaviors,
  networkPlan,
  publishedPrefix,
  taskFailureEventPattern,
  taskDatabaseVariables,
  taskRoleStatements,
  viewerAllowListFunction,
} from "../../../core/cloud/stack.js";
import { CloudMirrorSchema } from "../../../core/config/schema.js";
import { DATABASE_VARIABLES, databasePasswordParameterName, taskSecretVariables } from "../../../core/cloud/cloud-config.js";

/** CloudFront's path-pattern matching: * any characters, ? one. */
function matches(pattern: string, path: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(path);
}

describe("mirrorCacheBehaviors", () => {
  const behaviors = mirrorCacheBehaviors({ index_max_age_seconds: 0, metadata_max_age_seconds: 60, package_max_age_seconds: 604800 });
  const ttlOf = (path: string) => behaviors.find((b) => matches(b.pathPattern, path))?.ttl ?? 604800;
  it.each([
    ["rocky9/latest/repodata/repomd.xml", 0],
    ["rocky9/latest/repodata/repomd.xml.asc", 0],
    ["debian/latest/dists/bookworm/InRelease", 0],
    ["debian/latest/dists/bookworm/Release", 0],
    ["debian/latest/dists/bookworm/Release.gpg", 0],
    ["rocky9/latest/repodata/0123abcd-primary.xml.zst", 60],
    ["debian/latest/dists/bookworm/main/binary-amd64/Packages.xz", 60],
    ["debian/latest/dists/bookworm/main/i18n/Translation-en.bz2", 60],
    ["debian/latest/dists/bookworm/main/binary-amd64/by-hash/SHA256/ab12", 604800],
    ["rocky9/latest/Packages/b/bash-5.1-1.el9.x86_64.rpm", 604800],
    ["debian/latest/pool/main/b/bash/bash_5.2-1_amd64.deb", 604800],
  ])("%s is kept %i s", (path, ttl) => expect(ttlOf(path)).toBe(ttl));

  it("stays within CloudFront's 25 behaviors per distribution", () => expect(behaviors.length).toBeLessThanOrEqual(25));
});

describe("viewerAllowListFunction", () => {
  const run = (cidrs: string[], ip: string) => {
    // Our own generated code, evaluated as CloudFront would run it.
    const handler = new Function(`${viewerAllowListFunction(cidrs)}\nreturn handler;`)() as (e: unknown) => { statusCode?: number; uri?: string };
    return handler({ viewer: { ip }, request: { uri: "/x" } });
  };
  it.each([
    [["10.0.0.0/8"], "10.20.30.40", true],
    [["10.0.0.0/8"], "11.0.0.1", false],
    [["192.168.1.0/24", "203.0.113.7"], "203.0.113.7", true],
    [["192.168.1.0/24", "203.0.113.7"], "203.0.113.8", false],
    [["192.168.1.0/24"], "192.168.1.255", true],
    [["2001:db8::/32"], "2001:db8:1::5", true],
    [["2001:db8::/32"], "2001:db9::1", false],
    [["10.0.0.0/8"], "2001:db8::1", false],
    [["::ffff:10.0.0.0/104"], "::ffff:10.1.2.3", true],
    [["0.0.0.0/0"], "8.8.8.8", true],
  ])("%j lets %s through: %s", (cidrs, ip, allowed) => {
    const r = run(cidrs, ip);
    if (allowed) expect(r).toEqual({ uri: "/x" });
    else expect(r.statusCode).toBe(403);
  });

  it.each([
    ["10.0.0.0/8", { family: 4, bits: "00001010" }],
    ["::1", { family: 6, bits: `${"0".repeat(127)}1` }],
  ])("cidrBits(%s)", (cidr, bits) => expect(cidrBits(cidr)).toEqual(bits));
});

describe("cloud.mirror", () => {
  it.each([
    [{ serve: "cloudfront" }, "names nobody"],
    [{ serve: "cloudfront", public: true, allowed_cidrs: ["10.0.0.0/8"] }, "contradict"],
    [{ serve: "cloudfront", vpc_endpoints: ["vpce-0abc"] }, "only apply to serve: bucket"],
    [{ serve: "bucket", allowed_cidrs: ["10.0.0.0/33"] }, "CIDR range"],
    [{ serve: "bucket", allowed_cidrs: ["intranet"] }, "CIDR range"],
  ])("refuses %j", (m, message) => {
    const r = CloudMirrorSchema.safeParse(m);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain(message);
  });
  it("takes a restricted bucket", () => expect(CloudMirrorSchema.parse({ serve: "bucket", vpc_endpoints: ["vpce-0abc"] }).index_max_age_seconds).toBe(0));
});

describe("bucketReadStatements", () => {
  it("reads only the published prefix, by network or endpoint", () => {
    const s = bucketReadStatements(
      { allowed_cidrs: ["10.0.0.0/8"], vpc_endpoints: ["vpce-1"], public: false },
      publishedPrefix({ storage: { s3: { prefix: "/mirror/" } } } as never),
    );
    expect(s.map((x) => x.paths)).toEqual([["mirror/published/*"], ["mirror/published/*"]]);
    expect(s.map((x) => x.conditions?.[0]?.variable)).toEqual(["aws:SourceIp", "aws:SourceVpce"]);
    expect(s.every((x) => x.actions.join() === "s3:GetObject")).toBe(true);
  });
  it("CloudFront of this account only", () => {
    expect(cloudFrontReadStatement("published", "123456789012")).toMatchObject({
      paths: ["published/*"],
      principals: [{ type: "service", identifiers: ["cloudfront.amazonaws.com"] }],
      conditions: [{ variable: "AWS:SourceAccount", values: ["123456789012"] }],
    });
  });
  it("public: no condition", () =>
    expect(bucketReadStatements({ allowed_cidrs: [], vpc_endpoints: [], public: true }, "published")[0]?.conditions).toBeUndefined());
});

describe("networkPlan", () => {
  it.each([
    ["public", { subnets: "public", assignPublicIp: true, nat: undefined, endpoints: [] }],
    ["private-nat", { subnets: "private", assignPublicIp: false, nat: "managed", endpoints: ["s3"] }],
    ["private-endpoints", { subnets: "private", assignPublicIp: false, nat: undefined, endpoints: ["s3", "ecr.api", "ecr.dkr", "logs", "ssm"] }],
  ] as const)("%s", (mode, want) => {
    const p = networkPlan(mode);
    expect({ subnets: p.subnets, assignPublicIp: p.assignPublicIp, nat: p.nat, endpoints: p.endpoints.map((e) => e.service) }).toEqual(want);
  });
});

describe("roles", () => {
  const s = taskRoleStatements({ poolBucketArn: "arn:p", backupsBucketArn: "arn:b", configBucketArn: "arn:c", configPrefix: "config/" });
  it("the task only reads the configuration prefix", () => {
    const onConfig = s.filter((x) => x.resources.some((r) => r.startsWith("arn:c")));
    expect(onConfig.flatMap((x) => x.actions).sort()).toEqual(["s3:GetObject", "s3:ListBucket"]);
    expect(onConfig.flatMap((x) => x.resources)).toEqual(["arn:c/config/*", "arn:c"]);
  });
  it("writes the pool and the backups", () => {
    for (const b of ["arn:p/*", "arn:b/*"]) expect(s.find((x) => x.resources.includes(b))?.actions).toContain("s3:PutObject");
    expect(s.some((x) => x.actions.includes("s3:*") || x.resources.includes("*"))).toBe(false);
  });
  const passwordArn = "arn:aws:ssm:eu-west-1:1:parameter/chantal/prod/CHANTAL_DATABASE_PASSWORD";
  it("the execution role reads exactly the database password's parameter and the declared ones", () => {
    expect(executionRoleStatements({ databasePasswordArn: passwordArn, parameterArns: [] })).toEqual([
      { sid: "ReadDatabasePassword", actions: ["ssm:GetParameters"], resources: [passwordArn] },
    ]);
    expect(executionRoleStatements({ databasePasswordArn: passwordArn, parameterArns: ["arn:aws:ssm:eu-west-1:1:parameter/chantal/prod/X"] })).toEqual([
      { sid: "ReadDatabasePassword", actions: ["ssm:GetParameters"], resources: [passwordArn] },
      { sid: "ReadDeclaredParameters", actions: ["ssm:GetParameters"], resources: ["arn:aws:ssm:eu-west-1:1:parameter/chantal/prod/X"] },
    ]);
  });
  it("the password's parameter is per stage, beside the declared ones", () =>
    expect(databasePasswordParameterName("prod")).toBe("/chantal/prod/CHANTAL_DATABASE_PASSWORD"));
});

describe("taskDatabaseVariables", () => {
  const v = taskDatabaseVariables({
    host: "db.internal",
    port: "5432",
    username: "postgres",
    database: "chantal",
    passwordParameterArn: "arn:aws:ssm:eu-west-1:1:parameter/chantal/prod/CHANTAL_DATABASE_PASSWORD",
  });
  it("the password is a container secret (valueFrom the parameter's ARN), never an environment variable", () => {
    expect(v.secrets).toEqual({ CHANTAL_DATABASE_PASSWORD: "arn:aws:ssm:eu-west-1:1:parameter/chantal/prod/CHANTAL_DATABASE_PASSWORD" });
    expect(v.environment).toEqual({
      CHANTAL_DATABASE_HOST: "db.internal",
      CHANTAL_DATABASE_PORT: "5432",
      CHANTAL_DATABASE_USER: "postgres",
      CHANTAL_DATABASE_NAME: "chantal",
    });
    expect(Object.keys(v.environment)).not.toContain(DATABASE_VARIABLES.password);
    expect(Object.values(v.environment).some((x) => x.includes("PASSWORD"))).toBe(false);
  });
  it("sets every variable the entry reads, and no user parameter is asked for them", () => {
    expect(Object.keys({ ...v.environment, ...v.secrets }).sort()).toEqual(Object.values(DATABASE_VARIABLES).sort());
    expect(taskSecretVariables(["database:\n  url: postgres://${CHANTAL_DATABASE_USER}:${CHANTAL_DATABASE_PASSWORD}@${CHANTAL_DATABASE_HOST}/x\n"])).toEqual(
      [],
    );
  });
});

describe("alarms and lifecycle", () => {
  it("a failed task is a stopped task of the cluster with a non-zero exit or a failed start", () => {
    const p = taskFailureEventPattern("arn:cluster") as { detail: { clusterArn: string[]; lastStatus: string[]; $or: unknown[] } };
    expect(p.detail.clusterArn).toEqual(["arn:cluster"]);
    expect(p.detail.lastStatus).toEqual(["STOPPED"]);
    expect(p.detail.$or).toEqual([{ containers: { exitCode: [{ "anything-but": 0 }] } }, { stopCode: ["TaskFailedToStart"] }]);
  });
  it("alarms on the first dead letter", () => {
    expect(deadLetterAlarm()).toMatchObject({ metricName: "ApproximateNumberOfMessagesVisible", threshold: 0, comparisonOperator: "GreaterThanThreshold" });
  });
  it("the deploy owns the schedules unless cloud schedules does", () => {
    expect(deployedSchedules(["a", "b"])).toEqual(["a", "b"]);
    expect(deployedSchedules(["a", "b"], "runtime")).toEqual([]);
  });
  it("aborts incomplete multipart uploads after a day", () => expect(lifecycleRules()[0]?.abortIncompleteMultipartUpload.daysAfterInitiation).toBe(1));
});
