// The real CLI syncing generated RPM repositories served on 127.0.0.1, against a real database.
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { acquireLock, repositoryLockRequest } from "../../core/db/locks.js";
import type { FaultPlan } from "../helpers/http-server.js";
import { startSyncEnvironment, listFiles, type SyncEnvironment } from "../helpers/sync-env.js";

const upstreams: string[] = [];
const envs: SyncEnvironment[] = [];
async function environment(count: number, opts: { faults?: FaultPlan } = {}) {
  const upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
  upstreams.push(upstream);
  await generateRpmRepo(upstream, count, 2_000);
  const env = await startSyncEnvironment({ upstream, ...opts });
  envs.push(env);
  return env;
}
afterEach(async () => {
  for (const e of envs.splice(0)) await e.close();
});
afterAll(() => {
  for (const u of upstreams) rmSync(u, { recursive: true, force: true });
});

async function repoState(env: SyncEnvironment) {
  const r = await env.pg.query(
    `SELECT rp.location FROM chantal.repository_packages rp JOIN chantal.repositories r ON r.id = rp.repository_id WHERE r.repo_id = 'r1' ORDER BY 1`,
  );
  return r.rows.map((x) => x.location as string);
}

async function runs(env: SyncEnvironment) {
  const r = await env.pg.query(
    `SELECT status, packages_total, packages_downloaded, packages_added, packages_removed, trigger, error FROM chantal.sync_runs ORDER BY id`,
  );
  return r.rows;
}

