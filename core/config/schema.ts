// The configuration document: zod schemas are the single source for validation, defaults and `config schema`.
import { isIP } from "node:net";
import { z } from "zod";
import { didYouMean } from "../closest.js";
import { parseNoProxy } from "../http/no-proxy.js";
import { proxyUrlProblem } from "../http/proxy-url.js";
import { BUCKET_NAME } from "../s3/url.js";
import { cronProblem, timezoneProblem } from "../schedule/cron.js";
import { snapshotNameFromTemplate } from "../snapshots/name.js";

const httpUrl = z.string().refine((s) => /^https?:\/\/[^\s/]+/i.test(s) && URL.canParse(s), {
  message: "must be an http:// or https:// URL",
});

/** An upstream URL: http(s), and no user:password@ (it would be stored in the database and every backup; auth: is the place). */
const upstreamUrl = httpUrl.superRefine((s, ctx) => {
  const u = URL.canParse(s) ? new URL(s) : undefined;
  if (u && (u.username !== "" || u.password !== "")) {
    ctx.addIssue({
      code: "custom",
      message:
        "must not contain credentials (user:password@host): they would be stored in the database and every backup; give them as auth: { type: basic, username: ..., password: ... } instead",
    });
  }
});

const cron = z.string().superRefine((expr, ctx) => {
  const problem = cronProblem(expr);
  if (problem) ctx.addIssue({ code: "custom", message: `"${expr}" is not a valid cron expression (${problem})` });
});

