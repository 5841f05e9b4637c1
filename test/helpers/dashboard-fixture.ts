// What the dashboard tests share: real syncs of generated repositories (one ok with two snapshots, one failing, one stale),
// a group promoted to an environment, a backup, and the daemon serving the listener on 127.0.0.1.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { freePort } from "../../core/free-port.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { spawnCli } from "./cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "./sync-env.js";
import { until } from "./wait.js";

/** A package name that is markup: the dashboard must show it as text (the rpm parser refuses whitespace in names, not '<'). */
export const XSS_NAME = "<svg/onload=alert(1)>";
/** A description (from the configuration) that is markup too. */
export const XSS_DESCRIPTION = "<img src=x onerror=alert(2)>";

export interface DashboardFixture {
  env: SyncEnvironment;
  /** Port nothing listens on: the upstream of "broken". */
  deadPort: number;
  close(): Promise<void>;
}

async function ok(env: SyncEnvironment, ...args: string[]): Promise<string> {
  const r = await env.cli(...args);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/**
 * good: synced twice (snapshots s1, s2; s2 upgrades pkg000001, drops pkg000000, adds pkg000003 and XSS_NAME), scheduled;
 * quick: synced once with max_age 1s (stale 1.5 s later); broken: its upstream server is down (failing).
 * Group el = [good, quick], snapshot G1 promoted to dev; one database backup.
 */
export async function setUpDashboard(): Promise<DashboardFixture> {
  const scratch = mkdtempSync(join(tmpdir(), "chantal-dashboard-"));
  const upstream = join(scratch, "up");
  await generateRpmRepo(join(upstream, "good"), 3, 512);
  await generateRpmRepo(join(upstream, "quick"), 2, 256, { seedName: "q" });
  const deadPort = await freePort();
  const env = await startSyncEnvironment({
    upstream,
    repoYaml: (url) =>
      `  - id: good\n    type: rpm\n    upstream_url: ${url}/good/\n    description: ${JSON.stringify(XSS_DESCRIPTION)}\n    schedule: { cron: "0 4 * * *", timezone: UTC }\n` +
      `  - id: quick\n    type: rpm\n    upstream_url: ${url}/quick/\n    freshness: { max_age: 1s, valid_until_warning: 1d }\n` +
      `  - id: broken\n    type: rpm\n    upstream_url: http://127.0.0.1:${deadPort}/repo/\n` +
      "groups:\n  - id: el\n    repositories: [good, quick]\nenvironments: [dev, prod]\nscheduler:\n  catch_up: false\n",
  });
  try {
    await ok(env, "repo", "sync", "--repo-id", "good", "--snapshot", "s1");
    rmSync(join(upstream, "good"), { recursive: true, force: true });
    await generateRpmRepo(join(upstream, "good"), 3, 512, { first: 1, version: "1.1", extraNames: [XSS_NAME] });
    await ok(env, "repo", "sync", "--repo-id", "good", "--snapshot", "s2");
    await ok(env, "repo", "sync", "--repo-id", "quick");
    expect((await env.cli("repo", "sync", "--repo-id", "broken")).code).not.toBe(0);
    await ok(env, "snapshot", "create", "--group", "el", "--name", "G1");
    await ok(env, "promote", "--group", "el", "--snapshot", "G1", "--to", "dev");
    await ok(env, "db", "backup");
    await new Promise((r) => setTimeout(r, 1_500)); // quick's max_age of 1 s passes
  } catch (err) {
    await env.close();
    throw err;
  }
  return {
    env,
    deadPort,
    async close() {
      await env.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

export interface Daemon {
  url: string;
  output(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** scheduler start --http 127.0.0.1:<free port>, once it answers (with these headers) on /style.css; extra YAML in conf.d/web.yaml. */
export async function startDaemon(env: SyncEnvironment, opts: { webYaml?: string; headers?: Record<string, string> } = {}): Promise<Daemon> {
  mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
  writeFileSync(join(env.configDir, "conf.d", "web.yaml"), opts.webYaml ?? "");
  const port = await freePort();
  const d = spawnCli(["--config-dir", env.configDir, "scheduler", "start", "--http", `127.0.0.1:${port}`], { timeoutMs: 600_000 });
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(
      "the daemon serves its listener",
      async () => {
        if (d.child.exitCode !== null) throw new Error(`the daemon exited: ${d.output()}`);
        const r = await fetch(`${url}/style.css`, { headers: opts.headers ?? {} }).catch(() => undefined);
        return r?.ok ? r : undefined;
      },
      90_000,
    );
  } catch (err) {
    d.child.kill("SIGTERM");
    await d.result;
    throw err;
  }
  return {
    url,
    output: d.output,
    async stop() {
      if (d.child.exitCode === null) d.child.kill("SIGTERM");
      return (await d.result).code;
    },
  };
}
