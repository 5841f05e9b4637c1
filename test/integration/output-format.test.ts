// Every command with --json, through the real CLI on a real database with real data: snake_case keys at every depth,
// timestamps as ISO-8601 UTC; and terminal output shows local times to the second with the zone named once (README "Output").
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { formatLocalTime, zoneOffsetLabel } from "../../bin/output.js";
import { makeConfigDir, runCli, type CliResult } from "../helpers/cli.js";
import { fakeAwsEnv, startSchedulerApiServer, type SchedulerApiServer } from "../helpers/scheduler-api-server.js";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";
const SNAKE_KEY = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** A string that looks like a date and time, in any format: it must be ISO_UTC. */
const TIMESTAMP_LIKE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;
/** The documented exception (README "Output"): the backup manifest's members map is keyed by archive member path. */
const DATA_KEYED_PATHS = new Set(["manifest.members"]);

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "commands");

/** "noun verb" of every command whose options include --json, read from the command modules themselves. */
async function commandsWithJson(): Promise<string[]> {
  const out: string[] = [];
  const files = readdirSync(commandsDir)
    .filter((n) => n.endsWith(".ts"))
    .sort();
  const register = async (f: string, c: Command) => ((await import(pathToFileURL(join(commandsDir, f)).href)) as { register(c: Command): void }).register(c);
  // A noun with its own action (bin/commands/<noun>.ts, as promote) gives its options, --json too, to its verbs.
  const nounsWithJson = new Set<string>();
  for (const f of files.filter((n) => !n.includes("-"))) {
    const noun = new Command(f.replace(/\.ts$/, ""));
    await register(f, noun);
    if (noun.options.some((o) => o.long === "--json")) {
      nounsWithJson.add(noun.name());
      out.push(noun.name());
    }
  }
  for (const f of files.filter((n) => n.includes("-"))) {
    const noun = new Command(f.split("-")[0]!);
    await register(f, noun);
    for (const verb of noun.commands)
      if (nounsWithJson.has(noun.name()) || verb.options.some((o) => o.long === "--json")) out.push(`${noun.name()} ${verb.name()}`);
  }
  return out;
}

/** Every key at every depth is snake_case, every timestamp-like string is ISO-8601 UTC; returns the problems. */
function problems(value: unknown, path = ""): string[] {
  if (typeof value === "string")
    return TIMESTAMP_LIKE.test(value) && !ISO_UTC.test(value) ? [`${path || "(top)"}: timestamp ${JSON.stringify(value)} is not ISO-8601 UTC`] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => problems(v, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const at = path ? `${path}.${k}` : k;
    const keyProblem = DATA_KEYED_PATHS.has(path) || SNAKE_KEY.test(k) ? [] : [`${at}: key ${JSON.stringify(k)} is not snake_case`];
    const timeProblem =
      /_at$/.test(k) && v !== null && !(typeof v === "string" && ISO_UTC.test(v)) ? [`${at}: ${JSON.stringify(v)} is not an ISO-8601 UTC timestamp`] : [];
    return [...keyProblem, ...timeProblem, ...problems(v, DATA_KEYED_PATHS.has(path) ? `${path}.*` : at)];
  });
}

function keysOf(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + keysOf(v), 0);
  if (value === null || typeof value !== "object") return 0;
  return Object.entries(value).reduce((n, [, v]) => n + 1 + keysOf(v), 0);
}

