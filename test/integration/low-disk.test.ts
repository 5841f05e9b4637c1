// Low disk: a sync that would not fit fails before downloading; ENOSPC mid-run (a small tmpfs this test mounts, as root)
// leaves no partial blob and no missing record, and the next run after space is freed succeeds.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import type { RecordedRequest } from "../helpers/http-server.js";

const isRoot = process.getuid?.() === 0;
const mounts: string[] = [];
let env: SyncEnvironment | undefined;
let upstream: string | undefined;

function mountTmpfs(sizeKb: number): string {
  const dir = mkdtempSync(join(tmpdir(), "chantal-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKb}k,mode=0755`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

afterEach(async () => {
  await env?.close();
  env = undefined;
  if (upstream) rmSync(upstream, { recursive: true, force: true });
  for (const m of mounts.splice(0)) {
    execFileSync("umount", [m]);
    rmSync(m, { recursive: true, force: true });
  }
});

async function setUp(packages: number, bytes: number, poolKb: number, reserveMb: number, faults?: (req: RecordedRequest) => void) {
  upstream = mkdtempSync(join(tmpdir(), "chantal-lowdisk-up-"));
  await generateRpmRepo(upstream, packages, bytes);
  const pool = mountTmpfs(poolKb);
  env = await startSyncEnvironment({
    upstream,
    ...(faults
      ? {
          faults: (req: RecordedRequest) => {
            faults(req);
            return undefined;
          },
        }
      : {}),
  });
  writeFileSync(
    join(env.configDir, "config.yaml"),
    `storage:\n  base_path: ${env.base}\n  pool_path: ${pool}\n  free_space_reserve_mb: ${reserveMb}\ndatabase:\n  url: ${env.db.url}\n` +
      `repositories:\n  - id: r1\n    type: rpm\n    upstream_url: ${env.server.url}/\n    download_concurrency: 2\n`,
  );
  return pool;
}

const packageBlobs = (pool: string) =>
  execFileSync("find", [pool, "-path", `${pool}/.tmp`, "-prune", "-o", "-type", "f", "-size", "+100k", "-print"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);

const describeAsRoot = isRoot || process.env.CHANTAL_REQUIRE_TOOLS === "1" ? describe : describe.skip;
if (!isRoot) console.warn("SKIPPED low-disk tests: mounting a tmpfs needs root");

describeAsRoot("low disk", () => {
  it("fails before downloading when the packages would not fit, naming the sizes; nothing is downloaded", async () => {
    expect(isRoot, "mounting a tmpfs needs root (CI runs these tests as root)").toBe(true);
    const pool = await setUp(8, 400_000, 2048, 0);
    const r = await env!.cli("repo", "sync", "--repo-id", "r1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`not enough free space in ${pool}: this sync downloads 3\\.1 MiB, the filesystem has [\\d.]+ MiB free: free [\\d.]+ MiB`),
    );
    expect(packageBlobs(pool)).toEqual([]);
    const requests = env!.server.requests.filter((q) => q.path.endsWith(".rpm"));
    expect(requests).toEqual([]);
  });

  it("counts storage.free_space_reserve_mb", async () => {
    const pool = await setUp(4, 400_000, 4096, 3);
    const r = await env!.cli("repo", "sync", "--repo-id", "r1");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("and storage.free_space_reserve_mb keeps 3.0 MiB of it");
    expect(packageBlobs(pool)).toEqual([]);
  });

  it("ENOSPC mid-run: no partial blob, nothing recorded missing; after space is freed the next sync succeeds", async () => {
    let filler: string | undefined;
    const pool = await setUp(8, 300_000, 3072, 0, (req) => {
      // The disk fills up (someone else's file) once the sync has passed its free-space check and is downloading.
      if (!filler && req.path.endsWith("pkg000003-1.0-1.noarch.rpm")) {
        filler = join(pool, "filler");
        try {
          execFileSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=64k", "count=1000"], { stdio: "ignore" });
        } catch {
          /* dd stops at ENOSPC: the disk is full now */
        }
      }
    });
    const r = await env!.cli("repo", "sync", "--repo-id", "r1");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the filesystem of ${pool} is full (ENOSPC): the sync stopped`);
    // No partial file anywhere in the pool or its temp area.
    expect(execFileSync("find", [join(pool, ".tmp"), "-name", "*.part"], { encoding: "utf8" }).trim()).toBe("");
    // Every package row the run recorded has its whole blob; the repository's current set is still empty.
    const rows = (await env!.pg.query(`SELECT sha256, size FROM chantal.packages`)).rows;
    const verify = await env!.cli("pool", "verify");
    expect(verify.code, verify.stdout).toBe(0);
    expect(rows.length).toBeLessThan(8);
    expect((await env!.pg.query(`SELECT count(*)::int AS n FROM chantal.repository_packages`)).rows[0].n).toBe(0);
    const run = (await env!.pg.query(`SELECT status, error FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(run.status).toBe("failed");
    expect(run.error).toContain("ENOSPC");

    rmSync(filler!);
    const again = await env!.cli("repo", "sync", "--repo-id", "r1");
    expect(again.code, again.stderr).toBe(0);
    expect((await env!.pg.query(`SELECT count(*)::int AS n FROM chantal.repository_packages`)).rows[0].n).toBe(8);
    expect(packageBlobs(pool)).toHaveLength(8);
    expect((await env!.cli("pool", "verify", "--deep")).code).toBe(0);
  });
});
