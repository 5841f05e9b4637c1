// pool gc in a loop while syncs of a changing upstream, snapshot creation, snapshot deletion and publishes run:
// every command either succeeds or is refused by a lock (exit 75), never fails on a missing blob; afterwards every
// snapshot republishes from the pool, `pool verify --deep` is clean and dnf reads every published tree.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { dnfClient } from "../helpers/dnf.js";
import { hasTool } from "../helpers/tools.js";
import type { CliResult } from "../helpers/cli.js";

const ROUNDS = 4;
let upstream: string;
let scratch: string;
let env: SyncEnvironment;

afterAll(async () => {
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run until it is not refused by a lock (75): gc holds the maintenance lock for moments only. */
async function untilNotLocked(...args: string[]): Promise<CliResult> {
  for (let i = 0; ; i++) {
    const r = await env.cli(...args);
    if (r.code !== 75 || i >= 60) return r;
    await pause(150);
  }
}

function expectOk(r: CliResult, what: string): void {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
}

describe("pool gc under concurrency", () => {
  it("never deletes a live blob while syncs, snapshots and publishes run", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-gcc-up-"));
    scratch = mkdtempSync(join(tmpdir(), "chantal-gcc-"));
    await generateRpmRepo(upstream, 6, 3_000, { first: 0 });
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n  - id: r2\n    type: rpm\n    upstream_url: ${url}/\n`,
    });
    expectOk(await env.cli("repo", "sync", "--all"), "first sync");

    let stop = false;
    const gcRuns: { code: number; freed: number; stderr: string }[] = [];
    const gcLoop = (async () => {
      while (!stop) {
        const r = await env.cli("pool", "gc", "--json", "--protect-minutes", "0");
        gcRuns.push({ code: r.code ?? -1, freed: r.code === 0 ? JSON.parse(r.stdout).freed.blobs : 0, stderr: r.stderr });
        await pause(100);
      }
    })();
    try {
      for (let i = 1; i <= ROUNDS; i++) {
        // Upstream drops two packages and adds two (between rounds: a sync never reads a half-written upstream).
        rmSync(upstream, { recursive: true, force: true });
        mkdirSync(upstream);
        await generateRpmRepo(upstream, 6, 3_000, { first: 2 * i });
        await Promise.all([
          untilNotLocked("repo", "sync", "--repo-id", "r1", "--snapshot", `r1-${i}`).then((r) => expectOk(r, `sync r1 round ${i}`)),
          (async () => {
            expectOk(await untilNotLocked("repo", "sync", "--repo-id", "r2", "--no-publish"), `sync r2 round ${i}`);
            expectOk(await untilNotLocked("snapshot", "create", "--repo-id", "r2", "--name", `r2-${i}`, "--publish"), `snapshot r2 round ${i}`);
            expectOk(await untilNotLocked("publish", "repo", "--repo-id", "r2"), `publish r2 round ${i}`);
            // The snapshot before last goes: its dropped packages become orphans for the gc loop.
            if (i >= 3) expectOk(await untilNotLocked("snapshot", "delete", "--repo-id", "r2", "--name", `r2-${i - 2}`, "--force"), `delete r2-${i - 2}`);
          })(),
        ]);
      }
    } finally {
      stop = true;
      await gcLoop;
    }
    // gc ran throughout and really deleted; a refusal is only ever the lock's.
    expect(gcRuns.filter((r) => r.code === 0).length).toBeGreaterThan(ROUNDS);
    expect(gcRuns.reduce((n, r) => n + r.freed, 0)).toBeGreaterThan(0);
    for (const r of gcRuns) expect([0, 75], r.stderr).toContain(r.code);

    const verify = await env.cli("pool", "verify", "--deep");
    expect(verify.code, verify.stdout).toBe(0);
    const snapshots = (
      await env.pg.query(`SELECT r.repo_id, s.name FROM chantal.snapshots s JOIN chantal.repositories r ON r.id = s.repository_id ORDER BY 1, 2`)
    ).rows as { repo_id: string; name: string }[];
    expect(snapshots.map((s) => s.name)).toEqual([...Array.from({ length: ROUNDS }, (_, k) => `r1-${k + 1}`), `r2-${ROUNDS - 1}`, `r2-${ROUNDS}`]);
    // Every snapshot's blobs are still in the pool: publishing it again reads each one.
    for (const s of snapshots) expectOk(await env.cli("publish", "snapshot", "--repo-id", s.repo_id, "--name", s.name), `republish ${s.repo_id}/${s.name}`);
    if (!hasTool("dnf")) {
      if (process.env.CHANTAL_REQUIRE_TOOLS) throw new Error("dnf is missing");
      console.warn("dnf is not installed: published trees not read by dnf");
      return;
    }
    const { available } = dnfClient(scratch);
    for (const s of snapshots) {
      const names = (
        await env.pg.query(
          `SELECT p.name FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id JOIN chantal.snapshots s ON s.id = sp.snapshot_id
           JOIN chantal.repositories r ON r.id = s.repository_id WHERE r.repo_id = $1 AND s.name = $2 ORDER BY 1`,
          [s.repo_id, s.name],
        )
      ).rows.map((r) => `${r.name}-0:1.0-1.noarch`);
      expect(names).toHaveLength(6);
      expect(await available(`file://${env.published(s.repo_id, `snapshots/${s.name}`)}/`)).toEqual(names);
    }
    const latest = Array.from({ length: 6 }, (_, k) => `pkg${String(2 * ROUNDS + k).padStart(6, "0")}-0:1.0-1.noarch`);
    for (const id of ["r1", "r2"]) expect(await available(`file://${env.published(id)}/`)).toEqual(latest);
  }, 400_000);
});