const TARGET = {
  Arn: "arn:aws:ecs:eu-west-1:123456789012:cluster/chantal-test-Cluster",
  RoleArn: "arn:aws:iam::123456789012:role/chantal-test-SchedulerRole",
  EcsParameters: { TaskDefinitionArn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/chantal-test", LaunchType: "FARGATE", TaskCount: 1 },
  Input: "{}",
};
const AWS_ENV = fakeAwsEnv();

let env: SyncEnvironment;
let upstream: string;
let backups: string;
let aws: SchedulerApiServer;
let cloudConfigDir: string;
/** A webhook target for `notify test`. */
let notifyConfigDir: string;
let hooks: WebhookReceiver | undefined;
/** The same database and storage, without r2: for `repo remove --repo-id r2`. */
let withoutR2: string;
const outputs = new Map<string, { args: string[]; result: CliResult; json: unknown }[]>();

async function run(
  command: string,
  args: string[],
  opts: { configDir?: string; env?: Record<string, string | undefined>; exitCodes?: number[] } = {},
): Promise<unknown> {
  const result = await runCli(["--config-dir", opts.configDir ?? env.configDir, ...command.split(" "), ...args, "--json"], {
    env: { CHANTAL_LOG_LEVEL: "warn", ...opts.env },
  });
  expect(opts.exitCodes ?? [0], `${command} ${args.join(" ")}: ${result.stderr}`).toContain(result.code);
  const json: unknown = JSON.parse(result.stdout);
  outputs.set(command, [...(outputs.get(command) ?? []), { args, result, json }]);
  return json;
}

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-output-up-"));
  backups = mkdtempSync(join(tmpdir(), "chantal-output-backups-"));
  await generateRpmRepo(join(upstream, "r1"), 6, 512);
  await generateRpmRepo(join(upstream, "r2"), 2, 512, { seedName: "other" });
  const repo = (id: string, extra = "") => `  - id: ${id}\n    type: rpm\n    upstream_url: URL/${id}/\n${extra}`;
  const schedule = `    schedule: { cron: "0 3 * * *", timezone: Europe/Berlin, create_snapshot: true }\n`;
  const backup = `backup:\n  dir: ${backups}\n  retention: { keep_last: 1 }\n  schedule: { cron: "@daily" }\n`;
  const lifecycle = "groups:\n  - id: g\n    repositories: [r1]\nenvironments: [test, prod]\npublish:\n  base_url: http://mirror.example/\n";
  env = await startSyncEnvironment({ upstream, repoYaml: (url) => (repo("r1", schedule) + repo("r2")).replaceAll("URL", url) + backup + lifecycle });
  const [head] = readFileSync(join(env.configDir, "config.yaml"), "utf8").split("repositories:\n");
  withoutR2 = makeConfigDir({ "config.yaml": `${head}repositories:\n${repo("r1", schedule).replaceAll("URL", env.server.url)}${backup}` });
  cloudConfigDir = makeConfigDir({
    "config.yaml": `repositories:\n  - id: r1\n    type: rpm\n    upstream_url: https://cdn.example.com/r1/\n    schedule: { cron: "0 3 * * *", timezone: Europe/Berlin }\n`,
  });
  aws = await startSchedulerApiServer();
  aws.addGroup("chantal-test");
  aws.seed({
    Name: "chantal-target-template",
    GroupName: "chantal-test",
    ScheduleExpression: "cron(0 0 1 1 ? 2099)",
    FlexibleTimeWindow: { Mode: "OFF" },
    State: "DISABLED",
    Target: TARGET,
  });
  aws.seed({
    Name: "chantal-sync-r1",
    GroupName: "chantal-test",
    ScheduleExpression: "cron(0 2 * * ? *)",
    FlexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 5 },
    Target: TARGET,
  });

  // Real data first: two syncs with an upstream change between them, two snapshots, a backup.
  await run("repo sync", ["--all", "--snapshot", "s1"]);
  rmSync(join(upstream, "r1"), { recursive: true });
  await generateRpmRepo(join(upstream, "r1"), 6, 512, { first: 2, version: "1.1" });
  await run("repo sync", ["--repo-id", "r1"]);
  await run("snapshot create", ["--repo-id", "r1", "--name", "s2", "--publish", "--description", "second"]);
  // Lifecycle environments: two group snapshots, promotions, a rollback (in the backup below, and back after the restore).
  await run("snapshot create", ["--group", "g", "--name", "g1"]);
  await run("promote", ["--group", "g", "--snapshot", "g1", "--to", "test", "--note", "first"]);
  await run("promote", ["--group", "g", "--snapshot", "g1", "--to", "prod"]);
  await run("snapshot create", ["--group", "g", "--name", "g2"]);
  await run("promote", ["--group", "g", "--snapshot", "g2", "--to", "test"]);
  await run("promote rollback", ["--group", "g", "--env", "test"]);
  await run("promote history", []);
  await run("environment show", ["--env", "prod", "--group", "g"]);
  await run("snapshot list", ["--group", "g"]);
  await run("snapshot diff", ["--group", "g", "g1", "g2"]);
  // Air-gap bundles: an unsigned export of what prod serves, verified, listed.
  await run("export create", ["--env", "prod", "--unsigned", "--output", join(upstream, "bundle")]);
  await run("export verify", [join(upstream, "bundle"), "--insecure-skip-signature"]);
  await run("export list", []);
  // ... and imported here again (its snapshots exist with the same content: skipped), listed, the inventory.
  await run("import", [join(upstream, "bundle"), "--insecure-skip-signature"]);
  await run("import list", []);
  await run("import inventory", []);
  await run("db backup", []);
  await run("db backup", ["--target", backups, "--no-compress"]); // retention keep_last 1: this one deletes the first

  await run("repo list", []);
  await run("repo show", ["--repo-id", "r1"]);
  await run("repo history", []);
  await run("cloud status", []);
  await run("snapshot list", []);
  await run("snapshot diff", ["--repo-id", "r1", "s1", "s2"]);
  await run("db status", []);
  await run("pool verify", ["--deep"]);
  await run("pool gc", ["--dry-run"]);
  await run("snapshot prune", ["--repo-id", "r1", "--dry-run"]);
  await run("storage usage", []);
  await run("config validate", []);
  await run("proxy explain", ["--repo-id", "r1", "--test"]);
  await run("scheduler list", []);
  await run("scheduler status", []);
  const list = (await run("db backup-list", [])) as { location: string; valid: boolean }[];
  const kept = list.find((b) => b.valid)!.location;
  await run("db backup-info", [kept]);
  await run("db backup-verify", [kept, "--deep"]);
  await run("db backup-prune", ["--dry-run"]);
  await run("repo remove", ["--repo-id", "r2"], { configDir: withoutR2 });
  await run("db restore", [kept, "--yes", "--no-restore-config"]);
  await run("promote history", ["--group", "g"]);
  await run("scheduler list", ["--cloud", "--group", "chantal-test", "--endpoint", aws.url], { configDir: cloudConfigDir, env: AWS_ENV });
  await run("cloud schedules", ["--dry-run", "--group", "chantal-test", "--endpoint", aws.url], { configDir: cloudConfigDir, env: AWS_ENV });
  hooks = await startWebhookReceiver();
  notifyConfigDir = makeConfigDir({ "config.yaml": `notify:\n  webhooks:\n    - url: ${hooks.url}\n      events: [sync.failed]\n` });
  await run("notify test", ["--event", "sync.changed"], { configDir: notifyConfigDir });
}, 300_000);