const timezone = z.string().superRefine((tz, ctx) => {
  const problem = timezoneProblem(tz);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** How to reach S3, the same fields in storage.s3 and backup.s3 (core/s3/client.ts reads them as an S3Connection). */
export const S3ConnectionSchema = z.strictObject({
  region: z.string().min(1).optional().describe("default AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1"),
  endpoint: httpUrl.optional().describe("S3-compatible endpoint (MinIO, Ceph, s3rver); default AWS"),
  force_path_style: z.boolean().default(false).describe("bucket in the path, not the host name (most S3-compatible servers)"),
});

/** storage.s3: the connection, and the bucket and key prefix of the pool and the published trees. */
export const S3StorageSchema = z.strictObject({
  bucket: z
    .string()
    .regex(BUCKET_NAME, "must be an S3 bucket name: 3-63 lowercase letters, digits, '.' or '-'")
    .describe("bucket holding the pool and the published trees"),
  prefix: z
    .string()
    .default("")
    .transform((p) => p.replace(/^\/+|\/+$/g, ""))
    .refine((p) => p === "" || /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(p), "must be key segments of letters, digits, '.', '_' or '-' separated by '/'")
    .refine((p) => !p.split("/").some((s) => s === "." || s === ".."), "must not contain '.' or '..' segments")
    .describe("key prefix: <prefix>/pool/..., <prefix>/published/... (default: the bucket root)"),
  ...S3ConnectionSchema.shape,
});

export type S3StorageConfig = z.output<typeof S3StorageSchema>;

export const StorageSchema = z.strictObject({
  base_path: z
    .string()
    .min(1)
    .optional()
    .describe("Root of everything Chantal writes (default /var/lib/chantal); the embedded database lives in <base_path>/postgres"),
  pool_path: z.string().min(1).optional().describe("Content-addressed blob pool (default <base_path>/pool)"),
  published_path: z.string().min(1).optional().describe("Published trees (default <base_path>/published)"),
  temp_path: z
    .string()
    .min(1)
    .optional()
    .describe("Temporary downloads (default <pool_path>/.tmp, same filesystem as the pool; <base_path>/tmp with backend s3)"),
  free_space_reserve_mb: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("a sync fails before downloading when the pool's filesystem would keep less than this many MiB free (default 512)"),
  fsync: z
    .boolean()
    .optional()
    .describe(
      "flush each blob (the file, then its directory) before the database records it, and published trees before they go live (default true); false trades crash safety for speed",
    ),
  backend: z
    .enum(["filesystem", "s3"], { error: (iss) => `must be "filesystem" or "s3", not ${JSON.stringify(iss.input)}` })
    .optional()
    .describe("where the pool and the published trees live: filesystem (default) or s3"),
  s3: S3StorageSchema.optional().describe("the bucket for backend s3; credentials come from the AWS environment (AWS_ACCESS_KEY_ID, profiles, roles)"),
});

/**
 * Defaults apply to the merged document only: a default in a file's storage block would override what an
 * earlier file set (a conf.d file with storage.s3 would reset base_path and backend). Backend s3 needs its
 * bucket, checked here too, as storage.s3 may come from another file than storage.backend.
 */
const StorageWithBackendSchema = StorageSchema.superRefine((s, ctx) => {
  if (s.backend === "s3" && !s.s3)
    ctx.addIssue({
      code: "custom",
      path: ["s3", "bucket"],
      message: "storage.backend s3 needs storage.s3.bucket (and usually region, or endpoint for an S3-compatible server)",
    });
}).transform((s) => ({ ...s, base_path: s.base_path ?? "/var/lib/chantal" }));

export const DatabaseSchema = z.strictObject({
  url: z.string().min(1).optional().describe("postgres:// URL; unset means CHANTAL_DATABASE_URL, DATABASE_URL, else the embedded server"),
  max_connections: z
    .number()
    .int()
    .min(1)
    .max(100)
    .optional()
    .describe("pooled connections one process opens at most, besides its lock connection (default 10; an AWS task: 2)"),
  connect_retry_seconds: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .optional()
    .describe("how long a start waits, with backoff, while the server refuses new connections (too many connections, starting up; default 120)"),
});

/** http://, https://, socks5:// or socks5h:// (core/http/proxy-url.ts says why another is refused). */
const proxyUrl = z.string().superRefine((s, ctx) => {
  const problem = proxyUrlProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const ProxyBlockSchema = z.strictObject({
  enabled: z.boolean().default(true).describe("false means a direct connection"),
  http_proxy: proxyUrl.optional().describe("http://, https://, socks5:// or socks5h:// (the proxy resolves names) host:port"),
  https_proxy: proxyUrl.optional().describe("likewise, for https:// upstreams (TLS to the upstream goes through the tunnel)"),
  no_proxy: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .superRefine((v, ctx) => {
      const bad = parseNoProxy(v).invalid;
      if (bad.length > 0) ctx.addIssue({ code: "custom", message: `not a host, domain, IP address or CIDR range: ${bad.join(", ")}` });
    })
    .describe("comma- or space-separated: *, example.com / .example.com (and subdomains), hosts, IPs, CIDRs, each with an optional :port"),
  username: z.string().optional(),
  password: z.string().optional(),
  verify_ssl: z.boolean().default(true),
  ca_bundle: z.string().optional().describe("PEM file trusted for the proxy and for upstreams reached through it"),
  auth: z
    .enum(["basic", "negotiate"])
    .optional()
    .describe("basic (username/password, the default); negotiate (Kerberos) is refused: no npm binding installs without a download step of its own"),
  pac_url: httpUrl.optional().describe("a PAC file fetched once per run (ETag cached under <base_path>/cache/pac): FindProxyForURL picks the proxy per origin"),
  pac_file: z.string().min(1).optional().describe("a PAC file on disk (relative to the config directory), instead of pac_url"),
});

/** A PAC file decides the proxy: one PAC, and no static proxy beside it in the block. */
function checkPacBlock(p: z.output<typeof ProxyBlockSchema>, ctx: z.RefinementCtx): void {
  const pac = p.pac_url !== undefined ? "pac_url" : p.pac_file !== undefined ? "pac_file" : undefined;
  if (p.pac_url !== undefined && p.pac_file !== undefined)
    ctx.addIssue({ code: "custom", path: ["pac_file"], message: "pac_url and pac_file are both set: keep one PAC file" });
  const fixed = [p.http_proxy !== undefined ? "http_proxy" : "", p.https_proxy !== undefined ? "https_proxy" : ""].filter(Boolean);
  if (pac && fixed.length > 0)
    ctx.addIssue({
      code: "custom",
      path: [pac],
      message: `a PAC file and a static proxy (${fixed.join(", ")}) in one block: the PAC decides the proxy, so remove ${fixed.join(" and ")} or ${pac}`,
    });
}

/** A SOCKS5 proxy's credentials (the block's over the URL's) must fit RFC 1929; the URL itself was checked above. */
function checkSocksCredentials(p: z.output<typeof ProxyBlockSchema>, ctx: z.RefinementCtx): void {
  for (const key of ["http_proxy", "https_proxy"] as const) {
    const url = p[key];
    if (!url || proxyUrlProblem(url)) continue;
    const problem = proxyUrlProblem(url, { username: p.username, password: p.password });
    if (problem) ctx.addIssue({ code: "custom", path: [p.username !== undefined ? "username" : key], message: `${problem} (for ${key})` });
  }
}

export const ProxySchema = ProxyBlockSchema.superRefine((p, ctx) => {
  if (p.auth === "negotiate")
    ctx.addIssue({
      code: "custom",
      path: ["auth"],
      message:
        "negotiate (Kerberos) proxy authentication is not supported: the only maintained Node binding (kerberos) downloads prebuilt binaries at install or needs libkrb5-dev and a compiler; " +
        "fix: use auth: basic with username/password, or a local proxy that authenticates to the corporate one (squid with cache_peer ... login=NEGOTIATE does Kerberos to its parent)",
    });
  checkPacBlock(p, ctx);
  checkSocksCredentials(p, ctx);
});

const ClientCertAuthSchema = z
  .strictObject({
    type: z.literal("client_cert"),
    cert_dir: z.string().optional().describe("directory with <name>.pem and <name>-key.pem (RHEL entitlements)"),
    cert_file: z.string().optional(),
    key_file: z.string().optional(),
    ca_file: z.string().optional(),
  })
  .superRefine((a, ctx) => {
    const explicit = a.cert_file !== undefined || a.key_file !== undefined;
    if (a.cert_dir && explicit) ctx.addIssue({ code: "custom", message: "give either cert_dir or cert_file/key_file, not both" });
    else if (!a.cert_dir && !(a.cert_file && a.key_file))
      ctx.addIssue({ code: "custom", message: "client_cert needs cert_dir, or both cert_file and key_file" });
  });

const BasicAuthSchema = z.strictObject({
  type: z.literal("basic"),
  username: z.string().min(1),
  password: z.string(),
});

export const AuthSchema = z.discriminatedUnion("type", [ClientCertAuthSchema, BasicAuthSchema], { error: 'must be "client_cert" or "basic"' });

/**
 * How requests behave, globally (top-level http:) and per repository (a repository's http: overrides key by key).
 * No defaults here: a default in one file's block would override what an earlier file set; see httpSettings().
 */
export const HttpSettingsSchema = z.strictObject({
  min_rate_bytes_per_second: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("a transfer slower than this over min_rate_window_seconds fails and is retried (default 1000; 0 turns the check off)"),
  min_rate_window_seconds: z.number().int().min(1).max(3600).optional().describe("the window the minimum rate is measured over (default 30)"),
  max_download_bytes: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("largest file accepted when the upstream declares no size (default 4 GiB); a declared size is always a hard cap"),
  allow_insecure_redirects: z.boolean().optional().describe("follow a redirect from https:// to http:// (default false: refused as a downgrade)"),
});

export type HttpSettingsConfig = z.output<typeof HttpSettingsSchema>;

/** The top-level http: block: a repository's keys, plus the connection caps of the whole process (no repository sets them). */
export const GlobalHttpSettingsSchema = HttpSettingsSchema.extend({
  max_connections_per_host: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .optional()
    .describe(
      "connections to one upstream (scheme, host and port) at once, across every repository being synced (default: no cap; each repository opens at most its download_concurrency); over HTTP/1.1 also the requests in flight to it",
    ),
  max_total_connections: z
    .number()
    .int()
    .min(1)
    .max(65536)
    .optional()
    .describe("connections to all upstreams at once, across every repository being synced (default: no cap)"),
});

export const RepoScheduleSchema = z.strictObject({
  enabled: z.boolean().default(true),
  cron: cron.describe("minute hour day-of-month month day-of-week"),
  timezone: timezone.optional().describe("IANA zone; default scheduler.timezone, else the host's"),
  jitter_seconds: z.number().int().min(0).max(300).default(0),
  create_snapshot: z.boolean().default(false),
  snapshot_name_template: z.string().min(1).default("{repo_id}-{datetime}").describe("{date}=YYYYMMDD {time}=HHMMSS {datetime} {repo_id}"),
});

/** One path segment of a suite or component name: never "", "." or "..", nothing that a URL or shell reads specially. */
const APT_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
const APT_SEGMENTS_MESSAGE = "segments of letters, digits, '.', '_', '+', '~' or '-' (each starting with a letter or digit) separated by '/'";

/** "bookworm-updates", "buster/updates" (old Debian security), or a flat repository ("./", "path/"), refused later by the sync. */
function aptDistributionProblem(d: string): string | undefined {
  if (d === "./" || d === ".") return undefined;
  const path = d.endsWith("/") ? d.slice(0, -1) : d;
  if (path.split("/").every((s) => APT_SEGMENT.test(s))) return undefined;
  return `"${d}" must be a suite or codename under dists/: ${APT_SEGMENTS_MESSAGE}; never empty, absolute or '..'`;
}

const aptDistribution = z
  .string()
  .min(1)
  .superRefine((d, ctx) => {
    const problem = aptDistributionProblem(d);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** "main", "non-free-firmware", "updates/main" (components of old Debian security suites). */
const aptComponent = z.string().refine((c) => c.split("/").every((s) => APT_SEGMENT.test(s)), {
  error: (iss) => `"${String(iss.input)}" must be a component of the suite: ${APT_SEGMENTS_MESSAGE}; never empty, absolute or '..'`,
});

/** Debian architecture names: amd64, arm64, ppc64el, hurd-i386, all. */
const aptArchitecture = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "must be a Debian architecture name (lower-case letters, digits and '-'), e.g. amd64");

export const AptSourceSchema = z.strictObject({
  distribution: aptDistribution.describe("suite or codename, e.g. bookworm-updates (flat repositories are not supported)"),
  components: z.array(aptComponent).min(1).default(["main"]),
  architectures: z.array(aptArchitecture).min(1).default(["amd64"]).describe('packages of architecture "all" come along'),
  include_sources: z.boolean().default(false),
});

export const VerifySchema = z.strictObject({
  keyring: z.string().min(1).optional().describe("OpenPGP keyring that signs InRelease / Release.gpg (apt repositories)"),
  allow_rollback: z
    .boolean()
    .optional()
    .describe("accept a Release whose Date is older than the last synced one (default false: a replayed old Release is refused)"),
});

/** A package-name pattern: a glob (`kernel*`, `?` one character) or `re:` and a regular expression, matched whole against the name. */
const packagePattern = z
  .string()
  .min(1)
  .superRefine((p, ctx) => {
    if (!p.startsWith("re:")) return;
    try {
      new RegExp(p.slice(3), "u");
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}` });
    }
  });

/**
 * What of the upstream a curated mirror keeps (docs/DESIGN.md, "Curated mirrors"). Globally (top-level filter:) and
 * per repository, where it replaces the global block whole; `filter: {}` on a repository turns the global one off.
 */
export const FilterSchema = z.strictObject({
  include: z.array(packagePattern).optional().describe('package names to keep (globs, or "re:" regexes); absent: every name'),
  exclude: z.array(packagePattern).default([]).describe("package names to leave out, after include (e.g. *-debuginfo)"),
  architectures: z
    .array(z.string().regex(/^[A-Za-z0-9_-]+$/, "must be an architecture name, e.g. x86_64 or noarch"))
    .min(1)
    .optional()
    .describe("rpm: architectures to keep (apt keeps apt.architectures)"),
  retain_versions: z.number().int().min(0).default(0).describe("keep the newest N versions of each name and architecture (0: all)"),
  with_dependencies: z.boolean().default(false).describe("add what the kept packages need, from this repository's metadata"),
  dependency_repositories: z
    .array(z.string().min(1))
    .default([])
    .describe("ids of other mirrored repositories that may satisfy dependencies (e.g. BaseOS for AppStream)"),
  sources: z.boolean().default(true).describe("rpm: keep src.rpm packages"),
  allow_empty: z.boolean().default(false).describe("accept a filter that keeps no package (default: such a sync fails)"),
});

/** The mirror's own OpenPGP key, which signs regenerated metadata (and, with resign, verbatim trees too). */
export const RepoSigningSchema = z.strictObject({
  key_file: z.string().min(1).describe("armored OpenPGP secret key; `signing generate-key` makes one"),
  passphrase: z.string().optional().describe("of key_file, e.g. ${CHANTAL_SIGNING_PASSPHRASE}"),
  resign: z.boolean().default(false).describe("also sign trees published verbatim (e.g. the RHEL CDN's unsigned repodata)"),
  public_key_name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be a file name of letters, digits, '.', '_' or '-'")
    .default("chantal-mirror")
    .describe("the public key is published as <repo-id>/<name>.asc and <name>.gpg beside the trees"),
});

/** Where clients reach the published trees; globally, and per repository (replacing the global value). */
export const PublishSchema = z.strictObject({
  base_url: httpUrl
    .optional()
    .describe(
      "URL at which a web server serves storage.published_path, e.g. http://mirror.internal/ (a repository is then at <base_url><repo-id>/latest/): publish and sync print the client configuration under it",
    ),
  gate: z
    .enum(["verify", "closure"])
    .optional()
    .describe("the check of a tree before it goes live: verify (default: files, checksums, signature) or closure (also every dependency)"),
});

/** The last second of a year: the longest {date} and {time} a template can produce. */
const SAMPLE_SNAPSHOT_DATE = new Date(Date.UTC(2026, 11, 31, 23, 59, 59));

/** Why a snapshot name template cannot produce a valid name, or undefined. */
export function snapshotTemplateProblem(template: string, repoId: string): string | undefined {
  try {
    snapshotNameFromTemplate(template, { repoId, now: SAMPLE_SNAPSHOT_DATE });
    return undefined;
  } catch (err) {
    return `${err instanceof Error ? err.message : String(err)} (rendered with the sample date 2026-12-31 23:59:59)`;
  }
}

/** snapshots.retention: which snapshots `snapshot prune` and scheduled snapshots keep (a snapshot kept by either rule stays). */
export const SnapshotRetentionSchema = z.strictObject({
  keep_last: z.number().int().min(1).optional().describe("keep the N newest snapshots of the repository"),
  keep_days: z.number().int().min(0).optional().describe("keep snapshots created in the last D days"),
  include_published: z
    .boolean()
    .default(false)
    .describe(
      "also unpublish and delete published snapshots beyond the retention (scheduled snapshots are published); default: a published snapshot is never pruned",
    ),
});

export const SnapshotsSchema = z.strictObject({
  retention: SnapshotRetentionSchema.optional().describe("default: none (every snapshot is kept)"),
});

/** pool: the lifecycle of the content-addressed pool. */
export const PoolSchema = z.strictObject({
  gc: z
    .strictObject({
      schedule: z.strictObject({ enabled: z.boolean().default(true), cron, timezone: timezone.optional() }).optional(),
      protect_minutes: z.number().int().min(0).default(60).describe("orphans and temp files younger than this are kept"),
    })
    .optional(),
});

/** A duration like 36h, 3d, 90m, 45s or 2w. */
export const durationString = z
  .string()
  .regex(/^[0-9]+(s|m|h|d|w)$/, "must be a number followed by s, m, h, d or w (like 36h or 3d)")
  .describe("a duration: a number followed by s, m, h, d or w");

/** freshness: when a repository counts as stale or its Valid-Until as near (core/freshness/state.ts). */
export const FreshnessSchema = z.strictObject({
  max_age: durationString.default("36h").describe("stale when the last successful sync is older than this"),
  valid_until_warning: durationString.default("3d").describe("expiring when upstream's Valid-Until (APT) is nearer than this"),
});

const listenAddress = z.string().regex(/^[^\s:]+:[0-9]{1,5}$|^\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}$/, "must be host:port, like 127.0.0.1:9464");

/** metrics: the daemon's Prometheus endpoint (core/metrics/), served by the web: listener. */
export const MetricsSchema = z.strictObject({
  listen: listenAddress.optional().describe("the older name of web.listen (the listener also serves the dashboard); give one of the two"),
});

/** web.auth: what every request to the listener must carry (core/web/auth.ts); one of the two. */
export const WebAuthSchema = z
  .strictObject({
    basic: z
      .strictObject({ username: z.string().min(1), password: z.string().min(8, "must be at least 8 characters") })
      .optional()
      .describe("HTTP basic credentials (give the password as ${VARIABLE})"),
    bearer_token: z.string().min(16, "must be at least 16 characters").optional().describe("Authorization: Bearer TOKEN (give it as ${VARIABLE})"),
  })
  .superRefine((a, ctx) => {
    if ((a.basic === undefined) === (a.bearer_token === undefined)) ctx.addIssue({ code: "custom", message: "give basic or bearer_token (one of them)" });
  });

/** web: the daemon's HTTP listener: the read-only dashboard, its JSON API and GET /metrics (core/web/). */
export const WebSchema = z.strictObject({
  listen: listenAddress
    .optional()
    .describe("scheduler start serves the dashboard, /api/ and /metrics on host:port (default: metrics.listen, else no listener; --http overrides)"),
  auth: WebAuthSchema.optional().describe("credentials every request needs; required when listen is not a loopback address"),
});

/** Fargate's CPU and memory pairs: vCPU -> the memory it allows, in GB (AWS ECS task size table). */
const FARGATE_MEMORY_GB: Readonly<Record<string, readonly number[]>> = {
  "0.25": [0.5, 1, 2],
  "0.5": [1, 2, 3, 4],
  "1": [2, 3, 4, 5, 6, 7, 8],
  "2": Array.from({ length: 13 }, (_, i) => 4 + i),
  "4": Array.from({ length: 23 }, (_, i) => 8 + i),
  "8": Array.from({ length: 12 }, (_, i) => 16 + 4 * i),
  "16": Array.from({ length: 12 }, (_, i) => 32 + 8 * i),
};

/** One Fargate task's size (cloud.task, a repository's cloud.task). */
export const TaskSizeSchema = z
  .strictObject({
    cpu: z.number().describe("vCPU: 0.25, 0.5, 1, 2, 4, 8 or 16"),
    memory_gb: z.number().describe("GB, a size Fargate pairs with the cpu (0.5 vCPU: 1-4 GB)"),
  })
  .superRefine((t, ctx) => {
    const allowed = FARGATE_MEMORY_GB[String(t.cpu)];
    if (!allowed) ctx.addIssue({ code: "custom", path: ["cpu"], message: `${t.cpu} vCPU is not a Fargate size (0.25, 0.5, 1, 2, 4, 8 or 16)` });
    else if (!allowed.includes(t.memory_gb))
      ctx.addIssue({
        code: "custom",
        path: ["memory_gb"],
        message: `${t.cpu} vCPU takes ${allowed[0]}-${allowed.at(-1)} GB (${allowed.join(", ")}), not ${t.memory_gb}`,
      });
  });

/** The events a notification target can ask for (core/notify/events.ts builds them). */
export const NOTIFY_EVENTS = [
  "sync.succeeded",
  "sync.changed",
  "sync.failed",
  "sync.interrupted",
  "freshness.stale",
  "freshness.expiring",
  "freshness.failing",
  "freshness.ok",
  "backup.succeeded",
  "backup.failed",
] as const;
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

const notifyEvents = z
  .array(
    z.enum(NOTIFY_EVENTS, {
      error: (iss) => `${JSON.stringify(iss.input)} is not an event: use ${NOTIFY_EVENTS.join(", ")}`,
    }),
  )
  .min(1, "must name at least one event")
  .describe(`which events this target receives: ${NOTIFY_EVENTS.join(", ")}`);

/** The repositories a target is about: absent means every repository (events of backups always pass). */
const notifyRepositories = z.array(z.string().min(1)).min(1).optional().describe("only events of these repository ids (default: every repository)");

/** notify.webhooks[]: an HTTP(S) POST of the event's JSON, signed with HMAC-SHA256 (X-Chantal-Signature-256). */
export const WebhookSchema = z.strictObject({
  url: httpUrl.describe("where the JSON is POSTed; reached through the global proxy block (no_proxy applies)"),
  events: notifyEvents,
  repositories: notifyRepositories,
  secret: z
    .string()
    .min(16, "must be at least 16 characters (give it as ${VARIABLE}: the receiver checks X-Chantal-Signature-256 with it)")
    .optional()
    .describe("HMAC-SHA256 key of X-Chantal-Signature-256, e.g. ${CHANTAL_WEBHOOK_SECRET}; without it nothing is signed"),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/, "must be an HTTP header name"), z.string())
    .optional()
    .describe("extra request headers"),
  ca_file: z.string().min(1).optional().describe("PEM file trusted for an https:// receiver (besides the system CAs and proxy.ca_bundle)"),
  timeout_seconds: z.number().int().min(1).max(300).default(10).describe("per attempt"),
  retries: z.number().int().min(0).max(10).default(4).describe("further attempts after a failed one, with exponential backoff"),
});

/** notify.email.smtp: the SMTP server (nodemailer). */
export const SmtpSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(587),
  secure: z.boolean().default(false).describe("TLS from the first byte (port 465); false: STARTTLS when the server offers it"),
  require_starttls: z.boolean().default(false).describe("with secure: false, refuse to send when the server offers no STARTTLS"),
  username: z.string().min(1).optional(),
  password: z.string().optional().describe("e.g. ${CHANTAL_SMTP_PASSWORD}"),
  ca_file: z.string().min(1).optional().describe("PEM file trusted for the server's certificate (besides the system CAs)"),
  timeout_seconds: z.number().int().min(1).max(300).default(30).describe("per attempt: connection, greeting and each command"),
  retries: z.number().int().min(0).max(10).default(3).describe("further attempts after a temporary failure (a 4xx answer, a lost connection)"),
});

const emailAddress = z.string().regex(/^[^\s@<>]+@[^\s@<>]+$/, "must be an e-mail address (user@host)");

/** notify.email: mails per event and an optional daily digest. */
export const EmailSchema = z
  .strictObject({
    smtp: SmtpSchema,
    from: emailAddress,
    to: z.array(emailAddress).min(1, "must name at least one address"),
    events: notifyEvents.optional().describe("events mailed one by one (default: none; the digest alone)"),
    repositories: notifyRepositories,
    digest: z
      .enum(["daily"], { error: () => 'must be "daily"' })
      .optional()
      .describe("daily: one mail listing every repository's state and what changed"),
    digest_cron: cron.default("0 7 * * *").describe("when the daemon sends the digest (minute hour ...; default 07:00)"),
    digest_timezone: timezone.optional().describe("IANA zone of digest_cron; default scheduler.timezone, else the host's"),
  })
  .refine((e) => e.events !== undefined || e.digest !== undefined, { message: "needs events (mails per event), digest: daily, or both" });

/** notify: where events go (core/notify/). Deliveries never block or fail the run that caused them. */
export const NotifySchema = z.strictObject({
  webhooks: z.array(WebhookSchema).optional().describe("default: none"),
  email: EmailSchema.optional(),
  max_wait_seconds: z
    .number()
    .int()
    .min(0)
    .max(600)
    .optional()
    .describe("how long a one-shot command (repo sync, db backup) waits at its end for deliveries still retrying (default 30)"),
});

export type NotifyConfig = z.output<typeof NotifySchema>;
export type WebhookConfig = z.output<typeof WebhookSchema>;
export type EmailConfig = z.output<typeof EmailSchema>;
export type SmtpConfig = z.output<typeof SmtpSchema>;

export const RepositorySchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"),
    type: z.enum(["rpm", "apt"], { error: (iss) => `must be "rpm" or "apt", not ${JSON.stringify(iss.input)}` }),
    upstream_url: upstreamUrl,
    enabled: z.boolean().default(true),
    description: z.string().optional(),
    proxy: ProxySchema.optional().describe("replaces the global proxy block whole"),
    auth: AuthSchema.optional(),
    schedule: RepoScheduleSchema.optional(),
    apt: AptSourceSchema.optional().describe("required for type apt"),
    verify: VerifySchema.optional(),
    download_concurrency: z.number().int().min(1).max(64).default(8),
    http: HttpSettingsSchema.optional().describe("overrides the global http: block key by key"),
    publish: PublishSchema.optional().describe("replaces the global publish: block (a repository served from another host)"),
    filter: FilterSchema.optional().describe("replaces the global filter: block whole; {} mirrors everything"),
    signing: RepoSigningSchema.optional().describe("replaces the global signing: block whole"),
    snapshots: SnapshotsSchema.optional().describe("replaces the global snapshots: block whole"),
    freshness: FreshnessSchema.optional().describe("replaces the global freshness: block whole"),
    cloud: z.strictObject({ task: TaskSizeSchema }).optional().describe("on AWS: this repository's task size instead of cloud.task"),
  })
  .superRefine((r, ctx) => {
    if (r.type === "apt" && !r.apt)
      ctx.addIssue({ code: "custom", path: ["apt"], message: "an apt repository needs an apt: block (distribution, components, architectures)" });
    if (r.type === "rpm" && r.apt) ctx.addIssue({ code: "custom", path: ["apt"], message: "only apt repositories take an apt: block" });
    if (r.type === "rpm" && r.verify?.keyring) {
      ctx.addIssue({
        code: "custom",
        path: ["verify", "keyring"],
        message: "is checked for apt repositories only: an RPM mirror keeps repomd.xml.asc verbatim, so enable repo_gpgcheck in dnf to verify it",
      });
    }
    if (r.type === "rpm" && r.verify?.allow_rollback !== undefined) {
      ctx.addIssue({ code: "custom", path: ["verify", "allow_rollback"], message: "applies to apt repositories only (the Date of their Release)" });
    }
    const template = r.schedule?.snapshot_name_template;
    if (template !== undefined) {
      // Rendered with a sample date now, so that a template that can never make a valid name fails validation, not a sync.
      const problem = snapshotTemplateProblem(template, r.id);
      if (problem) ctx.addIssue({ code: "custom", path: ["schedule", "snapshot_name_template"], message: problem });
    }
    for (const key of ["components", "architectures"] as const) {
      const list = r.apt?.[key] ?? [];
      const dup = list.find((v, i) => list.indexOf(v) !== i);
      if (dup) ctx.addIssue({ code: "custom", path: ["apt", key], message: `lists "${dup}" twice` });
    }
  });

/** scheduler.windows[]: when scheduled syncs may start (core/schedule/windows.ts; README "Maintenance windows"). */
export const MaintenanceWindowSchema = z
  .strictObject({
    cron: cron.describe("when the window opens"),
    duration: durationString.describe("how long it stays open, in real time (4h, 90m)"),
    mode: z.enum(["only", "never"]).default("only").describe("only: syncs start only inside; never: syncs never start inside"),
    repositories: z.array(z.string().min(1)).min(1).optional().describe("the repository ids it applies to; default every repository"),
    on_close: z.enum(["finish", "abort"]).optional().describe("mode only: a sync still running at the close finishes (default) or stops cleanly"),
    timezone: timezone.optional().describe("IANA zone of cron; default scheduler.timezone, else the host's"),
  })
  .superRefine((w, ctx) => {
    if (/^0+[smhdw]$/.test(w.duration))
      ctx.addIssue({ code: "custom", path: ["duration"], message: `is ${w.duration}: a window of no length never opens; give its length, like 4h` });
    if (w.mode === "never" && w.on_close !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["on_close"],
        message: "applies to mode: only windows (a never window only keeps syncs from starting; it stops none)",
      });
    w.repositories?.forEach((id, j) => {
      if (w.repositories!.indexOf(id) !== j) ctx.addIssue({ code: "custom", path: ["repositories", j], message: `lists "${id}" twice` });
    });
  });

export const SchedulerSchema = z.strictObject({
  max_concurrent_syncs: z.number().int().min(1).max(64).default(2),
  catch_up: z.boolean().default(true),
  timezone: timezone.optional(),
  grace_period_seconds: z.number().int().min(0).max(3600).default(60),
  pid_file: z.string().optional(),
  log_file: z.string().optional(),
  windows: z.array(MaintenanceWindowSchema).optional().describe("maintenance windows: when scheduled syncs may start"),
});

export const BackupRetentionSchema = z.strictObject({
  keep_last: z.number().int().min(1).optional(),
  keep_daily: z.number().int().min(0).optional(),
  keep_weekly: z.number().int().min(0).optional(),
  keep_monthly: z.number().int().min(0).optional(),
});

export const BackupSchema = z.strictObject({
  dir: z.string().optional().describe("default target directory (default <base_path>/backups)"),
  target: z.string().optional().describe("a directory or s3://bucket/prefix"),
  include_config: z.boolean().default(true),
  compress: z.boolean().default(true),
  schedule: z.strictObject({ enabled: z.boolean().default(true), cron, timezone: timezone.optional() }).optional(),
  retention: BackupRetentionSchema.optional(),
  signing: z
    .strictObject({
      key_file: z
        .string()
        .min(1)
        .optional()
        .describe("armored OpenPGP secret key that signs every new backup (manifest.json.asc); keep it outside the configuration directory"),
      passphrase: z.string().optional().describe("of key_file, e.g. ${CHANTAL_BACKUP_KEY_PASSPHRASE}"),
      keyring: z
        .string()
        .min(1)
        .optional()
        .describe("public keys (a file or a directory) that a backup's signature must verify against; default: key_file's own public key"),
    })
    .refine((s) => s.key_file !== undefined || s.keyring !== undefined, {
      message: "needs key_file (to sign new backups) or keyring (to verify them), or both",
    })
    .optional()
    .describe("sign backups, and refuse to verify or restore one that is not validly signed"),
  encrypt: z
    .strictObject({
      recipients: z
        .array(z.string().min(1), { error: "needs recipients: a list of OpenPGP public key files the backups are encrypted to" })
        .min(1, "needs at least one recipient: an OpenPGP public key file the backups are encrypted to")
        .describe("OpenPGP public key files (armored or binary); any one of their secret keys decrypts (db restore --identity)"),
    })
    .optional()
    .describe("encrypt every new backup to these public keys; the manifest stays readable (db backup-list, backup-info)"),
  s3: S3ConnectionSchema.optional().describe(
    "settings for s3://bucket/prefix targets; credentials come from the AWS environment (AWS_ACCESS_KEY_ID, profiles, roles)",
  ),
});

// ---------------------------------------------------------------------------------------- lifecycle environments

/**
 * groups[].schedule: the scheduler freezes the group at these times, after the members' own scheduled syncs of the
 * same fire time have finished (docs/DESIGN.md, "Scheduled group snapshots").
 */
export const GroupScheduleSchema = z.strictObject({
  enabled: z.boolean().default(true),
  cron: cron.describe("minute hour day-of-month month day-of-week; a member whose own cron fires at the same time is synced first"),
  timezone: timezone.optional().describe("IANA zone; default scheduler.timezone, else the host's (UTC on AWS)"),
  name: z
    .string()
    .min(1)
    .default("{repo_id}-{datetime}")
    .describe("snapshot name template: {date}=YYYYMMDD {time}=HHMMSS {datetime}={date}-{time} in the schedule's zone, {repo_id}=the group id"),
});

/** A repository group: members frozen together (snapshot create --group) and promoted together (promote). */
export const GroupSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"),
    description: z.string().optional(),
    repositories: z
      .array(z.string().min(1))
      .min(1, "must name at least one repository")
      .describe("ids of configured repositories; a repository may be in several groups"),
    schedule: GroupScheduleSchema.optional().describe("a scheduled group snapshot (scheduler start, and one EventBridge schedule on AWS)"),
  })
  .superRefine((g, ctx) => {
    const template = g.schedule?.name;
    if (template === undefined) return;
    // {repo_id} in a group snapshot's name is the group's id (as in `snapshot create --group`).
    const problem = snapshotTemplateProblem(template, g.id);
    if (problem) ctx.addIssue({ code: "custom", path: ["schedule", "name"], message: problem });
  });

/** The promotion path, in order (dev, test, prod): each environment is served at <published>/<env>/<repo-id>/. */
export const EnvironmentsSchema = z
  .array(
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, "must be 1-63 characters of letters, digits, '_' or '-', starting with a letter or digit")
      .describe("an environment name; it is a directory beside the repositories' under <published>"),
  )
  .describe("the ordered promotion path, e.g. [dev, test, prod]: promote --to prod takes only what test has, unless --force");

/** "127.0.0.1", "127.1.2.3", "::1", "localhost": only this host can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(h);
}

/** The host of a listen address (host:port or [v6]:port). */
export function listenHost(listen: string): string {
  return listen.replace(/:[0-9]+$/, "").replace(/^\[(.*)\]$/, "$1");
}

/** One listener address (web.listen, or its older name metrics.listen); a non-loopback one only with web.auth. */
function checkWebListener(c: { web: { listen?: string | undefined; auth?: unknown }; metrics: { listen?: string | undefined } }, ctx: z.RefinementCtx) {
  if (c.web.listen !== undefined && c.metrics.listen !== undefined && c.web.listen !== c.metrics.listen)
    ctx.addIssue({
      code: "custom",
      path: ["metrics", "listen"],
      message: `is ${c.metrics.listen} but web.listen is ${c.web.listen}: the dashboard and /metrics share one listener; keep web.listen only`,
    });
  const listen = c.web.listen ?? c.metrics.listen;
  if (listen !== undefined && !isLoopbackHost(listenHost(listen)) && c.web.auth === undefined)
    ctx.addIssue({
      code: "custom",
      path: [c.web.listen !== undefined ? "web" : "metrics", "listen"],
      message: `${listen} is reachable from other hosts: set web.auth (basic: { username, password } or bearer_token), or listen on 127.0.0.1`,
    });
}

/** Names under <published>/ that are not repositories or environments. */
const RESERVED_PUBLISHED_NAMES = new Set(["pool", "snapshots", "latest"]);

/** Groups name configured repositories once each; environments are unique and do not collide with repository ids (both live under <published>/). */
function checkGroupsAndEnvironments(
  c: { repositories: readonly { id: string }[]; groups: readonly { id: string; repositories: readonly string[] }[]; environments: readonly string[] },
  ctx: z.RefinementCtx,
): void {
  const repoIds = new Set(c.repositories.map((r) => r.id));
  const seenGroups = new Set<string>();
  c.groups.forEach((g, i) => {
    if (seenGroups.has(g.id)) ctx.addIssue({ code: "custom", path: ["groups", i, "id"], message: `group id "${g.id}" is defined twice` });
    seenGroups.add(g.id);
    g.repositories.forEach((id, j) => {
      if (!repoIds.has(id))
        ctx.addIssue({ code: "custom", path: ["groups", i, "repositories", j], message: `names "${id}", which is not a configured repository` });
      else if (g.repositories.indexOf(id) !== j) ctx.addIssue({ code: "custom", path: ["groups", i, "repositories", j], message: `lists "${id}" twice` });
    });
  });
  c.environments.forEach((e, i) => {
    if (c.environments.indexOf(e) !== i) ctx.addIssue({ code: "custom", path: ["environments", i], message: `lists "${e}" twice` });
    if (repoIds.has(e))
      ctx.addIssue({
        code: "custom",
        path: ["environments", i],
        message: `"${e}" is also a repository id: both would be <published>/${e}/; rename the environment`,
      });
    if (RESERVED_PUBLISHED_NAMES.has(e)) ctx.addIssue({ code: "custom", path: ["environments", i], message: `"${e}" is a reserved name` });
  });
}

/** scheduler.windows[].repositories name configured repositories. */
function checkWindowRepositories(
  c: { repositories: readonly { id: string }[]; scheduler: { windows?: readonly { repositories?: readonly string[] | undefined }[] | undefined } },
  ctx: z.RefinementCtx,
): void {
  const repoIds = c.repositories.map((r) => r.id);
  c.scheduler.windows?.forEach((w, i) => {
    w.repositories?.forEach((id, j) => {
      if (!repoIds.includes(id))
        ctx.addIssue({
          code: "custom",
          path: ["scheduler", "windows", i, "repositories", j],
          message: `names "${id}", which is not a configured repository${didYouMean(repoIds, id) ? `;${didYouMean(repoIds, id)}` : ""}`,
        });
    });
  });
}

/** export: air-gap bundles (core/transfer/); their manifest is signed with export.signing, else the global signing: key. */
export const ExportSchema = z.strictObject({
  dir: z.string().optional().describe("default directory of new bundles (default <base_path>/exports)"),
  signing: z
    .strictObject({
      key_file: z.string().min(1).describe("armored OpenPGP secret key that signs every bundle's manifest.json (manifest.json.asc)"),
      passphrase: z.string().optional().describe("of key_file, e.g. ${CHANTAL_EXPORT_KEY_PASSPHRASE}"),
    })
    .optional()
    .describe("default: the global signing: key"),
});

const cidr = z.string().refine((v) => {
  const [address, prefix, extra] = v.split("/");
  if (extra !== undefined || !address || !isIP(address)) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (isIP(address) === 4 ? 32 : 128);
}, "must be an IP address or a CIDR range such as 10.0.0.0/8");

/** cloud.mirror: CloudFront in front of the published trees, or the bucket itself restricted to networks. */
export const CloudMirrorSchema = z
  .strictObject({
    serve: z.enum(["cloudfront", "bucket"]).describe("cloudfront: a distribution (HTTPS); bucket: the S3 REST endpoint with a bucket policy"),
    allowed_cidrs: z.array(cidr).default([]).describe("client networks allowed to read (CloudFront: checked by a viewer-request function)"),
    vpc_endpoints: z
      .array(z.string().regex(/^vpce-[0-9a-f]+$/, "must be a VPC endpoint id (vpce-...)"))
      .default([])
      .describe("serve: bucket: S3 gateway endpoints whose traffic may read"),
    public: z.boolean().default(false).describe("true: anyone on the internet may read (mind your vendors' licences)"),
    index_max_age_seconds: z.number().int().min(0).max(3600).default(0).describe("repomd.xml, InRelease, Release: how long CloudFront keeps them"),
    metadata_max_age_seconds: z.number().int().min(0).max(86400).default(60).describe("other index files at fixed paths (Packages*, repodata/*)"),
    package_max_age_seconds: z.number().int().min(60).max(31536000).default(604800).describe("packages and other files"),
  })
  .superRefine((m, ctx) => {
    const restricted = m.allowed_cidrs.length > 0 || m.vpc_endpoints.length > 0;
    if (m.public && restricted)
      ctx.addIssue({ code: "custom", path: ["public"], message: "public: true and allowed_cidrs/vpc_endpoints contradict each other: choose one" });
    else if (!m.public && !restricted)
      ctx.addIssue({
        code: "custom",
        path: ["allowed_cidrs"],
        message: "names nobody: list the client networks (allowed_cidrs, or vpc_endpoints for serve: bucket), or set public: true",
      });
    if (m.serve === "cloudfront" && m.vpc_endpoints.length > 0)
      ctx.addIssue({
        code: "custom",
        path: ["vpc_endpoints"],
        message: "only apply to serve: bucket (CloudFront is not reached through a VPC endpoint): use allowed_cidrs",
      });
  });

/** cloud: what the AWS deployment's checks (`config validate --target aws`, `sst deploy`) take as given; ignored elsewhere. */
export const CloudSchema = z.strictObject({
  secrets: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name, as in ${NAME}"))
    .optional()
    .describe("the ${VAR}s whose SSM parameters /chantal/<stage>/<VAR> exist: a variable used but not listed is refused"),
  image_paths: z
    .array(z.string().startsWith("/", "must be an absolute path in the image"))
    .default([])
    .describe("files and directories built into your image (keyrings, client certificates, CA bundles) that the configuration may name"),
  task: TaskSizeSchema.optional().describe("every task's size (default 0.5 vCPU, 1 GB); Node's heap is 70% of the memory, at most 1536 MB"),
  spread_minutes: z
    .number()
    .int()
    .min(0)
    .max(1440)
    .default(0)
    .describe("a flexible time window of this many minutes for every sync schedule (AWS starts each within it): spreads a fleet firing at one time"),
  max_concurrent_tasks: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("config validate --target aws warns when the schedules may run more tasks at once (your vCPU quota ÷ the task's vCPU)"),
  typical_task_minutes: z.number().int().min(1).max(1440).default(10).describe("how long a sync task runs, for that estimate"),
  schedules_owner: z
    .enum(["sst", "runtime"])
    .default("sst")
    .describe("who creates the repositories' EventBridge schedules: sst deploy (default), or `cloud schedules` (then the deploy makes none)"),
  mirror: CloudMirrorSchema.optional().describe("how clients reach the published trees in the pool bucket (default: they don't)"),
  network: z
    .strictObject({
      subnets: z
        .enum(["public", "private-nat", "private-endpoints"])
        .default("public")
        .describe(
          "public: tasks get a public IP; private-nat: private subnets behind a NAT gateway; private-endpoints: no internet route, VPC endpoints for S3, ECR, Logs, SSM (upstreams through proxy.*)",
        ),
    })
    .optional(),
  alarms: z
    .strictObject({ email: z.array(z.email()).default([]).describe("subscribed to the alarm topic (each confirms AWS's e-mail once)") })
    .optional()
    .describe("an SNS topic for the dead-letter queue and for tasks that exit non-zero"),
  database: z
    .strictObject({
      proxy: z.boolean().default(false).describe("put an RDS Proxy between the tasks and the database (pooled connections for a large fleet)"),
      tls: z
        .enum(["verify-full", "require"])
        .default("verify-full")
        .describe("verify-full: TLS checked against the RDS CA bundle in the image; require: encrypted, the server's certificate not checked"),
    })
    .optional(),
});

/** One YAML file: every section optional; the loader merges files. */
export const ConfigFileSchema = z.strictObject({
  storage: StorageSchema.partial().optional(),
  database: DatabaseSchema.optional(),
  proxy: ProxySchema.optional(),
  http: GlobalHttpSettingsSchema.optional(),
  repositories: z.array(RepositorySchema).optional(),
  scheduler: SchedulerSchema.partial().optional(),
  backup: BackupSchema.partial().optional(),
  publish: PublishSchema.optional(),
  filter: FilterSchema.optional(),
  signing: RepoSigningSchema.optional(),
  snapshots: SnapshotsSchema.optional(),
  pool: PoolSchema.optional(),
  freshness: FreshnessSchema.partial().optional(),
  metrics: MetricsSchema.optional(),
  web: WebSchema.optional(),
  groups: z.array(GroupSchema).optional(),
  environments: EnvironmentsSchema.optional(),
  export: ExportSchema.optional(),
  cloud: CloudSchema.optional(),
  notify: NotifySchema.optional(),
});

/** The merged document with defaults applied. */
export const ConfigSchema = z
  .strictObject({
    storage: StorageWithBackendSchema.default({ base_path: "/var/lib/chantal" }),
    database: DatabaseSchema.default({}),
    proxy: ProxySchema.optional(),
    http: GlobalHttpSettingsSchema.optional(),
    repositories: z.array(RepositorySchema).default([]),
    scheduler: SchedulerSchema.default({ max_concurrent_syncs: 2, catch_up: true, grace_period_seconds: 60 }),
    backup: BackupSchema.default({ include_config: true, compress: true }),
    publish: PublishSchema.optional(),
    filter: FilterSchema.optional(),
    signing: RepoSigningSchema.optional(),
    snapshots: SnapshotsSchema.optional(),
    pool: PoolSchema.optional(),
    freshness: FreshnessSchema.default({ max_age: "36h", valid_until_warning: "3d" }),
    metrics: MetricsSchema.default({}),
    web: WebSchema.default({}),
    groups: z.array(GroupSchema).default([]),
    environments: EnvironmentsSchema.default([]),
    export: ExportSchema.optional(),
    cloud: CloudSchema.optional(),
    notify: NotifySchema.optional(),
  })
  .superRefine(checkGroupsAndEnvironments)
  .superRefine(checkWindowRepositories)
  .superRefine(checkWebListener)
  .superRefine((c, ctx) => {
    const perHost = c.http?.max_connections_per_host;
    const total = c.http?.max_total_connections;
    if (perHost !== undefined && total !== undefined && perHost > total)
      ctx.addIssue({
        code: "custom",
        path: ["http", "max_connections_per_host"],
        message: `is ${perHost}, more than http.max_total_connections (${total}): one host could never use them; lower it or raise the total`,
      });
  });

export type Config = z.output<typeof ConfigSchema>;
export type ConfigFile = z.output<typeof ConfigFileSchema>;
export type RepositoryConfig = z.output<typeof RepositorySchema>;
export type ProxyConfig = z.output<typeof ProxySchema>;
export type RepoSchedule = z.output<typeof RepoScheduleSchema>;
export type AuthConfig = z.output<typeof AuthSchema>;
export type AptSourceConfig = z.output<typeof AptSourceSchema>;
export type FilterConfig = z.output<typeof FilterSchema>;
export type SigningConfig = z.output<typeof RepoSigningSchema>;
export type GroupConfig = z.output<typeof GroupSchema>;
export type ExportConfig = z.output<typeof ExportSchema>;
export type WebAuthConfig = z.output<typeof WebAuthSchema>;
export type GroupSchedule = z.output<typeof GroupScheduleSchema>;
export type SnapshotRetention = z.output<typeof SnapshotRetentionSchema>;

/** JSON Schema of one configuration file, for editors (yaml-language-server). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigFileSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, title: "Chantal configuration file (config.yaml and conf.d/*.yaml)" };
}
