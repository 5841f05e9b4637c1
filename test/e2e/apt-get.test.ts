// Real APT repositories (dpkg-deb, dpkg-source, dpkg-scanpackages, apt-ftparchive, gpg), synced through the
// CLI with signature verification, then read by the real apt-get: latest and a snapshot.
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateAptSuite, signAptSuite } from "../fixtures/apt-repo-generator.js";
import { APT_TOOLS, aptClient, buildDeb, buildSourcePackage, createGpgKey, writeAptRepo, type DebSpec, type GpgKey } from "../helpers/apt-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let scratch: string;
let upstream: string;
let key: GpgKey;
let env: SyncEnvironment;
const debs = new Map<string, string>();

const DIST = "stable";
const COMPONENTS = ["main", "contrib"];

async function add(spec: DebSpec): Promise<void> {
  debs.set(`${spec.name}=${spec.version}`, await buildDeb(upstream, { payloadBytes: 4000, ...spec }));
}

function remove(name: string, version: string): void {
  rmSync(join(upstream, debs.get(`${name}=${version}`)!));
}

function publish(): Promise<void> {
  return writeAptRepo(upstream, { dist: DIST, components: COMPONENTS, signer: key, byHash: true, sources: true });
}

async function apt(tree: string) {
  return aptClient(scratch, { uri: `file:${tree}`, dist: DIST, components: COMPONENTS, keyring: key.keyring, debSrc: true });
}

async function sync(): Promise<{ code: number | null; json: Record<string, unknown>; stderr: string }> {
  const r = await env.cli("repo", "sync", "--repo-id", "deb", "--json");
  return { code: r.code, json: r.stdout ? JSON.parse(r.stdout) : {}, stderr: r.stderr };
}

