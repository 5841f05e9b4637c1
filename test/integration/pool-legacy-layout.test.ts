// A pool made before 2026-12 (<aa>/<bb>/<sha256>) keeps its layout through the real CLI: a re-sync finds its blobs
// (nothing downloaded again), adds new ones beside them, verify and gc work on it, dnf reads what is published.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { dnfClient } from "../helpers/dnf.js";
import { describeWithTools } from "../helpers/tools.js";

let upstream: string;
let scratch: string;
let env: SyncEnvironment;

const pool = () => join(env.base, "pool");
/** Each pool file as its path below the pool: "<aa>/<sha256>" or "<aa>/<bb>/<sha256>". */
const poolLayoutOf = () => env.poolFiles().map((f) => relative(pool(), f));
const shaOf = async (name: string) => ((await env.pg.query(`SELECT sha256 FROM chantal.packages WHERE name = $1`, [name])).rows[0].sha256 as string).trim();

beforeAll(async () => {
  upstream = mkdtempSync(join(tmpdir(), "chantal-legacy-up-"));
  scratch = mkdtempSync(join(tmpdir(), "chantal-legacy-scratch-"));
  await generateRpmRepo(upstream, 6, 3_000, { first: 0 });
  env = await startSyncEnvironment({ upstream });
}, 120_000);

afterAll(async () => {
  await env?.close();
  rmSync(upstream, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

describe("a pool in the <aa>/<bb> layout", () => {
  it("a new pool is <aa>/<sha256>; one moved to <aa>/<bb>/<sha256> is re-synced without downloading its blobs again", async () => {
    const first = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(first.code, first.stderr).toBe(0);
    const files = poolLayoutOf();
    expect(files.length).toBeGreaterThan(6);
    for (const f of files) expect(f).toMatch(/^([0-9a-f]{2})\/\1[0-9a-f]{62}$/);

    expect(readFileSync(join(pool(), ".chantal-pool-layout"), "utf8")).toBe("aa\n");

    // As a pool made before: every blob one level down, and no layout file.
    rmSync(join(pool(), ".chantal-pool-layout"));
    for (const f of files) {
      const [aa, sha] = f.split("/") as [string, string];
      mkdirSync(join(pool(), aa, sha.slice(2, 4)), { recursive: true });
      renameSync(join(pool(), f), join(pool(), aa, sha.slice(2, 4), sha));
    }
    // Upstream drops pkg000000..2 and adds pkg000006..8.
    rmSync(upstream, { recursive: true, force: true });
    mkdirSync(upstream);
    await generateRpmRepo(upstream, 6, 3_000, { first: 3 });
    const before = env.server.requests.length;
    const again = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(again.code, again.stderr).toBe(0);
    const fetched = env.server.requests
      .slice(before)
      .filter((r) => r.path.endsWith(".rpm"))
      .map((r) => r.path.split("/").at(-1));
    expect(fetched.sort()).toEqual(["pkg000006-1.0-1.noarch.rpm", "pkg000007-1.0-1.noarch.rpm", "pkg000008-1.0-1.noarch.rpm"]);
    for (const f of poolLayoutOf()) expect(f).toMatch(/^([0-9a-f]{2})\/([0-9a-f]{2})\/\1\2[0-9a-f]{60}$/);
    expect(existsSync(join(pool(), ".chantal-pool-layout"))).toBe(false);
    const sha = await shaOf("pkg000007");
    expect(statSync(join(pool(), sha.slice(0, 2), sha.slice(2, 4), sha)).isFile()).toBe(true);
  }, 120_000);

  it("pool verify --deep checks it; pool gc removes the dropped blobs and their emptied <bb> directories", async () => {
    const verify = await env.cli("pool", "verify", "--deep");
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const dropped = await Promise.all(["pkg000000", "pkg000001", "pkg000002"].map(shaOf));
    const dirOf = (s: string) => join(pool(), s.slice(0, 2), s.slice(2, 4));
    // A <bb> that holds only a dropped blob is emptied by gc (a shared one stays, with its other blobs).
    const alone = dropped.filter((s) => readdirSync(dirOf(s)).length === 1);
    expect(alone.length).toBeGreaterThan(0);
    const gc = await env.cli("pool", "gc", "--json", "--protect-minutes", "0");
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout).rows.packages).toBe(3);
    for (const s of dropped) expect(existsSync(join(dirOf(s), s))).toBe(false);
    for (const s of alone) expect(existsSync(dirOf(s))).toBe(false);
    for (const s of alone) expect(existsSync(join(pool(), s.slice(0, 2)))).toBe(true);
    const kept = await shaOf("pkg000003");
    expect(existsSync(join(dirOf(kept), kept))).toBe(true);
    const after = await env.cli("pool", "verify", "--deep");
    expect(after.code, after.stdout + after.stderr).toBe(0);
  }, 120_000);
});

describeWithTools(["dnf"], "a pool in the <aa>/<bb> layout and dnf", () => {
  it("dnf reads the published latest", async () => {
    const { available } = dnfClient(scratch);
    expect(await available(`file://${env.published("r1")}/`)).toEqual(
      ["pkg000003", "pkg000004", "pkg000005", "pkg000006", "pkg000007", "pkg000008"].map((n) => `${n}-0:1.0-1.noarch`),
    );
  }, 120_000);
});
