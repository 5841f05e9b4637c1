// The publish gate: a tree that a client would reject (a package missing from the pool, a signature that no longer
// verifies) is never published; the previous tree stays live and the run or command fails with the problems listed.
import { copyFileSync, mkdtempSync, readFileSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { APT_TOOLS, buildDeb, createGpgKey, writeAptRepo, type GpgKey } from "../helpers/apt-fixtures.js";
import { buildRpm, createRepo } from "../helpers/rpm-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const blobPath = (e: SyncEnvironment, sha: string) => join(e.base, "pool", sha.slice(0, 2), sha);

async function packageShas(e: SyncEnvironment, names: string[]): Promise<string[]> {
  const r = await e.pg.query(`SELECT sha256 FROM chantal.packages WHERE name = ANY($1) ORDER BY name`, [names]);
  return r.rows.map((row) => row.sha256 as string);
}

describe("publish gate (rpm)", () => {
  it("refuses to publish a tree whose packages are not all in the pool: first 20 problems and a count; latest stays; a sync that would publish it fails and records why", async () => {
    const upstream = mkdtempSync(join(tmpdir(), "chantal-gate-up-"));
    cleanups.push(() => rmSync(upstream, { recursive: true, force: true }));
    await generateRpmRepo(upstream, 30, 512);
    const env = await startSyncEnvironment({ upstream });
    cleanups.push(() => env.close());
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    const live = readlinkSync(env.published("r1"));

    // 25 packages lost from the pool (a disk error, a careless rm): the metadata lists files the tree would not have.
    const names = Array.from({ length: 25 }, (_, i) => `pkg${String(i + 1).padStart(6, "0")}`);
    for (const sha of await packageShas(env, names)) unlinkSync(blobPath(env, sha));
    const refused = await env.cli("publish", "repo", "--repo-id", "r1");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("repository r1: the tree for latest fails the client check (25 problems), so the published latest stays as it was:");
    expect(refused.stderr).toMatch(/pkg000001-1\.0-1\.noarch: \S+\.rpm is not in the pool \(blob [0-9a-f]{64}\)/);
    expect(refused.stderr).toContain("; and 5 more");
    expect(readlinkSync(env.published("r1"))).toBe(live);

    // The same through a sync: the set was committed without a publish, so the next run publishes, and the gate stops it.
    await env.pg.query(`UPDATE chantal.repositories SET published_checksum = NULL`);
    const sync = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(sync.code).toBe(1);
    expect(JSON.parse(sync.stdout)).toMatchObject({ status: "failed", error: expect.stringContaining("fails the client check (25 problems)") });
    const run = await env.pg.query(`SELECT status, error FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`);
    expect(run.rows[0]).toMatchObject({ status: "failed", error: expect.stringContaining("is not in the pool") });
    expect(readlinkSync(env.published("r1"))).toBe(live);

    // A full sync downloads them again, and the tree passes.
    expect((await env.cli("repo", "sync", "--repo-id", "r1", "--full")).code).toBe(0);
  });

  it("refuses a tree whose package's size the catalog records differently from what primary.xml says", async () => {
    const upstream = mkdtempSync(join(tmpdir(), "chantal-gate-size-"));
    cleanups.push(() => rmSync(upstream, { recursive: true, force: true }));
    await generateRpmRepo(upstream, 5, 512);
    const env = await startSyncEnvironment({ upstream });
    cleanups.push(() => env.close());
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    const live = readlinkSync(env.published("r1"));
    // The catalog's sizes (read with the tree, in one statement) are what the gate compares with primary.xml's.
    const [sha] = await packageShas(env, ["pkg000002"]);
    const { size } = (await env.pg.query(`UPDATE chantal.packages SET size = size + 1 WHERE sha256 = $1 RETURNING size`, [sha])).rows[0];
    const refused = await env.cli("publish", "repo", "--repo-id", "r1");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("fails the client check (1 problem)");
    expect(refused.stderr).toContain(`pkg000002-1.0-1.noarch: Packages/2/pkg000002-1.0-1.noarch.rpm is ${size} bytes, the metadata says ${Number(size) - 1}`);
    expect(readlinkSync(env.published("r1"))).toBe(live);
  });
});

describeWithTools(APT_TOOLS, "publish gate (apt)", () => {
  it("refuses to publish a suite whose signature no longer verifies with verify.keyring; publishes once the key is right", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "chantal-gate-apt-"));
    cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
    const upstream = join(scratch, "upstream");
    const key: GpgKey = await createGpgKey(join(scratch, "key"));
    const other: GpgKey = await createGpgKey(join(scratch, "other"), { name: "Other" });
    cleanups.push(
      () => key.dispose(),
      () => other.dispose(),
    );
    await buildDeb(upstream, { name: "alpha", version: "1.0-1" });
    await writeAptRepo(upstream, { dist: "stable", signer: key });
    const keyringFile = join(scratch, "trusted.gpg");
    copyFileSync(key.keyring, keyringFile);
    const env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        `  - id: deb\n    type: apt\n    upstream_url: ${url}/\n    apt:\n      distribution: stable\n    verify:\n      keyring: ${keyringFile}\n`,
    });
    cleanups.push(() => env.close());
    expect((await env.cli("repo", "sync", "--repo-id", "deb", "--no-publish")).code).toBe(0);

    // The configured key changes before the publish (a key rotation half done): clients with that key would refuse the tree.
    copyFileSync(other.keyring, keyringFile);
    const refused = await env.cli("publish", "repo", "--repo-id", "deb");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /the tree for latest fails the client check \(2 problems\).*dists\/stable\/InRelease is not validly signed by a key of .*dists\/stable\/Release is not validly signed/,
    );

    copyFileSync(key.keyring, keyringFile);
    expect((await env.cli("publish", "repo", "--repo-id", "deb")).code).toBe(0);
    expect(readlinkSync(env.published("deb"))).toMatch(/latest/);
  });
});