afterAll(async () => {
  await env?.close();
  await aws?.close();
  await hooks?.close();
  for (const d of [upstream, backups, withoutR2, cloudConfigDir, notifyConfigDir]) if (d) rmSync(d, { recursive: true, force: true });
});

describe("--json output", () => {
  it("every command that has --json was run here (a new one needs a fixture above)", async () => {
    const all = await commandsWithJson();
    expect(all.length).toBeGreaterThanOrEqual(21);
    expect(all.filter((c) => !outputs.has(c))).toEqual([]);
  });

  it("uses snake_case keys at every depth and ISO-8601 UTC timestamps, in every command", async () => {
    const found: string[] = [];
    for (const command of await commandsWithJson()) {
      for (const o of outputs.get(command) ?? []) {
        expect(keysOf(o.json), `${command} ${o.args.join(" ")} printed no keys`).toBeGreaterThan(0);
        found.push(...problems(o.json).map((p) => `${command} ${o.args.join(" ")}: ${p}`));
      }
    }
    expect(found).toEqual([]);
  });

  it("prints real timestamps (not only nulls): the sync runs, snapshots and backups carry ISO-8601 UTC times", () => {
    const show = outputs.get("repo show")![0]!.json as {
      last_runs: { started_at: string }[];
      snapshots: { created_at: string; published_at: string | null }[];
    };
    expect(show.last_runs.length).toBeGreaterThanOrEqual(2);
    for (const r of show.last_runs) expect(r.started_at).toMatch(ISO_UTC);
    expect(show.snapshots.map((s) => s.published_at === null)).toContain(false);
    const sync = outputs.get("repo sync")![1]!.json as Record<string, unknown>;
    expect(sync).toMatchObject({ repo_id: "r1", status: "success", counts: { packages_total: 6 } });
    expect(Object.keys(sync)).toEqual(expect.arrayContaining(["run_id", "duration_ms"]));
    const backupInfo = outputs.get("db backup-info")![0]!.json as { manifest: { created_at: string; members: Record<string, unknown> } };
    expect(backupInfo.manifest.created_at).toMatch(ISO_UTC);
    expect(Object.keys(backupInfo.manifest.members)).toContain("config/config.yaml"); // a data-keyed map keeps its keys
  });
});

