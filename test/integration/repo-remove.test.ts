// repo remove and publish remove through the real CLI, after real syncs from a server on 127.0.0.1.
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startLockHolder } from "../helpers/lock-holder-process.js";
import { listFiles, startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let upstream: string;
let env: SyncEnvironment;
let poolBefore: string[];

const repo = (id: string, extra = "") => `  - id: ${id}\n    type: rpm\n    upstream_url: ${env.server.url}/\n${extra}`;

/** Rewrite config.yaml with these repositories (the database and base path stay). */
function configure(...repos: string[]): void {
  writeFileSync(join(env.configDir, "config.yaml"), `storage:\n  base_path: ${env.base}\ndatabase:\n  url: ${env.db.url}\nrepositories:\n${repos.join("")}`);
}

async function rowId(repoId: string): Promise<number | undefined> {
  return (await env.pg.query(`SELECT id FROM chantal.repositories WHERE repo_id = $1`, [repoId])).rows[0]?.id;
}

/** Rows left for a repository id in each table that holds its state. */
async function stateCounts(id: number): Promise<Record<string, number>> {
  const r = await env.pg.query(
    `SELECT (SELECT count(*) FROM chantal.repositories WHERE id = $1)::int AS repositories,
            (SELECT count(*) FROM chantal.repository_packages WHERE repository_id = $1)::int AS repository_packages,
            (SELECT count(*) FROM chantal.repository_metadata WHERE repository_id = $1)::int AS repository_metadata,
            (SELECT count(*) FROM chantal.sync_runs WHERE repository_id = $1)::int AS sync_runs,
            (SELECT count(*) FROM chantal.snapshots WHERE repository_id = $1)::int AS snapshots`,
    [id],
  );
  return r.rows[0];
}

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-remove-up-"));
  await generateRpmRepo(upstream, 5, 1_000);
  env = await startSyncEnvironment({ upstream });
  configure(repo("r1"), repo("r2"), repo("r3"), repo("off", `    enabled: false\n`));
  const all = await env.cli("repo", "sync", "--all");
  expect(all.code, all.stderr).toBe(0);
  // The disabled repository is not synced by --all.
  expect(all.stdout).toMatch(/^r3\s+success/m);
  expect(all.stdout).not.toMatch(/^off\s/m);
  for (const [id, name] of [
    ["r1", "s1"],
    ["r2", "k1"],
    ["r2", "k2"],
    ["r3", "s3"],
  ]) {
    const s = await env.cli("snapshot", "create", "--repo-id", id!, "--name", name!, "--publish");
    expect(s.code, s.stderr).toBe(0);
  }
  poolBefore = env.poolFiles().sort();
  expect(poolBefore.length).toBeGreaterThan(5);
}, 240_000);

afterAll(async () => {
  await env?.close();
  rmSync(upstream, { recursive: true, force: true });
});

/** Every file under the repository's .trees/ belongs to a tree one of these names (under published/<repo>/) resolves to, or is its manifest. */
function treesOnlyOf(repo: string, names: string[]): boolean {
  const trees = names.map((n) => realpathSync(env.published(repo, n)));
  return listFiles(join(env.base, "published", repo, ".trees")).every((f) => trees.some((t) => f.startsWith(`${t}/`) || f === `${t}.manifest`));
}