describeWithTools(["rpmbuild", "createrepo_c"], "publish gate: closure (rpm)", () => {
  it("with publish.gate: closure, an upstream whose package needs what nothing provides is not published; the dependency repository satisfies it", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "chantal-gate-closure-"));
    cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
    const app = join(scratch, "up", "app");
    const base = join(scratch, "up", "base");
    await buildRpm({ dir: app, name: "tool", version: "1.0", release: "1", arch: "noarch", requires: ["libthing >= 2", "/usr/bin/helper"] });
    await buildRpm({ dir: app, name: "other", version: "1.0", release: "1", arch: "noarch" });
    await createRepo(app);
    await buildRpm({ dir: base, name: "libthing", version: "2.1", release: "1", arch: "noarch", files: ["/usr/bin/helper"] });
    await createRepo(base);
    const repos = (url: string, deps: string) =>
      `  - id: app\n    type: rpm\n    upstream_url: ${url}/app/\n    publish: { gate: closure }\n${deps}` +
      `  - id: base\n    type: rpm\n    upstream_url: ${url}/base/\n`;
    const env = await startSyncEnvironment({ upstream: join(scratch, "up"), repoYaml: (url) => repos(url, "") });
    cleanups.push(() => env.close());
    const refused = await env.cli("repo", "sync", "--repo-id", "app", "--json");
    expect(refused.code).toBe(1);
    const error = JSON.parse(refused.stdout).error as string;
    expect(error).toContain("the tree for latest fails the client check (2 problems)");
    expect(error).toContain("tool-1.0-1.noarch needs libthing >= 2, which nothing in the tree (nor filter.dependency_repositories) provides");
    expect(error).toContain("tool-1.0-1.noarch needs /usr/bin/helper");
    expect(() => readlinkSync(env.published("app"))).toThrow();

    // The same upstream, with the base repository named as the one that satisfies its dependencies (an inactive filter: verbatim).
    expect((await env.cli("repo", "sync", "--repo-id", "base")).code).toBe(0);
    writeFileSync(
      join(env.configDir, "config.yaml"),
      readConfig(env).replace("    publish: { gate: closure }\n", "    publish: { gate: closure }\n    filter: { dependency_repositories: [base] }\n"),
    );
    expect((await env.cli("publish", "repo", "--repo-id", "app")).code).toBe(0);
  });
});

function readConfig(env: SyncEnvironment): string {
  return readFileSync(join(env.configDir, "config.yaml"), "utf8");
}
