// The container entry as the cloud runs it: a real process, argv or SST_EVENT, JSON logs on stdout, exit codes.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, readdirSync, existsSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, repoRoot, runCli } from "../helpers/cli.js";
import { createTestDatabase } from "../helpers/db.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let env: SyncEnvironment;
let upstream: string;
beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
  await generateRpmRepo(upstream, 40, 8_192);
  env = await startSyncEnvironment({ upstream, faults: (req) => (req.path.includes("pkg00003") ? { chunkBytes: 1024, chunkDelayMs: 100 } : undefined) });
});
afterAll(async () => {
  await env.close();
  rmSync(upstream, { recursive: true, force: true });
});

function entry(args: string[], extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "functions/entry.ts"), ...args], {
    env: { ...process.env, CHANTAL_CONFIG_DIR: env.configDir, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }>((resolve) =>
    child.on("close", (code) =>
      resolve({
        code,
        lines: stdout
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
        stderr,
      }),
    ),
  );
  return { child, done, stdout: () => stdout };
}

describe("functions/entry (container entry)", () => {
  it("SIGTERM during a sync aborts it cleanly: exit 143, run interrupted, lock released", async () => {
    const task = entry(["sync", "--repo-id", "r1"]);
    const end = Date.now() + 30_000;
    while (!task.stdout().includes('"msg":"download progress"') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    task.child.kill("SIGTERM");
    const r = await task.done;
    expect(r.code).toBe(143);
    const run = (await env.pg.query(`SELECT status, trigger FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(run).toEqual({ status: "interrupted", trigger: "cloud" });
    expect(existsSync(env.published("r1"))).toBe(false);
  });

  it("runs a sync from argv with trigger cloud, logging JSON lines on stdout", async () => {
    const r = await entry(["sync", "--repo-id", "r1", "--snapshot", "nightly-{date}"]).done;
    expect(r.code, r.stderr).toBe(0);
    const result = r.lines.find((l) => l.msg === "sync success") as {
      result: { snapshot: string; counts: { packages_total: number; packages_downloaded: number } };
    };
    expect(result.result.counts.packages_total).toBe(40);
    expect(result.result.snapshot).toMatch(/^nightly-\d{8}$/);
    const run = (await env.pg.query(`SELECT status, trigger FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(run).toEqual({ status: "success", trigger: "cloud" });
    // The CloudWatch embedded-metric line: a metric per repository that CloudWatch Logs extracts.
    const metric = r.lines.find((l) => l.msg === "sync metrics") as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string }[] } };
    expect(metric).toMatchObject({
      Repository: "r1",
      Status: "success",
      LastSuccess: 1,
      SyncFailed: 0,
      PackagesDownloaded: result.result.counts.packages_downloaded,
    });
    expect(metric._aws.CloudWatchMetrics[0]?.Namespace).toBe("Chantal");

    // cloud status reads the tasks' runs back from the same database (the earlier tests' runs included).
    const recorded = (await env.pg.query(`SELECT status, count(*)::int AS n FROM chantal.sync_runs WHERE trigger = 'cloud' GROUP BY status`)).rows as {
      status: string;
      n: number;
    }[];
    const byStatus = Object.fromEntries(recorded.map((x) => [x.status, x.n]));
    const total = recorded.reduce((a, x) => a + x.n, 0);
    const status = await runCli(["--config-dir", env.configDir, "cloud", "status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const fleet = JSON.parse(status.stdout) as { runs: number; by_status: Record<string, number>; failing: number; repositories: unknown[] };
    expect(fleet).toMatchObject({ runs: total, by_status: byStatus, failing: 0 });
    expect(fleet.repositories).toMatchObject([
      { repo_id: "r1", last_run: { status: "success" }, failures: (byStatus.interrupted ?? 0) + (byStatus.failed ?? 0) },
    ]);
    const text = await runCli(["--config-dir", env.configDir, "cloud", "status"]);
    expect(text.stdout).toMatch(new RegExp(`cloud task runs in the last 24 h: ${total} \\(.*${byStatus.success} success.*\\); 1 repositories, 0 failing`));
    expect(text.stdout).toMatch(/^r1 +\S.* success /m);
  });

  it("runs a scheduled group snapshot (groups[].schedule's name template and zone); an unknown group fails with exit 1", async () => {
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(
      join(env.configDir, "conf.d/groups.yaml"),
      'groups:\n  - id: el9\n    repositories: [r1]\n    schedule: { cron: "30 3 * * *", timezone: Europe/Paris, name: "el9-{date}" }\n',
    );
    const r = await entry(["group-snapshot", "--group", "el9"]).done;
    expect(r.code, r.stderr).toBe(0);
    const line = r.lines.find((l) => l.msg === "group snapshot success") as { result: { snapshot: string; members: string[] } };
    expect(line.result).toMatchObject({ snapshot: expect.stringMatching(/^el9-\d{8}$/), members: ["r1"] });
    const rows = (await env.pg.query(`SELECT group_id, name FROM chantal.group_snapshots`)).rows;
    expect(rows).toEqual([{ group_id: "el9", name: line.result.snapshot }]);
    const unknown = await entry([], { SST_EVENT: '{"handler":"group-snapshot","groupId":"nope"}' }).done;
    expect(unknown.code).toBe(1);
    expect(unknown.lines.find((l) => l.msg === "group snapshot failed")).toMatchObject({ result: { error: "group nope is no longer configured" } });
  });

  it("runs a backup from SST_EVENT, its database composed from the app's parts and a password with URL-special characters", async () => {
    // A database of its own, owned through the schema by a role whose password needs percent-encoding.
    const tdb = await createTestDatabase("entry_parts");
    const role = `chantal_entry_${randomBytes(4).toString("hex")}`;
    const password = `p@ss/w:rd %25#?&=+[]'"\\é`;
    const admin = async (database: string, fn: (c: pg.Client) => Promise<unknown>) => {
      const u = new URL(inject("adminDatabaseUrl"));
      u.pathname = `/${database}`;
      const c = new pg.Client({ connectionString: u.toString() });
      await c.connect();
      try {
        await fn(c);
      } finally {
        await c.end();
      }
    };
    const u = new URL(tdb.url);
    const database = u.pathname.slice(1);
    const dir = makeConfigDir({ "config.yaml": `storage:\n  base_path: ${join(env.base, "parts")}\nbackup:\n  dir: ${join(env.base, "parts-backups")}\n` });
    try {
      await admin(database, async (c) => {
        await c.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${c.escapeLiteral(password)}`);
        await c.query(`CREATE SCHEMA chantal AUTHORIZATION ${role}`);
      });
      const parts = {
        CHANTAL_CONFIG_DIR: dir,
        SST_EVENT: JSON.stringify({ handler: "backup", trigger: "cloud" }),
        CHANTAL_DATABASE_HOST: u.hostname,
        CHANTAL_DATABASE_PORT: u.port,
        CHANTAL_DATABASE_USER: role,
        CHANTAL_DATABASE_NAME: database,
      };
      // The server checks the password (scram): a wrong one fails, so the right one below is what was sent.
      const wrong = await entry([], { ...parts, CHANTAL_DATABASE_PASSWORD: `${password}x` }).done;
      expect(wrong.code).toBe(1);
      expect(JSON.stringify(wrong.lines.at(-1))).toMatch(/password authentication failed/);

      const r = await entry([], { ...parts, CHANTAL_DATABASE_PASSWORD: password }).done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines.some((l) => l.msg === "backup success")).toBe(true);
      expect(readdirSync(join(env.base, "parts-backups")).some((f) => f.endsWith(".tar.gz"))).toBe(true);
      // The task migrated that database as that role: the schema's tables are the role's.
      await admin(database, async (c) => {
        const { rows } = await c.query(`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'chantal'`);
        expect(rows).toEqual([{ tableowner: role }]);
      });

      // Without the secret the task stops before anything else, naming the variable (exit 78).
      const missing = await entry([], parts).done;
      expect(missing.code).toBe(78);
      expect(JSON.stringify(missing.lines.at(-1))).toMatch(/CHANTAL_DATABASE_PASSWORD: is not set/);
    } finally {
      await tdb.drop();
      await admin("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a bad task input is a usage error (exit 2) reported as a JSON line", async () => {
    const r = await entry(["sync"]).done;
    expect(r.code).toBe(2);
    expect(r.lines.at(-1)).toMatchObject({ msg: "task failed" });
  });
});
