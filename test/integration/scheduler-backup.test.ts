// backup.schedule runs the backup handler from the real scheduler daemon (test clock: no wall-clock waiting).
import { mkdtempSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { SchedulerDaemons } from "../helpers/scheduler-daemon.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

let env: SyncEnvironment | undefined;
let upstream: string | undefined;
const daemons = new SchedulerDaemons();
afterAll(async () => {
  await daemons.killAll();
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

describe("scheduled database backup", () => {
  it("runs at its cron time in its zone, writes a verified archive, and shows in scheduler list", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 3, 512);
    env = await startSyncEnvironment({ upstream });
    const backups = join(env.base, "nightly");
    const { writeFileSync } = await import("node:fs");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(
      join(env.configDir, "conf.d/backup.yaml"),
      `backup:\n  dir: ${backups}\n  include_config: true\n  schedule:\n    cron: "30 3 * * *"\n    timezone: Europe/Berlin\n`,
    );
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);

    const list = JSON.parse((await env.cli("scheduler", "list", "--json")).stdout) as {
      repository: string;
      schedule: string | null;
      timezone: string | null;
    }[];
    expect(list.find((r) => r.repository === "(database backup)")).toMatchObject({ schedule: "30 3 * * *", timezone: "Europe/Berlin" });

    // 03:29:57 in Berlin (CET, UTC+1): the backup is due three seconds later.
    const daemon = daemons.start(env.configDir, { start: "2026-01-15T02:29:57Z" });
    const archive = await until(
      "the scheduled backup",
      () => existsSync(backups) && readdirSync(backups).find((f) => /^chantal-backup-\d{8}-\d{6}\.tar\.gz$/.test(f)),
    );
    const done = await until("the run's log line", () =>
      daemon
        .output()
        .split("\n")
        .find((l) => l.includes('"job":"backup"') && l.includes('"status"') && l.includes("scheduled run")),
    );
    expect(JSON.parse(done)).toMatchObject({ status: "success" });
    daemon.child.kill("SIGTERM");
    expect((await daemon.result).code).toBe(0);

    const verify = await env.cli("db", "backup-verify", join(backups, archive));
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const state = (await env.pg.query(`SELECT last_status, last_started_at FROM chantal.schedule_state WHERE job_key = 'backup'`)).rows[0];
    expect(state.last_status).toBe("success");
    expect(state.last_started_at.toISOString() >= "2026-01-15T02:30:00.000Z").toBe(true);
  });
});
