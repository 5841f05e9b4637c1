// `repo sync --dry-run` through the real CLI on a real RPM repository: it reports the plan and touches nothing.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildRpm, createRepo } from "../helpers/rpm-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

describeWithTools(["rpmbuild", "createrepo_c"], "repo sync --dry-run", () => {
  let env: SyncEnvironment;
  let upstream: string;
  let rpmShas: string[];
  const nevras = ["alpha-1.0-1.noarch", "beta-2:2.5-3.noarch", "gamma-0.1-1.noarch"];

  beforeAll(async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    const paths = [
      await buildRpm({ dir: join(upstream, "Packages"), name: "alpha", version: "1.0", release: "1", payloadBytes: 2000 }),
      await buildRpm({ dir: join(upstream, "Packages"), name: "beta", version: "2.5", release: "3", epoch: 2, payloadBytes: 3000 }),
      await buildRpm({ dir: join(upstream, "Packages"), name: "gamma", version: "0.1", release: "1", payloadBytes: 4000 }),
    ];
    rpmShas = paths.map((p) => createHash("sha256").update(readFileSync(p)).digest("hex"));
    await createRepo(upstream);
    env = await startSyncEnvironment({ upstream });
  }, 120_000);
  afterAll(async () => {
    await env?.close();
    rmSync(upstream, { recursive: true, force: true });
  });

  const pooledRpms = () => env.poolFiles().filter((f) => rpmShas.includes(basename(f)));
  const runCount = async () => Number((await env.pg.query(`SELECT count(*) AS n FROM chantal.sync_runs`)).rows[0].n);

  it("prints the plan, downloads no package, records no run and publishes nothing", async () => {
    const r = await env.cli("repo", "sync", "r1", "--dry-run");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^r1: dry run — nothing downloaded, recorded or published$/m);
    expect(r.stdout).toMatch(/^ {2}upstream packages: +3$/m);
    expect(r.stdout).toMatch(/^ {2}kept: +3 \([\d.]+ KB\)$/m);
    expect(r.stdout).toMatch(/^ {2}dropped: +0$/m);
    expect(r.stdout).toMatch(/^ {2}added by dependencies: +0$/m);
    expect(r.stdout).toMatch(/^ {2}to download: +3 \([\d.]+ KB\)$/m);
    // Without --verbose, no names.
    expect(r.stdout).not.toContain("alpha");
    expect(r.stdout).not.toContain("client configuration");
    expect(pooledRpms()).toEqual([]);
    expect(await runCount()).toBe(0);
    expect(existsSync(env.published("r1"))).toBe(false);
    const row = (await env.pg.query(`SELECT index_checksum FROM chantal.repositories WHERE repo_id = 'r1'`)).rows[0];
    expect(row?.index_checksum ?? null).toBeNull();
  });

  it("--verbose lists the kept, dropped and to-download names", async () => {
    const r = await env.cli("--verbose", "repo", "sync", "r1", "--dry-run");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`  kept (3):\n${nevras.map((n) => `    ${n}\n`).join("")}`);
    expect(r.stdout).toContain("  dropped (0):\n    (none)\n");
    expect(r.stdout).toContain(`  to download (3):\n${nevras.map((n) => `    ${n}\n`).join("")}`);
    // Given after the verb, the global flag works too.
    const after = await env.cli("repo", "sync", "r1", "--dry-run", "--verbose");
    expect(after.stdout).toContain("  to download (3):\n");
    expect(pooledRpms()).toEqual([]);
  });

  it("--json prints the plan in snake_case", async () => {
    const r = await env.cli("repo", "sync", "r1", "--dry-run", "--json");
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as { status: string; run_id: number | null; plan: Record<string, unknown> };
    expect(json.status).toBe("dry-run");
    expect(json.run_id).toBeNull();
    expect(json.plan).toMatchObject({ packages_upstream: 3, kept: 3, dropped: 0, added_by_dependencies: 0, to_download: 3 });
    expect(json.plan).not.toHaveProperty("keptNames");
    expect(json.plan.kept_names).toEqual(nevras);
    expect(json.plan.download_names).toEqual(nevras);
    expect(json.plan.bytes_to_download).toBe(json.plan.bytes_kept);
    expect(json.plan.bytes_kept as number).toBeGreaterThan(9000);
    expect(await runCount()).toBe(0);
  });

  it("refuses --snapshot and --force with exit 2, before anything runs", async () => {
    for (const extra of [["--snapshot"], ["--snapshot", "x-{date}"], ["--force"]]) {
      const r = await env.cli("repo", "sync", "r1", "--dry-run", ...extra);
      expect(r.code, `${extra.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/--dry-run/);
    }
    // --no-publish agrees with a dry run.
    expect((await env.cli("repo", "sync", "r1", "--dry-run", "--no-publish")).code).toBe(0);
    expect(await runCount()).toBe(0);
  });

  it("after a real sync, a dry run has nothing to download, even over an unchanged index", async () => {
    const real = await env.cli("repo", "sync", "r1");
    expect(real.code, real.stderr).toBe(0);
    expect(pooledRpms().length).toBe(3);
    expect(await runCount()).toBe(1);
    const r = await env.cli("repo", "sync", "r1", "--dry-run");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}kept: +3 /m);
    expect(r.stdout).toMatch(/^ {2}to download: +0 \(0 bytes\)$/m);
    expect(await runCount()).toBe(1);
  });

  it("--help says what a dry run touches and shows it in Examples", async () => {
    const r = await env.cli("repo", "sync", "--help");
    expect(r.stdout).toContain("--dry-run");
    expect(r.stdout.replace(/\s+/g, " ")).toContain("fetched metadata may be cached in the content-addressed pool");
    expect(r.stdout).toMatch(/Examples:[\s\S]*repo sync \S+ --dry-run --verbose/);
  });
});
