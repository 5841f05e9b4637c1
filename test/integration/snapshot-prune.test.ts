// snapshots.retention through the real CLI: snapshot prune (--dry-run), published snapshots kept unless include_published,
// and the prune after a sync's snapshot; the pruned snapshots' trees are unpublished.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let upstream: string;
let env: SyncEnvironment;

function configure(retention: string): void {
  writeFileSync(
    join(env.configDir, "config.yaml"),
    `storage:\n  base_path: ${env.base}\ndatabase:\n  url: ${env.db.url}\nrepositories:\n  - id: r1\n    type: rpm\n    upstream_url: ${env.server.url}/\n    snapshots:\n      retention: ${retention}\n`,
  );
}

const names = async () => (await env.pg.query(`SELECT name FROM chantal.snapshots ORDER BY created_at DESC, id DESC`)).rows.map((r) => r.name as string);

async function create(name: string, ...extra: string[]) {
  const r = await env.cli("snapshot", "create", "--repo-id", "r1", "--name", name, ...extra);
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-prune-up-"));
  await generateRpmRepo(upstream, 3, 500);
  env = await startSyncEnvironment({ upstream });
  configure("{ keep_last: 2 }");
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await env?.close();
  rmSync(upstream, { recursive: true, force: true });
});

describe("snapshot prune", () => {
  it("--dry-run lists, the real run deletes beyond keep_last, and a published snapshot stays", async () => {
    for (const n of ["a1", "a2", "a3"]) await create(n);
    const dry = await env.cli("snapshot", "prune", "--dry-run", "--json");
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual([
      {
        repo_id: "r1",
        deleted: ["a1"],
        kept: [
          { name: "a3", reason: "keep_last" },
          { name: "a2", reason: "keep_last" },
        ],
      },
    ]);
    expect(await names()).toEqual(["a3", "a2", "a1"]);

    await create("p1", "--publish");
    // p1 (published) is the newest: kept by keep_last; a3 too; a2 and a1 go.
    const r = await env.cli("snapshot", "prune");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("r1: deleted 2 snapshot(s) (a2, a1), kept 2\n");
    expect(await names()).toEqual(["p1", "a3"]);

    await create("a4");
    await create("a5");
    const again = await env.cli("snapshot", "prune", "--repo-id", "r1");
    expect(again.stdout).toBe("r1: deleted 1 snapshot(s) (a3), kept 3; kept because published: p1 (retention.include_published: true prunes them too)\n");
    expect(await names()).toEqual(["a5", "a4", "p1"]);
  });

  it("runs after a sync's snapshot; include_published unpublishes and deletes the published ones beyond the retention", async () => {
    configure("{ keep_last: 1, include_published: true }");
    const r = await env.cli("repo", "sync", "--repo-id", "r1", "--snapshot", "s-{datetime}");
    expect(r.code, r.stderr).toBe(0);
    const left = await names();
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^s-/);
    expect(existsSync(env.published("r1", "snapshots/p1"))).toBe(false);
    expect(existsSync(join(env.published("r1", `snapshots/${left[0]}`), "repodata/repomd.xml"))).toBe(true);
    const gc = await env.cli("pool", "gc", "--protect-minutes", "0");
    expect(gc.code, gc.stderr).toBe(0);
    expect((await env.cli("pool", "verify", "--deep")).code).toBe(0);
  });

  it("without a retention, prune does nothing and says so", async () => {
    writeFileSync(
      join(env.configDir, "config.yaml"),
      `storage:\n  base_path: ${env.base}\ndatabase:\n  url: ${env.db.url}\nrepositories:\n  - id: r1\n    type: rpm\n    upstream_url: ${env.server.url}/\n`,
    );
    const r = await env.cli("snapshot", "prune");
    expect(r.stdout).toBe("no repository has a snapshots.retention: nothing to prune\n");
    expect(await names()).toHaveLength(1);
  });
});