describe("backups of lifecycle environments", () => {
  it("a backup and restore keep the group snapshots and the promotion history (who, when, note, kind)", () => {
    const [before, after] = outputs.get("promote history")!.map((o) => o.json as { kind: string; environment: string; note: string | null }[]);
    expect(before!.map((p) => [p.kind, p.environment, p.note])).toEqual([
      ["rollback", "test", null],
      ["promote", "test", null],
      ["promote", "prod", null],
      ["promote", "test", "first"],
    ]);
    expect(after).toEqual(before);
  });
});

describe("terminal output", () => {
  const paris = (args: string[]) => runCli(["--config-dir", env.configDir, ...args], { env: { CHANTAL_LOG_LEVEL: "warn", TZ: "Europe/Paris" } });

  it.each([
    ["snapshot list", ["snapshot", "list"], (j: unknown) => (j as { created_at: string }[]).map((s) => s.created_at)],
    ["repo history", ["repo", "history"], (j: unknown) => (j as { started_at: string }[]).map((r) => r.started_at)],
    ["db backup-list", ["db", "backup-list"], (j: unknown) => (j as { created_at: string }[]).map((b) => b.created_at)],
    ["repo show", ["repo", "show", "--repo-id", "r1"], (j: unknown) => (j as { snapshots: { created_at: string }[] }).snapshots.map((s) => s.created_at)],
  ])("%s shows local times to the second and names the zone once (TZ=Europe/Paris)", async (_name, args, times) => {
    const [text, json] = await Promise.all([paris(args), paris([...args, "--json"])]);
    expect(text.code, text.stderr).toBe(0);
    const instants = times(JSON.parse(json.stdout));
    expect(instants.length).toBeGreaterThan(0);
    for (const t of instants) {
      expect(text.stdout).toContain(formatLocalTime(new Date(t), "Europe/Paris"));
      expect(text.stdout).not.toContain(t); // not the UTC ISO form
    }
    expect(text.stdout).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    // The zone line once, as the last line, with the offsets of the times shown.
    const offsets = [...new Set(instants.map((t) => zoneOffsetLabel(new Date(t), "Europe/Paris")))].sort().join(", ");
    expect(text.stdout.match(/times are in/g)).toHaveLength(1);
    expect(text.stdout.trimEnd().split("\n").at(-1)).toBe(`times are in Europe/Paris (${offsets})`);
  });
});