describe("repo sync (rpm)", () => {
  it("mirrors, publishes byte-identical metadata, re-syncs as a no-op, and follows upstream changes", async () => {
    const env = await environment(30);
    const first = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    const r1 = JSON.parse(first.stdout);
    expect(r1).toMatchObject({ status: "success", counts: { packages_total: 30, packages_downloaded: 30, packages_added: 30, packages_removed: 0 } });
    const latest = env.published("r1");
    expect(readFileSync(join(latest, "repodata/repomd.xml"))).toEqual(readFileSync(join(env.upstream, "repodata/repomd.xml")));
    expect(readFileSync(join(latest, "repodata/primary.xml.gz"))).toEqual(readFileSync(join(env.upstream, "repodata/primary.xml.gz")));
    const pkgs = listFiles(join(latest, "Packages"));
    expect(pkgs).toHaveLength(30);
    expect(readFileSync(pkgs[0]!)).toEqual(readFileSync(join(env.upstream, pkgs[0]!.slice(latest.length))));

    const second = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(JSON.parse(second.stdout)).toMatchObject({ status: "noop", counts: { packages_downloaded: 0 } });
    const packageRequests = env.server.requests.filter((r) => r.path.endsWith(".rpm")).length;
    expect(packageRequests).toBe(30);

    // upstream drops pkg000000-04 and adds pkg000030-34
    await generateRpmRepo(env.upstream, 30, 2_000, { first: 5 });
    const treeBefore = readlinkSync(latest);
    const third = await env.cli("repo", "sync", "--repo-id", "r1", "--json", "--log-level", "debug");
    // The 25 packages upstream kept are taken from the last parse's memo (core/rpm/primary-memo.ts), not parsed again.
    expect(third.stderr).toMatch(/repodata\/[^ ]*primary\.xml\.gz: 25 packages taken from the last parse/);
    expect(JSON.parse(third.stdout)).toMatchObject({
      status: "success",
      counts: { packages_total: 30, packages_downloaded: 5, packages_added: 5, packages_removed: 5 },
    });
    expect(readlinkSync(latest)).not.toBe(treeBefore);
    const state = await repoState(env);
    expect(state).toHaveLength(30);
    expect(state).not.toContain("Packages/0/pkg000000-1.0-1.noarch.rpm");
    expect(state).toContain("Packages/4/pkg000034-1.0-1.noarch.rpm");
    // blobs of removed packages stay in the pool for snapshots
    expect(env.poolFiles().length).toBeGreaterThanOrEqual(35);
    expect((await runs(env)).map((r) => r.status)).toEqual(["success", "noop", "success"]);
  });

  it("fails fast with exit 75 while another session holds the repository, and --wait waits", async () => {
    const env = await environment(3);
    await env.cli("repo", "sync", "--repo-id", "r1", "--no-publish");
    const id = (await env.pg.query(`SELECT id FROM chantal.repositories WHERE repo_id = 'r1'`)).rows[0].id;
    const lock = await acquireLock(env.db.url, repositoryLockRequest(id, "sync r1"));
    const busy = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(busy.code).toBe(75);
    expect(busy.stderr).toMatch(/repository r1 is already being synced by \S+ pid \d+ since \d{4}-/);
    setTimeout(() => void lock.release(), 1_500);
    const waited = await env.cli("repo", "sync", "--repo-id", "r1", "--wait", "30");
    expect(waited.code).toBe(0);
    expect((await runs(env)).map((r) => r.status)).toEqual(["success", "skipped-locked", "noop"]);
  });

  it("retries 503s and resets, and fails a checksum mismatch without touching the published tree or the database", async () => {
    const env = await environment(10, {
      faults: (req, nth) => {
        if (req.path.endsWith("pkg000001-1.0-1.noarch.rpm") && nth <= 2) return { status: 503, retryAfter: 0 };
        if (req.path.endsWith("pkg000002-1.0-1.noarch.rpm") && nth === 1) return { resetAfterBytes: 500 };
        if (req.path.endsWith("pkg000013-1.0-1.noarch.rpm")) return { corrupt: true, times: Infinity };
        return undefined;
      },
    });
    const ok = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).status).toBe("success");
    const before = await repoState(env);
    const tree = readlinkSync(env.published("r1"));
    await generateRpmRepo(env.upstream, 10, 2_000, { first: 4 });
    const bad = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/pkg000013-1\.0-1\.noarch/);
    expect(bad.stderr).toMatch(/checksum/i);
    expect(await repoState(env)).toEqual(before);
    expect(readlinkSync(env.published("r1"))).toBe(tree);
    expect(env.tempFiles()).toEqual([]);
    const last = (await runs(env)).at(-1);
    expect(last.status).toBe("failed");
    expect(last.error).toMatch(/pkg000013/);
  });

  it("names the package and URL on a 404", async () => {
    const env = await environment(5);
    rmSync(join(env.upstream, "Packages/3/pkg000003-1.0-1.noarch.rpm"));
    const r = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/404/);
    expect(r.stderr).toMatch(/pkg000003/);
    expect(r.stderr).toContain(`${env.server.url}/Packages/3/pkg000003-1.0-1.noarch.rpm`);
    expect(readdirSync(env.base)).not.toContain("published");
  });

  it("refuses a location that escapes the repository root", async () => {
    const env = await environment(2);
    const primaryPath = join(env.upstream, "repodata/primary.xml.gz");
    const { gunzipSync, gzipSync } = await import("node:zlib");
    const xml = gunzipSync(readFileSync(primaryPath)).toString().replace('href="Packages/1/pkg000001-1.0-1.noarch.rpm"', 'href="../../etc/passwd"');
    writeFileSync(primaryPath, gzipSync(xml));
    const { createHash } = await import("node:crypto");
    const sha = createHash("sha256").update(readFileSync(primaryPath)).digest("hex");
    const repomdPath = join(env.upstream, "repodata/repomd.xml");
    const repomd = readFileSync(repomdPath, "utf8")
      .replace(/(<data type="primary">\s*<checksum type="sha256">)[0-9a-f]+/, `$1${sha}`)
      .replace(/(<data type="primary">[\s\S]*?<size>)\d+/, `$1${readFileSync(primaryPath).length}`);
    writeFileSync(repomdPath, repomd);
    const r = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("../../etc/passwd");
    expect(env.server.requests.some((q) => q.path.includes("passwd"))).toBe(false);
  });
});