describeWithTools(APT_TOOLS, "APT mirror checked with apt-get", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-apt-"));
    upstream = join(scratch, "upstream");
    key = await createGpgKey(join(scratch, "keys"));
    await add({ name: "alpha", version: "1.0-1" });
    await add({ name: "beta", version: "1:2.0-1", arch: "amd64" });
    await add({ name: "gamma", version: "0.1" });
    await add({ name: "delta", version: "1.0+1-1" });
    await add({ name: "epsilon", version: "3.0-1", component: "contrib" });
    await buildSourcePackage(upstream, { name: "alpha", version: "1.0" });
    await publish();
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        [
          "  - id: deb",
          "    type: apt",
          `    upstream_url: ${url}/`,
          "    download_concurrency: 4",
          "    apt:",
          `      distribution: ${DIST}`,
          `      components: [${COMPONENTS.join(", ")}]`,
          "      architectures: [amd64]",
          "      include_sources: true",
          "    verify:",
          `      keyring: ${key.keyring}`,
          "",
        ].join("\n"),
    });
  }, 180_000);

  afterAll(async () => {
    await env?.close();
    await key?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("mirrors a signed suite byte for byte (InRelease, by-hash, sources), and apt-get updates, downloads and fetches sources from it", async () => {
    const first = await sync();
    expect(first.stderr).not.toMatch(/"level":(50|60)/);
    expect(first.code).toBe(0);
    // 5 .deb files + alpha's .dsc and .tar.xz
    expect(first.json).toMatchObject({ status: "success", counts: { packages_total: 7, packages_downloaded: 7, packages_added: 7, packages_removed: 0 } });
    const latest = env.published("deb");
    for (const f of ["InRelease", "Release", "Release.gpg", "main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz", "contrib/source/Sources.xz"]) {
      expect(readFileSync(join(latest, "dists", DIST, f))).toEqual(readFileSync(join(upstream, "dists", DIST, f)));
    }
    // by-hash copies for SHA256 and SHA512 (apt-ftparchive lists both), and no plain Packages (absent upstream too)
    expect(readdirSync(join(latest, "dists", DIST, "main/binary-amd64/by-hash/SHA512")).length).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(latest, "dists", DIST, "main/binary-amd64/Packages"))).toBe(false);

    const client = await apt(latest);
    await client.update();
    expect(await client.available()).toEqual(["alpha=1.0-1", "beta=1:2.0-1", "delta=1.0+1-1", "epsilon=3.0-1", "gamma=0.1"]);
    const got = await client.download(join(scratch, "dl1"), "beta", "epsilon");
    expect(got).toEqual(["beta_1%3a2.0-1_amd64.deb", "epsilon_3.0-1_all.deb"]);
    expect(readFileSync(join(scratch, "dl1", got[0]!))).toEqual(readFileSync(join(upstream, debs.get("beta=1:2.0-1")!)));
    expect(await client.source(join(scratch, "src1"), "alpha")).toEqual(["alpha_1.0.dsc", "alpha_1.0.tar.xz"]);

    // apt-get that insists on by-hash reads the mirror too
    const byHash = await apt(latest);
    await byHash.update("-o", "Acquire::By-Hash=force");
    expect(await byHash.available()).toContain("delta=1.0+1-1");
  });

  it("records an unchanged InRelease as a no-op without downloading anything", async () => {
    const debRequests = () => env.server.requests.filter((r) => r.path.endsWith(".deb")).length;
    const before = debRequests();
    const again = await sync();
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ status: "noop", counts: { packages_downloaded: 0 } });
    expect(debRequests()).toBe(before);
    expect(env.server.requests.filter((r) => r.path.includes("/by-hash/"))).not.toHaveLength(0);
  });

  it("follows an update that adds, removes and upgrades, while a snapshot keeps serving the old suite; diff in Debian order", async () => {
    expect((await env.cli("snapshot", "create", "--repo-id", "deb", "--name", "v1", "--publish")).code).toBe(0);
    remove("gamma", "0.1");
    remove("alpha", "1.0-1");
    remove("delta", "1.0+1-1");
    await add({ name: "alpha", version: "1.0-2" });
    // 1.0.1 sorts after 1.0+1 for dpkg ('.' > '+'); rpm would call them equal
    await add({ name: "delta", version: "1.0.1-1" });
    await add({ name: "zeta", version: "2:0.5-1", arch: "amd64" });
    await publish();

    const r = await sync();
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ status: "success", counts: { packages_total: 7, packages_downloaded: 3, packages_added: 3, packages_removed: 3 } });
    const latest = await apt(env.published("deb"));
    await latest.update();
    expect(await latest.available()).toEqual(["alpha=1.0-2", "beta=1:2.0-1", "delta=1.0.1-1", "epsilon=3.0-1", "zeta=2:0.5-1"]);

    const snapshot = await apt(env.published("deb", "snapshots/v1"));
    await snapshot.update();
    expect(await snapshot.available()).toEqual(["alpha=1.0-1", "beta=1:2.0-1", "delta=1.0+1-1", "epsilon=3.0-1", "gamma=0.1"]);
    expect(await snapshot.download(join(scratch, "dl2"), "gamma")).toEqual(["gamma_0.1_all.deb"]);

    expect((await env.cli("snapshot", "create", "--repo-id", "deb", "--name", "v2")).code).toBe(0);
    const diff = JSON.parse((await env.cli("snapshot", "diff", "--repo-id", "deb", "v1", "v2", "--json")).stdout);
    expect(diff.added.map((p: { name: string }) => p.name)).toEqual(["zeta"]);
    expect(diff.removed.map((p: { name: string }) => p.name)).toEqual(["gamma"]);
    expect(diff.updated.map((u: { name: string; direction: string }) => `${u.name}:${u.direction}`)).toEqual(["alpha:upgrade", "delta:upgrade"]);
  });

  it("verifies a generated suite signed by openpgp.js (the offline demo) and apt-get accepts the mirror", async () => {
    const demo = join(scratch, "demo");
    const suite = await generateAptSuite(demo, 5, 1000, { dist: "demo" });
    const signature = await signAptSuite(suite, join(scratch, "demo-keys"));
    const demoEnv = await startSyncEnvironment({
      upstream: demo,
      repoYaml: (url) =>
        `  - id: demo\n    type: apt\n    upstream_url: ${url}/\n    apt:\n      distribution: demo\n    verify:\n      keyring: ${signature.armored}\n`,
    });
    try {
      const r = await demoEnv.cli("repo", "sync", "--repo-id", "demo", "--json");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_total: 5 } });
      const client = await aptClient(scratch, { uri: `file:${demoEnv.published("demo")}`, dist: "demo", components: ["main"], keyring: signature.keyring });
      await client.update();
      expect(await client.available()).toEqual(["pkg000000=1.0-1", "pkg000001=1.0-1", "pkg000002=1.0-1", "pkg000003=1.0-1", "pkg000004=1.0-1"]);
    } finally {
      await demoEnv.close();
    }
  });
});
