// snapshot create/list/diff/delete and publish, and repo sync --all, through the real CLI.
import { mkdtempSync, readFileSync, rmSync, existsSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let env: SyncEnvironment;
let upstream: string;
afterAll(async () => {
  await env?.close();
  rmSync(upstream, { recursive: true, force: true });
});

describe("snapshots", () => {
  it("freeze, list, diff, publish and delete", async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    await generateRpmRepo(upstream, 6, 1_000);
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n  - id: broken\n    type: rpm\n    upstream_url: ${url}/nothing-here/\n`,
    });
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    const a = await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "before", "--publish");
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/created snapshot before of r1: 6 packages/);
    const snapRepomd = join(env.published("r1", "snapshots/before"), "repodata/repomd.xml");
    const repomdV1 = readFileSync(join(upstream, "repodata/repomd.xml"));
    expect(readFileSync(snapRepomd)).toEqual(repomdV1);

    // upstream: pkg000000 removed, pkg000006 added, pkg000001..5 upgraded to 1.1
    await generateRpmRepo(upstream, 6, 1_000, { first: 1, version: "1.1" });
    const synced = await env.cli("repo", "sync", "--repo-id", "r1", "--snapshot", "after-{date}", "--json");
    expect(synced.code).toBe(0);
    const after = JSON.parse(synced.stdout).snapshot as string;
    expect(after).toMatch(/^after-\d{8}$/);
    // the snapshot tree stays frozen while latest moves on
    expect(readFileSync(snapRepomd)).toEqual(repomdV1);
    expect(readFileSync(join(env.published("r1"), "repodata/repomd.xml"))).not.toEqual(repomdV1);

    const list = JSON.parse((await env.cli("snapshot", "list", "--repo-id", "r1", "--json")).stdout);
    expect(list.map((s: { name: string }) => s.name).sort()).toEqual([after, "before"].sort());

    const diff = JSON.parse((await env.cli("snapshot", "diff", "--repo-id", "r1", "before", after, "--json")).stdout);
    expect(diff.added.map((p: { name: string }) => p.name)).toEqual(["pkg000006"]);
    expect(diff.removed.map((p: { name: string }) => p.name)).toEqual(["pkg000000"]);
    expect(diff.updated).toHaveLength(5);
    expect(diff.updated[0]).toMatchObject({ name: "pkg000001", direction: "upgrade", from: { version: "1.0" }, to: { version: "1.1" } });
    const text = await env.cli("snapshot", "diff", "--repo-id", "r1", "before", after);
    expect(text.stdout).toMatch(/\+ pkg000006\.noarch 1\.1-1/);
    expect(text.stdout).toMatch(/- pkg000000\.noarch 1\.0-1/);
    expect(text.stdout).toMatch(/1 added, 1 removed, 5 updated/);

    // the same name again gets a suffix rather than touching the existing snapshot
    const again = JSON.parse((await env.cli("repo", "sync", "--repo-id", "r1", "--snapshot", "after-{date}", "--json")).stdout);
    expect(again.snapshot).toBe(`${after}-2`);

    const refused = await env.cli("snapshot", "delete", "--repo-id", "r1", "--name", "before");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is published .* --force/);
    expect(existsSync(env.published("r1", "snapshots/before"))).toBe(true);
    const forced = await env.cli("snapshot", "delete", "--repo-id", "r1", "--name", "before", "--force");
    expect(forced.code).toBe(0);
    expect(existsSync(env.published("r1", "snapshots/before"))).toBe(false);
    expect(readlinkSync(env.published("r1"))).toMatch(/^\.trees\//);
    const missing = await env.cli("snapshot", "diff", "--repo-id", "r1", "before", after);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no snapshot named "before"/);
  });

  it("repo sync --all goes on past a failing repository and exits 1 with a summary", async () => {
    const r = await env.cli("repo", "sync", "--all");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^REPOSITORY\s+STATUS/m);
    expect(r.stdout).toMatch(/^r1\s+noop/m);
    expect(r.stdout).toMatch(/^broken\s+failed.*404/m);
  });

  it("prints JSON progress lines when stderr is not a terminal", async () => {
    await generateRpmRepo(upstream, 3, 1_000, { first: 20 });
    const r = await env.spawn("repo", "sync", "--repo-id", "r1").result;
    expect(r.code).toBe(0);
    const lines = r.stderr
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === "download progress" && l.progress.files === l.progress.files_total)).toBe(true);
  });
});
