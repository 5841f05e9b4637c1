// The container entry as the cloud runs it: a real process, argv or SST_EVENT, JSON logs on stdout, exit codes.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, readdirSync, existsSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { repoRoot } from "../helpers/cli.js";
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
    const result = r.lines.find((l) => l.msg === "sync success") as { result: { snapshot: string; counts: { packages_total: number } } };
    expect(result.result.counts.packages_total).toBe(40);
    expect(result.result.snapshot).toMatch(/^nightly-\d{8}$/);
    const run = (await env.pg.query(`SELECT status, trigger FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(run).toEqual({ status: "success", trigger: "cloud" });
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

  it("runs a backup from SST_EVENT, with the database from the linked SST resource", async () => {
    const u = new URL(env.db.url);
    const backups = join(env.base, "cloud-backups");
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(join(env.configDir, "conf.d/backup.yaml"), `backup:\n  dir: ${backups}\n`);
    const resource = JSON.stringify({
      host: u.hostname,
      port: Number(u.port),
      username: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: u.pathname.slice(1),
    });
    // the config's database.url points nowhere: the linked resource must win
    writeFileSync(join(env.configDir, "conf.d/db.yaml"), "");
    const r = await entry([], { SST_EVENT: JSON.stringify({ handler: "backup", trigger: "cloud" }), SST_RESOURCE_Database: resource }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.some((l) => l.msg === "backup success")).toBe(true);
    expect(readdirSync(backups).some((f) => f.endsWith(".tar.gz"))).toBe(true);
  });

  it("a bad task input is a usage error (exit 2) reported as a JSON line", async () => {
    const r = await entry(["sync"]).done;
    expect(r.code).toBe(2);
    expect(r.lines.at(-1)).toMatchObject({ msg: "task failed" });
  });
});
