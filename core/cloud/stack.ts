// What the SST app builds besides the schedules, as plain arguments from the configuration: the mirror's CDN or bucket policy, lifecycle rules, the networking, the task's database variables, the roles' least-privilege statements and the alarms. Pure, unit-tested; sst.config.ts passes them on.
import { isIP } from "node:net";
import type { Config } from "../config/schema.js";
import { DATABASE_VARIABLES } from "./cloud-config.js";

type CloudSettings = NonNullable<Config["cloud"]>;
export type MirrorSettings = NonNullable<CloudSettings["mirror"]>;
export type SubnetMode = NonNullable<CloudSettings["network"]>["subnets"];

/** An IAM policy statement as aws.iam.getPolicyDocument takes it. */
export interface PolicyStatement {
  sid?: string;
  actions: string[];
  resources: string[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

/** The published trees' key prefix in the pool bucket, as a CloudFront origin path and an object ARN pattern. */
export function publishedPrefix(config: Pick<Config, "storage">): string {
  const prefix = (config.storage.s3?.prefix ?? "").replace(/^\/+|\/+$/g, "");
  return prefix ? `${prefix}/published` : "published";
}

export interface CacheBehavior {
  pathPattern: string;
  /** Seconds CloudFront keeps the object (min = default = max: the origin sends no Cache-Control). */
  ttl: number;
  kind: "index" | "metadata" | "immutable";
}

// Files that name every other file of a tree: a stale copy would hide a promotion, so not kept (index_max_age_seconds, 0 by default).
const INDEX_PATTERNS = ["*/repomd.xml", "*/repomd.xml.asc", "*/repomd.xml.key", "*/InRelease", "*/Release", "*/Release.gpg"];
// Addressed by their content: cached as long as packages, before the metadata patterns could catch them.
const IMMUTABLE_PATTERNS = ["*/by-hash/*"];
// Index files at fixed paths, not RPM's Packages/ directory (APT without by-hash, RPM repodata that upstream names without its checksum).
const METADATA_PATTERNS = ["*/repodata/*", "*/binary-*/Packages*", "*/source/Sources*", "*/i18n/Translation-*", "*/Contents-*"];

/** CloudFront's ordered cache behaviors (first match wins); everything else (packages) takes the default, package_max_age_seconds. */
export function mirrorCacheBehaviors(
  m: Pick<MirrorSettings, "index_max_age_seconds" | "metadata_max_age_seconds" | "package_max_age_seconds">,
): CacheBehavior[] {
  return [
    ...INDEX_PATTERNS.map((pathPattern) => ({ pathPattern, ttl: m.index_max_age_seconds, kind: "index" as const })),
    ...IMMUTABLE_PATTERNS.map((pathPattern) => ({ pathPattern, ttl: m.package_max_age_seconds, kind: "immutable" as const })),
    ...METADATA_PATTERNS.map((pathPattern) => ({ pathPattern, ttl: m.metadata_max_age_seconds, kind: "metadata" as const })),
  ];
}

/** An address or CIDR as its leading bits ("0101…", at most 32 or 128 characters) and its family. */
export function cidrBits(text: string): { family: 4 | 6; bits: string } {
  const [address = "", prefixText] = text.split("/");
  const family = isIP(address);
  if (family !== 4 && family !== 6) throw new Error(`not an IP address: ${text}`);
  const all = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  const prefix = prefixText === undefined ? all.length : Number(prefixText);
  return { family, bits: all.slice(0, prefix) };
}

function ipv4Bits(address: string): string {
  return address
    .split(".")
    .map((o) => Number(o).toString(2).padStart(8, "0"))
    .join("");
}

function ipv6Bits(address: string): string {
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two groups first.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  let text = address;
  if (v4?.[1]) {
    const b = ipv4Bits(v4[1]);
    text = `${address.slice(0, -v4[1].length)}${Number.parseInt(b.slice(0, 16), 2).toString(16)}:${Number.parseInt(b.slice(16), 2).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups
    .map((g) =>
      Number.parseInt(g || "0", 16)
        .toString(2)
        .padStart(16, "0"),
    )
    .join("");
}

/**
 * The CloudFront Function (cloudfront-js-2.0, viewer request) that answers 403 to a viewer outside the allowed
 * networks. The ranges are precomputed bit strings; the function converts the viewer's address the same way.
 */
export function viewerAllowListFunction(cidrs: readonly string[]): string {
  const ranges = cidrs.map(cidrBits);
  return [
    "// chantal: only these client networks may read the mirror (cloud.mirror.allowed_cidrs)",
    `var RANGES = ${JSON.stringify(ranges)};`,
    "function pad(s, n) { while (s.length < n) s = '0' + s; return s; }",
    "function v4(a) { return a.split('.').map(function (o) { return pad(parseInt(o, 10).toString(2), 8); }).join(''); }",
    "function v6(a) {",
    "  var m = /(\\d+\\.\\d+\\.\\d+\\.\\d+)$/.exec(a);",
    "  if (m) { var b = v4(m[1]); a = a.slice(0, a.length - m[1].length) + parseInt(b.slice(0, 16), 2).toString(16) + ':' + parseInt(b.slice(16), 2).toString(16); }",
    "  var parts = a.split('::'), h = parts[0] ? parts[0].split(':') : [], t = parts.length > 1 && parts[1] ? parts[1].split(':') : [];",
    "  var g = h; if (parts.length > 1) { g = h.slice(); for (var i = 0; i < 8 - h.length - t.length; i++) g.push('0'); g = g.concat(t); }",
    "  return g.map(function (x) { return pad(parseInt(x || '0', 16).toString(2), 16); }).join('');",
    "}",
    "function handler(event) {",
    "  var ip = event.viewer.ip, family = ip.indexOf(':') >= 0 ? 6 : 4, bits = family === 4 ? v4(ip) : v6(ip);",
    "  for (var i = 0; i < RANGES.length; i++) if (RANGES[i].family === family && bits.indexOf(RANGES[i].bits) === 0) return event.request;",
    "  return { statusCode: 403, statusDescription: 'Forbidden', headers: { 'content-type': { value: 'text/plain' } }, body: 'not an allowed network (cloud.mirror.allowed_cidrs)\\n' };",
    "}",
  ].join("\n");
}

/** A statement of the pool bucket's policy, as sst.aws.Bucket's `policy` takes it (keys relative to the bucket). */
export interface BucketPolicyEntry {
  actions: string[];
  paths: string[];
  principals: "*" | { type: "service"; identifiers: string[] }[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

/** serve: bucket — who may GetObject the published trees (never the pool, manifests or anything else in the bucket). */
export function bucketReadStatements(m: Pick<MirrorSettings, "allowed_cidrs" | "vpc_endpoints" | "public">, published: string): BucketPolicyEntry[] {
  const read = { actions: ["s3:GetObject"], paths: [`${published}/*`], principals: "*" as const };
  if (m.public) return [read];
  const out: BucketPolicyEntry[] = [];
  if (m.allowed_cidrs.length > 0) out.push({ ...read, conditions: [{ test: "IpAddress", variable: "aws:SourceIp", values: [...m.allowed_cidrs] }] });
  if (m.vpc_endpoints.length > 0) out.push({ ...read, conditions: [{ test: "StringEquals", variable: "aws:SourceVpce", values: [...m.vpc_endpoints] }] });
  return out;
}

/**
 * serve: cloudfront — CloudFront distributions of this account (through their origin access control) read the
 * published trees. By account, not by distribution ARN: the bucket's policy is made before the distribution exists.
 */
export function cloudFrontReadStatement(published: string, accountId: string): BucketPolicyEntry {
  return {
    actions: ["s3:GetObject"],
    paths: [`${published}/*`],
    principals: [{ type: "service", identifiers: ["cloudfront.amazonaws.com"] }],
    conditions: [{ test: "StringEquals", variable: "AWS:SourceAccount", values: [accountId] }],
  };
}

/** Every bucket: an interrupted multipart upload (a task killed mid-blob) is removed after a day instead of billed forever. */
export const ABORT_INCOMPLETE_UPLOADS_DAYS = 1;
export function lifecycleRules(): {
  id: string;
  status: "Enabled";
  filter: Record<string, never>;
  abortIncompleteMultipartUpload: { daysAfterInitiation: number };
}[] {
  return [
    {
      id: "abort-incomplete-multipart-uploads",
      status: "Enabled",
      filter: {},
      abortIncompleteMultipartUpload: { daysAfterInitiation: ABORT_INCOMPLETE_UPLOADS_DAYS },
    },
  ];
}

export interface NetworkPlan {
  /** sst.aws.Vpc's nat argument. */
  nat?: "managed";
  /** Which of the VPC's subnets the tasks run in. */
  subnets: "public" | "private";
  assignPublicIp: boolean;
  /** VPC endpoints to create (service name suffix after com.amazonaws.<region>.). */
  endpoints: { service: string; type: "Gateway" | "Interface" }[];
}

// What a task calls without the internet: the pool and config buckets, the image, its logs, its SSM parameters.
const TASK_ENDPOINTS: NetworkPlan["endpoints"] = [
  { service: "s3", type: "Gateway" },
  { service: "ecr.api", type: "Interface" },
  { service: "ecr.dkr", type: "Interface" },
  { service: "logs", type: "Interface" },
  { service: "ssm", type: "Interface" },
];

export function networkPlan(mode: SubnetMode = "public"): NetworkPlan {
  if (mode === "private-nat") return { nat: "managed", subnets: "private", assignPublicIp: false, endpoints: [{ service: "s3", type: "Gateway" }] };
  if (mode === "private-endpoints") return { subnets: "private", assignPublicIp: false, endpoints: TASK_ENDPOINTS };
  return { subnets: "public", assignPublicIp: true, endpoints: [] };
}

/** The task role: read and write the pool and the backups, only read the configuration prefix. */
export function taskRoleStatements(a: { poolBucketArn: string; backupsBucketArn: string; configBucketArn: string; configPrefix: string }): PolicyStatement[] {
  const readWrite = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"];
  return [
    { sid: "PoolReadWrite", actions: readWrite, resources: [`${a.poolBucketArn}/*`] },
    { sid: "PoolList", actions: ["s3:ListBucket", "s3:ListBucketMultipartUploads"], resources: [a.poolBucketArn] },
    { sid: "BackupsReadWrite", actions: readWrite, resources: [`${a.backupsBucketArn}/*`] },
    { sid: "BackupsList", actions: ["s3:ListBucket"], resources: [a.backupsBucketArn] },
    { sid: "ConfigRead", actions: ["s3:GetObject"], resources: [`${a.configBucketArn}/${a.configPrefix}*`] },
    {
      sid: "ConfigList",
      actions: ["s3:ListBucket"],
      resources: [a.configBucketArn],
      conditions: [{ test: "StringLike", variable: "s3:prefix", values: [`${a.configPrefix}*`] }],
    },
  ];
}

/**
 * The execution role (the ECS agent, at task start) reads the database password's parameter and the declared
 * ones, nothing else (SST's default is every parameter and secret). SecureStrings under the default aws/ssm key
 * need no kms:Decrypt.
 */
export function executionRoleStatements(a: { databasePasswordArn: string; parameterArns: readonly string[] }): PolicyStatement[] {
  return [
    { sid: "ReadDatabasePassword", actions: ["ssm:GetParameters"], resources: [a.databasePasswordArn] },
    ...(a.parameterArns.length === 0 ? [] : [{ sid: "ReadDeclaredParameters", actions: ["ssm:GetParameters"], resources: [...a.parameterArns] }]),
  ];
}

/**
 * The task's database settings: host, port, user and name as plain environment, the password only as an ECS
 * secret (valueFrom the parameter's ARN, fetched by the agent at start), so describing the task definition shows
 * no password. Generic over the value type: sst.config.ts passes Pulumi outputs, the tests strings.
 */
export function taskDatabaseVariables<T>(db: { host: T; port: T; username: T; database: T; passwordParameterArn: T }): {
  environment: Record<string, T>;
  secrets: Record<string, T>;
} {
  return {
    environment: {
      [DATABASE_VARIABLES.host]: db.host,
      [DATABASE_VARIABLES.port]: db.port,
      [DATABASE_VARIABLES.user]: db.username,
      [DATABASE_VARIABLES.name]: db.database,
    },
    secrets: { [DATABASE_VARIABLES.password]: db.passwordParameterArn },
  };
}

/** EventBridge: a task of this cluster stopped with a non-zero exit code, or could not start. */
export function taskFailureEventPattern(clusterArn: string): Record<string, unknown> {
  return {
    source: ["aws.ecs"],
    "detail-type": ["ECS Task State Change"],
    detail: {
      clusterArn: [clusterArn],
      lastStatus: ["STOPPED"],
      $or: [{ containers: { exitCode: [{ "anything-but": 0 }] } }, { stopCode: ["TaskFailedToStart"] }],
    },
  };
}

/** CloudWatch: any message in the dead-letter queue (a run the Scheduler could not start within an hour); the app adds the queue's dimension. */
export function deadLetterAlarm(): {
  namespace: string;
  metricName: string;
  statistic: string;
  period: number;
  evaluationPeriods: number;
  threshold: number;
  comparisonOperator: string;
  treatMissingData: string;
} {
  return {
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    statistic: "Maximum",
    period: 300,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
  };
}

/** The schedules `sst deploy` owns: all of them by default, none when `cloud schedules` owns them (cloud.schedules_owner: runtime). */
export function deployedSchedules<T>(schedules: readonly T[], owner: "sst" | "runtime" = "sst"): readonly T[] {
  return owner === "runtime" ? [] : schedules;
}