describe("repo remove", () => {
  it("refuses a repository that is still in the configuration (exit 2, naming the file) and changes nothing", async () => {
    const r = await env.cli("repo", "remove", "--repo-id", "r1");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `repository r1 is still in the configuration (${join(env.configDir, "config.yaml")}, repositories[0]): delete it from that file first`,
    );
    expect(existsSync(join(env.published("r1"), "repodata/repomd.xml"))).toBe(true);
    expect((await stateCounts((await rowId("r1"))!)).repository_packages).toBe(5);
  });

  it("refuses while another process holds the repository lock (exit 75), then removes everything once it is free", async () => {
    configure(repo("r2"), repo("r3"), repo("off", `    enabled: false\n`));
    const id = (await rowId("r1"))!;
    const holder = await startLockHolder(env.db.url, id, "sync r1 elsewhere");
    try {
      const locked = await env.cli("repo", "remove", "--repo-id", "r1");
      expect(locked.code).toBe(75);
      expect(locked.stderr).toMatch(/repository r1 is locked by .* \(sync r1 elsewhere\): try again/);
      expect(existsSync(join(env.published("r1"), "repodata/repomd.xml"))).toBe(true);
    } finally {
      await holder.release();
    }
    expect(await stateCounts(id)).toMatchObject({ repositories: 1, sync_runs: 1, snapshots: 1 });
    // Its sync left the parse memo of its primary.xml (core/rpm/primary-memo.ts) beside r2's.
    const memo = (repoId: string) => join(env.base, "cache", "primary", `${repoId}.json`);
    expect(existsSync(memo("r1"))).toBe(true);

    const r = await env.cli("repo", "remove", "--repo-id", "r1", "--json");
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ repo_id: "r1", kept_snapshots: [], deleted: { package_links: 5, runs: 1, snapshots: 1, repository: true } });
    expect(result.unpublished.sort()).toEqual(["latest", "snapshots/s1"]);
    // Nothing of r1 is published any more, not even its trees; the pool keeps every blob.
    expect(existsSync(join(env.base, "published", "r1"))).toBe(false);
    expect(env.poolFiles().sort()).toEqual(poolBefore);
    expect(await stateCounts(id)).toEqual({ repositories: 0, repository_packages: 0, repository_metadata: 0, sync_runs: 0, snapshots: 0 });
    const list = JSON.parse((await env.cli("repo", "list", "--json")).stdout) as { id: string }[];
    expect(list.map((x) => x.id)).not.toContain("r1");
    // The other repositories are untouched; the memo went with r1.
    expect(existsSync(join(env.published("r2"), "repodata/repomd.xml"))).toBe(true);
    expect(existsSync(memo("r1"))).toBe(false);
    expect(existsSync(memo("r2"))).toBe(true);

    const again = await env.cli("repo", "remove", "--repo-id", "r1");
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`the database knows no repository "r1"`);
  });

  it("--keep-snapshots unpublishes latest only and keeps the snapshots, their trees and the row; a later remove takes the rest", async () => {
    configure(repo("r3"), repo("off", `    enabled: false\n`));
    const id = (await rowId("r2"))!;
    const r = await env.cli("repo", "remove", "--repo-id", "r2", "--keep-snapshots");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/removed repository r2: unpublished latest; deleted 5 package links, \d+ metadata links, 1 run, 0 snapshots\n/);
    expect(r.stdout).toContain("kept 2 snapshots (k2, k1)");
    expect(existsSync(env.published("r2"))).toBe(false);
    const snapRepomd = join(env.published("r2", "snapshots/k1"), "repodata/repomd.xml");
    expect(readFileSync(snapRepomd)).toEqual(readFileSync(join(upstream, "repodata/repomd.xml")));
    expect(existsSync(join(env.published("r2", "snapshots/k2"), "repodata/repomd.xml"))).toBe(true);
    // Only the trees of the snapshots are left under the repository's directory.
    expect(treesOnlyOf("r2", ["snapshots/k1", "snapshots/k2"])).toBe(true);
    expect(await stateCounts(id)).toEqual({ repositories: 1, repository_packages: 0, repository_metadata: 0, sync_runs: 0, snapshots: 2 });
    const row = (await env.pg.query(`SELECT index_checksum, published_checksum FROM chantal.repositories WHERE id = $1`, [id])).rows[0];
    expect(row).toEqual({ index_checksum: null, published_checksum: null });

    // A kept snapshot can be deleted on its own although its repository is no longer configured.
    const one = await env.cli("snapshot", "delete", "--repo-id", "r2", "--name", "k2", "--force");
    expect(one.code, one.stderr).toBe(0);
    expect(existsSync(env.published("r2", "snapshots/k2"))).toBe(false);
    expect(readFileSync(snapRepomd)).toEqual(readFileSync(join(upstream, "repodata/repomd.xml")));
    expect((await stateCounts(id)).snapshots).toBe(1);

    const rest = await env.cli("repo", "remove", "--repo-id", "r2");
    expect(rest.code, rest.stderr).toBe(0);
    expect(existsSync(join(env.base, "published", "r2"))).toBe(false);
    expect(await stateCounts(id)).toEqual({ repositories: 0, repository_packages: 0, repository_metadata: 0, sync_runs: 0, snapshots: 0 });
    expect(env.poolFiles().sort()).toEqual(poolBefore);
  });
});

describe("publish remove", () => {
  it("unpublishes latest, then one snapshot, of a configured repository, without touching the database", async () => {
    const id = (await rowId("r3"))!;
    const before = await stateCounts(id);
    const checksums = (await env.pg.query(`SELECT index_checksum, published_checksum FROM chantal.repositories WHERE id = $1`, [id])).rows[0];
    const latestRepomd = join(env.published("r3"), "repodata/repomd.xml");
    const snapRepomd = join(env.published("r3", "snapshots/s3"), "repodata/repomd.xml");

    const latest = await env.cli("publish", "remove", "--repo-id", "r3");
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stdout).toBe("unpublished latest of r3\n");
    expect(existsSync(env.published("r3"))).toBe(false);
    expect(existsSync(snapRepomd)).toBe(true);
    expect(treesOnlyOf("r3", ["snapshots/s3"])).toBe(true);
    expect(await stateCounts(id)).toEqual(before);
    expect((await env.pg.query(`SELECT index_checksum, published_checksum FROM chantal.repositories WHERE id = $1`, [id])).rows[0]).toEqual(checksums);

    const missing = await env.cli("publish", "remove", "--repo-id", "r3");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("repository r3 has nothing published as latest");

    expect((await env.cli("publish", "repo", "--repo-id", "r3")).code).toBe(0);
    expect(existsSync(latestRepomd)).toBe(true);
    const s3Tree = realpathSync(env.published("r3", "snapshots/s3"));
    const snap = await env.cli("publish", "remove", "--repo-id", "r3", "--snapshot", "s3");
    expect(snap.code, snap.stderr).toBe(0);
    expect(existsSync(env.published("r3", "snapshots/s3"))).toBe(false);
    expect(existsSync(join(env.base, "published", "r3", "snapshots"))).toBe(false);
    expect(existsSync(latestRepomd)).toBe(true);
    // s3's tree is gone, unless latest (the same package set) shares it.
    expect(existsSync(s3Tree)).toBe(realpathSync(env.published("r3")) === s3Tree);
    expect((await stateCounts(id)).snapshots).toBe(1);
    expect(env.poolFiles().sort()).toEqual(poolBefore);

    const bad = await env.cli("publish", "remove", "--repo-id", "r3", "--snapshot", "../latest");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/snapshot name "..\/latest" must be/);
    expect(existsSync(latestRepomd)).toBe(true);
  });

  it("refuses while the repository is locked (exit 75) and leaves the tree published", async () => {
    const holder = await startLockHolder(env.db.url, (await rowId("r3"))!, "sync r1 elsewhere");
    try {
      const r = await env.cli("publish", "remove", "--repo-id", "r3");
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(/repository r3 is locked by/);
      expect(existsSync(join(env.published("r3"), "repodata/repomd.xml"))).toBe(true);
    } finally {
      await holder.release();
    }
  });
});
