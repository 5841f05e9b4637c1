// Real RPM repositories (rpmbuild + createrepo_c), synced through the CLI, then read by the real dnf.
import { mkdtempSync, readFileSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildRpm, createRepo } from "../helpers/rpm-fixtures.js";
import { dnfClient } from "../helpers/dnf.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let upstream: string;
let scratch: string;
let env: SyncEnvironment;
const built = new Map<string, string>();

const client = () => dnfClient(scratch);
const dnf = (tree: string, ...args: string[]) => client().dnf(`file://${tree}`, ...args);
const available = (tree: string) => client().available(`file://${tree}`);

async function add(subdir: string, name: string, version: string, epoch?: number): Promise<void> {
  const path = await buildRpm({ dir: join(upstream, subdir), name, version, release: "1", ...(epoch !== undefined ? { epoch } : {}), payloadBytes: 3000 });
  built.set(`${name}-${version}`, path);
}

describeWithTools(["rpmbuild", "createrepo_c", "dnf"], "RPM mirror checked with dnf", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-dnf-"));
    upstream = join(scratch, "upstream");
    await add("Packages/a", "alpha", "1.0");
    await add("Packages/b", "beta", "2.0", 1);
    await add(".", "gamma", "0.1");
    await add("sub/deep", "delta", "1.0");
    await createRepo(upstream, { checksum: "sha512", compress: "xz" });
    env = await startSyncEnvironment({ upstream });
  }, 180_000);

  afterAll(async () => {
    await env?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("syncs a sha512/xz repository with packages in subfolders, and dnf installs from the mirror", async () => {
    const r = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_total: 4, packages_downloaded: 4, packages_added: 4 } });
    const latest = env.published("r1");
    expect(readdirSync(join(latest, "repodata")).some((f) => f.endsWith("primary.xml.xz"))).toBe(true);
    expect(readFileSync(join(latest, "repodata/repomd.xml"))).toEqual(readFileSync(join(upstream, "repodata/repomd.xml")));
    expect(await available(latest)).toEqual(["alpha-0:1.0-1.noarch", "beta-1:2.0-1.noarch", "delta-0:1.0-1.noarch", "gamma-0:0.1-1.noarch"]);
    const dest = mkdtempSync(join(scratch, "dl-"));
    await dnf(latest, "download", "--destdir", dest, "delta");
    expect(readFileSync(join(dest, "delta-1.0-1.noarch.rpm"))).toEqual(readFileSync(built.get("delta-1.0")!));
  });

  it("follows an update (zstd metadata) that adds, removes and upgrades, while a snapshot keeps the old state", async () => {
    expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "v1", "--publish")).code).toBe(0);
    rmSync(built.get("gamma-0.1")!);
    rmSync(built.get("alpha-1.0")!);
    await add("Packages/a", "alpha", "1.1");
    await add("Packages/e", "epsilon", "3.0");
    rmSync(join(upstream, "repodata"), { recursive: true, force: true });
    await createRepo(upstream, { checksum: "sha256", compress: "zstd" });

    const r = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: "success",
      counts: { packages_total: 4, packages_downloaded: 2, packages_added: 2, packages_removed: 2 },
    });
    expect(await available(env.published("r1"))).toEqual(["alpha-0:1.1-1.noarch", "beta-1:2.0-1.noarch", "delta-0:1.0-1.noarch", "epsilon-0:3.0-1.noarch"]);

    const snapshot = env.published("r1", "snapshots/v1");
    expect(await available(snapshot)).toEqual(["alpha-0:1.0-1.noarch", "beta-1:2.0-1.noarch", "delta-0:1.0-1.noarch", "gamma-0:0.1-1.noarch"]);
    const dest = mkdtempSync(join(scratch, "dl-"));
    await dnf(snapshot, "download", "--destdir", dest, "gamma");
    expect(readdirSync(dest)).toEqual(["gamma-0.1-1.noarch.rpm"]);

    expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "v2")).code).toBe(0);
    const diff = JSON.parse((await env.cli("snapshot", "diff", "--repo-id", "r1", "v1", "v2", "--json")).stdout);
    expect(diff.added.map((p: { name: string }) => p.name)).toEqual(["epsilon"]);
    expect(diff.removed.map((p: { name: string }) => p.name)).toEqual(["gamma"]);
    expect(diff.updated.map((u: { name: string; direction: string }) => `${u.name}:${u.direction}`)).toEqual(["alpha:upgrade"]);
  });
});
