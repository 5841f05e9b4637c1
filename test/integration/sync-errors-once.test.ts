// A failing repo sync says its error once (no log line, error: line and summary repeating it), with the fix in it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { acquireLock, repositoryLockRequest } from "../../core/db/locks.js";
import { runCli } from "../helpers/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let env: SyncEnvironment | undefined;
let upstream: string | undefined;
afterAll(async () => {
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

/** How often `needle` occurs in the whole output. */
function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe("repo sync errors are printed once", () => {
  it("an RPM 404 on repomd.xml: one error: line that says to check upstream_url, exit 1", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 3, 1024);
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n  - id: gone\n    type: rpm\n    upstream_url: ${url}/nothere/\n`,
    });
    const r = await runCli(["--config-dir", env.configDir, "repo", "sync", "--repo-id", "gone"]);
    expect(r.code, r.stderr).toBe(1);
    const all = r.stdout + r.stderr;
    expect(r.stderr).toMatch(/^error: repository gone: no repodata\/repomd\.xml at http:\/\/127\.0\.0\.1:\d+\/nothere\/ \(HTTP 404; check upstream_url/m);
    expect(occurrences(all, "repomd.xml at")).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toMatch(/^gone: failed in [\d.]+ s — nothing downloaded$/m);
  });

  it("a lock held by another sync: one line naming the holder, exit 75", async () => {
    expect((await runCli(["--config-dir", env!.configDir, "repo", "sync", "--repo-id", "r1", "--no-publish"])).code).toBe(0);
    const id = (await env!.pg.query(`SELECT id FROM chantal.repositories WHERE repo_id = 'r1'`)).rows[0].id;
    const lock = await acquireLock(env!.db.url, repositoryLockRequest(id, "sync r1"));
    try {
      const r = await runCli(["--config-dir", env!.configDir, "repo", "sync", "--repo-id", "r1"]);
      expect(r.code, r.stderr).toBe(75);
      expect(occurrences(r.stdout + r.stderr, "is already being synced")).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      await lock.release();
    }
  });

  it("a refused configuration: its error: lines only, exit 78", async () => {
    writeFileSync(
      join(env!.configDir, "config.yaml"),
      `storage:\n  base_path: ${env!.base}\nrepositories:\n  - id: r1\n    type: rpm\n    upstream_url: http://127.0.0.1:1/\n    download_concurency: 4\n`,
    );
    const r = await runCli(["--config-dir", env!.configDir, "repo", "sync", "--repo-id", "r1"]);
    expect(r.code, r.stderr).toBe(78);
    expect(occurrences(r.stderr, "download_concurency")).toBe(1);
    expect(
      r.stderr
        .split("\n")
        .filter(Boolean)
        .every((l) => l.startsWith("error: ")),
    ).toBe(true);
    expect(r.stdout).toBe("");
  });
});
