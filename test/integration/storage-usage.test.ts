// storage usage through the real CLI: two repositories of one upstream (shared blobs), a snapshot that keeps dropped
// packages, a stray blob that pool gc would free; cross-checked against the pool's files and a per-row count in JS.
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let upstream: string;
let env: SyncEnvironment;

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-usage-up-"));
  await generateRpmRepo(upstream, 3, 2_000);
  env = await startSyncEnvironment({
    upstream,
    repoYaml: (url) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n  - id: r2\n    type: rpm\n    upstream_url: ${url}/\n`,
  });
  expect((await env.cli("repo", "sync", "--all")).code).toBe(0);
  expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "s1")).code).toBe(0);
  rmSync(upstream, { recursive: true, force: true });
  mkdirSync(upstream);
  await generateRpmRepo(upstream, 3, 2_000, { first: 1 });
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
}, 180_000);

afterAll(async () => {
  await env?.close();
  rmSync(upstream, { recursive: true, force: true });
});

interface Ref {
  repo: string;
  blob: string;
  size: number;
  current: boolean;
}

/** Every (repository, blob) reference with its size, read row by row. */
async function references(): Promise<Ref[]> {
  const r = await env.pg.query(`
    SELECT r.repo_id AS repo, 'p' || rp.package_id AS blob, p.size, true AS current FROM chantal.repository_packages rp JOIN chantal.packages p ON p.id = rp.package_id JOIN chantal.repositories r ON r.id = rp.repository_id
    UNION ALL SELECT r.repo_id, 'p' || sp.package_id, p.size, false FROM chantal.snapshot_packages sp JOIN chantal.packages p ON p.id = sp.package_id JOIN chantal.snapshots s ON s.id = sp.snapshot_id JOIN chantal.repositories r ON r.id = s.repository_id
    UNION ALL SELECT r.repo_id, 'm' || rm.metadata_file_id, m.size, true FROM chantal.repository_metadata rm JOIN chantal.metadata_files m ON m.id = rm.metadata_file_id JOIN chantal.repositories r ON r.id = rm.repository_id
    UNION ALL SELECT r.repo_id, 'm' || sm.metadata_file_id, m.size, false FROM chantal.snapshot_metadata sm JOIN chantal.metadata_files m ON m.id = sm.metadata_file_id JOIN chantal.snapshots s ON s.id = sm.snapshot_id JOIN chantal.repositories r ON r.id = s.repository_id`);
  return r.rows.map((row) => ({ repo: row.repo, blob: row.blob, size: Number(row.size), current: row.current }));
}

function expected(refs: Ref[], repo: string) {
  const mine = refs.filter((r) => r.repo === repo);
  const size = new Map(mine.map((r) => [r.blob, r.size]));
  const current = new Set(mine.filter((r) => r.current).map((r) => r.blob));
  const all = new Set(mine.map((r) => r.blob));
  const others = new Set(refs.filter((r) => r.repo !== repo).map((r) => r.blob));
  const sum = (s: Iterable<string>) => {
    const list = [...s];
    return { blobs: list.length, bytes: list.reduce((n, b) => n + size.get(b)!, 0) };
  };
  return {
    repo_id: repo,
    current: sum(current),
    snapshots_only: sum([...all].filter((b) => !current.has(b))),
    shared: sum([...all].filter((b) => others.has(b))),
    total: sum(all),
  };
}

describe("storage usage", () => {
  it("reports each repository's current, snapshot-only and shared bytes, the pool, its free space and what gc would free", async () => {
    const stray = "0a".repeat(32);
    mkdirSync(join(env.base, "pool", "0a"), { recursive: true });
    writeFileSync(join(env.base, "pool", "0a", stray), "x".repeat(123));
    const old = new Date(Date.now() - 3 * 3_600_000);
    utimesSync(join(env.base, "pool", "0a", stray), old, old);

    const r = await env.cli("storage", "usage", "--json");
    expect(r.code, r.stderr).toBe(0);
    const u = JSON.parse(r.stdout);
    const refs = await references();
    expect(u.repositories).toEqual([expected(refs, "r1"), expected(refs, "r2")]);
    // r1's snapshot keeps pkg000000 (2,000 bytes), which r2 still has: shared, and snapshot-only for r1.
    expect(u.repositories[0].snapshots_only.bytes).toBeGreaterThanOrEqual(2_000);
    expect(u.repositories[0].shared.bytes).toBeGreaterThanOrEqual(3 * 2_000);
    const files = env.poolFiles();
    expect(u.pool).toMatchObject({ blobs: files.length, bytes: files.reduce((n, f) => n + statSync(f).size, 0), location: join(env.base, "pool") });
    expect(u.referenced.blobs).toBe(files.length - 1);
    expect(u.reclaimable).toEqual({ blobs: 1, bytes: 123 });
    expect(u.free_bytes).toBeGreaterThan(0);

    const one = await env.cli("storage", "usage", "--repo-id", "r2");
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^REPOSITORY +CURRENT +SNAPSHOTS ONLY +SHARED +TOTAL\n/);
    expect(one.stdout).toMatch(/\nr2 +[\d.]+ kB +0 B +[\d.]+ kB +[\d.]+ kB\n/);
    expect(one.stdout).not.toMatch(/\nr1 /);
    expect(one.stdout).toContain("pool gc would free 123 B in 1 blobs");
  });
});
