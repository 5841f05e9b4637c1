// SIGTERM and kill -9 in the middle of an APT sync: clean stop, nothing published, and the next run
// downloads only the .deb files that are not pooled yet.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateAptSuite } from "../fixtures/apt-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

// Downloads enter the pool a batch at a time (each recorder flush, every second at this speed: ~60 files), so the
// repository is large enough for two interrupted runs to leave packages to the third.
const COUNT = 300;
const METADATA_BLOBS = 3; // Release, Packages, Packages.gz
let upstream: string;
let env: SyncEnvironment | undefined;

afterAll(async () => {
  await env?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

describe("interrupted APT syncs", () => {
  it("SIGTERM stops cleanly, kill -9 leaves pooled blobs, and the next run downloads only the rest", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-aptup-"));
    await generateAptSuite(upstream, COUNT, 16_384, { dist: "slow" });
    env = await startSyncEnvironment({
      upstream,
      faults: (req) => (req.path.endsWith(".deb") ? { chunkBytes: 4096, chunkDelayMs: 15 } : undefined),
      repoYaml: (url) => `  - id: deb\n    type: apt\n    upstream_url: ${url}/\n    download_concurrency: 4\n    apt:\n      distribution: slow\n`,
    });
    const e = env;
    const debBlobs = () => e.poolFiles().length - METADATA_BLOBS;

    const first = e.spawn("repo", "sync", "--repo-id", "deb");
    await until("10 pooled .deb files", () => debBlobs() >= 10);
    first.child.kill("SIGTERM");
    expect((await first.result).code).toBe(143);
    expect(e.tempFiles()).toEqual([]);
    expect(existsSync(e.published("deb"))).toBe(false);

    const afterFirst = debBlobs();
    const second = e.spawn("repo", "sync", "--repo-id", "deb");
    await until("10 more pooled .deb files", () => debBlobs() >= afterFirst + 10);
    second.child.kill("SIGKILL");
    await second.result;
    const pooled = debBlobs();
    expect(pooled).toBeLessThan(COUNT);
    expect(existsSync(e.published("deb"))).toBe(false);

    const third = await e.cli("repo", "sync", "--repo-id", "deb", "--json");
    expect(third.code).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ status: "success", counts: { packages_total: COUNT, packages_downloaded: COUNT - pooled } });
    expect(debBlobs()).toBe(COUNT);
    expect(e.tempFiles()).toEqual([]);
    const runs = (await e.pg.query(`SELECT status, error FROM chantal.sync_runs ORDER BY id`)).rows;
    expect(runs.map((r) => r.status)).toEqual(["interrupted", "interrupted", "success"]);
    expect(runs[0].error).toMatch(/SIGTERM/);
  });
});
