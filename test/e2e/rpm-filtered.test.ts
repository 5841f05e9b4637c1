// A curated RPM mirror (filter:) of a real repository (rpmbuild, createrepo_c, modifyrepo_c), synced through the CLI
// and read by the real dnf: only the kept packages, regenerated metadata that lists exactly them, modules and advisories.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildRpm, createRepo, run, type RpmSpec } from "../helpers/rpm-fixtures.js";
import { dnfClient } from "../helpers/dnf.js";
import { listFiles, startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";
import { parseRepomd } from "../../core/rpm/repomd.js";

let scratch: string;
let upstream: string;
let env: SyncEnvironment;

const client = () => dnfClient(scratch);
const dnf = (tree: string, ...args: string[]) => client().dnf(`file://${tree}`, ...args);
const available = (tree: string) => client().available(`file://${tree}`);

type Pkg = Omit<RpmSpec, "dir" | "release">;
const PACKAGES: Pkg[] = [
  { name: "alpha", version: "1.0", requires: ["beta"] },
  { name: "alpha", version: "1.1", requires: ["beta >= 2.0"] },
  { name: "beta", version: "1.0", requires: ["/usr/bin/chantal-c"] },
  { name: "beta", version: "2.0", requires: ["/usr/bin/chantal-c"] },
  { name: "gamma", version: "1.0", files: ["/usr/bin/chantal-c"] },
  { name: "gamma", version: "1.1", files: ["/usr/bin/chantal-c"] },
  { name: "delta", version: "1.0", requires: ["virtual-e"] },
  // A file only filelists lists (primary lists /usr/bin and /etc files only).
  { name: "epsilon", version: "1.0", provides: ["virtual-e"], requires: ["/usr/share/chantal-test/gamma/payload"] },
  { name: "zeta", version: "1.0" },
  { name: "zeta", version: "2.0" },
];

const UPDATEINFO = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="test@example.com" status="stable" type="security" version="1">
    <id>ADV-1</id>
    <title>alpha &amp; zeta fix</title>
    <issued date="2026-01-01 00:00:00"/>
    <description><![CDATA[Fixes <things> & more]]></description>
    <pkglist>
      <collection short="c">
        <name>c</name>
        <package name="alpha" version="1.1" release="1" epoch="0" arch="noarch" src="alpha-1.1-1.src.rpm">
          <filename>alpha-1.1-1.noarch.rpm</filename>
        </package>
        <package name="zeta" version="1.0" release="1" epoch="0" arch="noarch" src="zeta-1.0-1.src.rpm">
          <filename>zeta-1.0-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
  <update from="test@example.com" status="stable" type="bugfix" version="1">
    <id>ADV-2</id>
    <title>zeta only</title>
    <issued date="2026-01-02 00:00:00"/>
    <pkglist>
      <collection short="c">
        <name>c</name>
        <package name="zeta" version="2.0" release="1" epoch="0" arch="noarch" src="zeta-2.0-1.src.rpm">
          <filename>zeta-2.0-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
`;

const stream = (name: string, rpms: string[]) => `---
document: modulemd
version: 2
data:
  name: ${name}
  stream: "1"
  version: 1
  context: c0ffee42
  arch: noarch
  summary: ${name} module
  description: >-
    The ${name} module.
  license:
    module:
    - MIT
  profiles:
    default:
      rpms:
      - ${rpms[0]!.replace(/-0:.*/, "")}
  artifacts:
    rpms:
${rpms.map((r) => `    - ${r}`).join("\n")}
...
`;
const defaults = (name: string) => `---
document: modulemd-defaults
version: 1
data:
  module: ${name}
  stream: "1"
  profiles:
    "1": [default]
...
`;
const MODULES = stream("mymod", ["gamma-0:1.1-1.noarch"]) + defaults("mymod") + stream("othermod", ["zeta-0:2.0-1.noarch"]) + defaults("othermod");

/** The dependency closure (core/filter/closure.ts) is built by other work; these tests wait for it. */

const COMPS = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>chantal-tools</id>
    <name>Chantal tools</name>
    <description>Test group</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="mandatory">alpha</packagereq>
    </packagelist>
  </group>
</comps>
`;

const repoYaml = (filter: string) => (url: string) => `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n    filter:\n${filter}`;
const FILTER = "      include: [alpha, beta, gamma, delta, epsilon, zeta]\n      exclude: [zeta]\n      retain_versions: 1\n      sources: false\n";

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function rpmsIn(tree: string): string[] {
  return listFiles(tree)
    .filter((f) => f.endsWith(".rpm"))
    .map((f) => f.split("/").pop()!)
    .sort();
}

function repodata(tree: string): Map<string, Buffer> {
  return new Map(readdirSync(join(tree, "repodata")).map((f) => [f, readFileSync(join(tree, "repodata", f))]));
}

function dataFile(tree: string, type: string): Buffer {
  const repomd = parseRepomd(readFileSync(join(tree, "repodata/repomd.xml")));
  const d = repomd.data.find((x) => x.type === type);
  if (!d) throw new Error(`no ${type} in ${tree}`);
  const bytes = readFileSync(join(tree, d.location));
  return d.location.endsWith(".gz") ? gunzipSync(bytes) : bytes;
}

describeWithTools(["rpmbuild", "createrepo_c", "modifyrepo_c", "dnf"], "curated RPM mirror checked with dnf", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-filtered-"));
    upstream = join(scratch, "upstream");
    for (const p of PACKAGES) await buildRpm({ ...p, dir: join(upstream, "Packages"), release: "1", payloadBytes: 500 });
    // A source package, which sources: false leaves out.
    await buildRpm({ name: "alpha", version: "1.1", dir: join(upstream, "SRPMS"), release: "1", source: true });
    await createRepo(upstream, { compress: "gz" });
    writeFileSync(join(scratch, "updateinfo.xml"), UPDATEINFO);
    writeFileSync(join(scratch, "modules.yaml"), MODULES);
    writeFileSync(join(scratch, "comps.xml"), COMPS);
    await run("modifyrepo_c", ["--mdtype=group", join(scratch, "comps.xml"), join(upstream, "repodata")]);
    await run("modifyrepo_c", ["--mdtype=updateinfo", join(scratch, "updateinfo.xml"), join(upstream, "repodata")]);
    await run("modifyrepo_c", ["--mdtype=modules", join(scratch, "modules.yaml"), join(upstream, "repodata")]);
    env = await startSyncEnvironment({ upstream, repoYaml: repoYaml(FILTER) });
  }, 300_000);

  afterAll(async () => {
    await env?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const KEPT = ["alpha-1.1-1.noarch.rpm", "beta-2.0-1.noarch.rpm", "delta-1.0-1.noarch.rpm", "epsilon-1.0-1.noarch.rpm", "gamma-1.1-1.noarch.rpm"];

  it("publishes only the kept packages, with regenerated metadata that lists exactly them", async () => {
    const r = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(r.code).toBe(0);
    // No signing key in this configuration: published unsigned, and said so.
    expect(r.stderr).toContain("unsigned regenerated metadata");
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_total: 5, packages_downloaded: 5, packages_added: 5 } });
    const tree = env.published("r1");
    expect(listFiles(upstream).some((f) => f.endsWith(".src.rpm"))).toBe(true);
    expect(rpmsIn(tree)).toEqual(KEPT);

    // repomd.xml: every data file's checksum, size and open-size are those of the published bytes.
    const repomd = parseRepomd(readFileSync(join(tree, "repodata/repomd.xml")));
    expect(repomd.data.map((d) => d.type).sort()).toEqual(["filelists", "group", "modules", "other", "primary", "updateinfo"]);
    // comps is kept as upstream wrote it.
    expect(dataFile(tree, "group")).toEqual(readFileSync(join(scratch, "comps.xml")));
    for (const d of repomd.data) {
      const path = join(tree, d.location);
      expect(d.location).toMatch(new RegExp(`^repodata/${d.checksum.value}-`));
      expect(sha256(path)).toBe(d.checksum.value);
      expect(d.size).toBe(readFileSync(path).length);
      expect(d.openSize).toBe(gunzipSync(readFileSync(path)).length);
    }
    const upstreamRepomd = parseRepomd(readFileSync(join(upstream, "repodata/repomd.xml")));
    expect(repomd.revision).toBe(upstreamRepomd.revision);

    for (const type of ["primary", "filelists", "other"]) {
      const xml = dataFile(tree, type).toString("utf8");
      expect(xml).toMatch(/packages="5"/);
      expect([...xml.matchAll(/<package /g)].length).toBe(5);
      expect(xml).not.toMatch(/zeta/);
    }
    expect(await available(tree)).toEqual([
      "alpha-0:1.1-1.noarch",
      "beta-0:2.0-1.noarch",
      "delta-0:1.0-1.noarch",
      "epsilon-0:1.0-1.noarch",
      "gamma-0:1.1-1.noarch",
    ]);
  });

  it("keeps only the kept packages of each advisory, and drops an advisory left with none", async () => {
    const tree = env.published("r1");
    const xml = dataFile(tree, "updateinfo").toString("utf8");
    expect(xml).toContain("<id>ADV-1</id>");
    expect(xml).toContain("<title>alpha &amp; zeta fix</title>");
    expect(xml).toContain("<![CDATA[Fixes <things> & more]]>");
    expect(xml).toContain('<package name="alpha"');
    expect(xml).not.toContain("zeta-1.0");
    expect(xml).not.toContain("ADV-2");
    // dnf loads the advisories and groups with the rest of the metadata.
    await dnf(tree, "makecache");
    expect(await dnf(tree, "group", "list", "--hidden")).toContain("Chantal tools");
  });

  it("keeps the module stream whose packages are kept, and its defaults; dnf lists it", async () => {
    const tree = env.published("r1");
    const yaml = dataFile(tree, "modules").toString("utf8");
    expect(yaml).toContain("name: mymod");
    expect(yaml).toContain("module: mymod");
    expect(yaml).not.toContain("othermod");
    const list = await dnf(tree, "module", "list");
    expect(list).toMatch(/mymod\s+1 \[d\]/);
    expect(list).not.toContain("othermod");
  });

  it("is closed: dnf repoclosure finds nothing missing, and dnf resolves an install from it", async () => {
    const tree = env.published("r1");
    expect(await dnf(tree, "repoclosure", "--check", "mirror")).toBe("");
    const dest = mkdtempSync(join(scratch, "dl-"));
    const root = mkdtempSync(join(scratch, "root-"));
    await dnf(tree, "install", "--downloadonly", "--destdir", dest, "--installroot", root, "--setopt=module_platform_id=platform:el9", "alpha", "delta");
    expect(readdirSync(dest).sort()).toEqual(KEPT);
  });

  it("re-runs as a no-op, and a full re-read writes the same bytes", async () => {
    const tree = env.published("r1");
    const before = repodata(tree);
    const r = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "noop" });
    const full = await env.cli("repo", "sync", "--repo-id", "r1", "--full", "--json");
    expect(full.code).toBe(0);
    expect(repodata(env.published("r1"))).toEqual(before);
  });

  it("re-plans when the filter changes", async () => {
    const config = join(env.configDir, "config.yaml");
    writeFileSync(config, readFileSync(config, "utf8").replace("retain_versions: 1", "retain_versions: 2"));
    const before = repodata(env.published("r1"));
    const dry = await env.cli("repo", "sync", "--repo-id", "r1", "--dry-run", "--json");
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ status: "dry-run", plan: { packages_upstream: 11, kept: 8, dropped: 3, to_download: 3 } });
    expect(repodata(env.published("r1"))).toEqual(before);
    const r = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_total: 8, packages_added: 3 } });
    expect(rpmsIn(env.published("r1"))).toEqual([...KEPT, "alpha-1.0-1.noarch.rpm", "beta-1.0-1.noarch.rpm", "gamma-1.0-1.noarch.rpm"].sort());
  });

  it("snapshots freeze the filtered set, snapshot diff shows what a filter change did, and a filter that keeps nothing fails unless allow_empty", async () => {
    const config = join(env.configDir, "config.yaml");
    expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "f1")).code).toBe(0);
    const original = readFileSync(config, "utf8");
    writeFileSync(config, original.replace("exclude: [zeta]", "exclude: [delta]"));
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    expect((await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "f2")).code).toBe(0);
    const diff = JSON.parse((await env.cli("snapshot", "diff", "--repo-id", "r1", "f1", "f2", "--json")).stdout);
    expect(diff.added.map((p: { name: string; version: string }) => `${p.name}-${p.version}`)).toEqual(["zeta-2.0"]);
    expect(diff.removed.map((p: { name: string }) => p.name)).toEqual(["delta"]);
    expect(diff.updated).toEqual([]);

    const live = repodata(env.published("r1"));
    writeFileSync(config, original.replace("include: [alpha, beta, gamma, delta, epsilon, zeta]", "include: [no-such-package]"));
    const empty = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(empty.code).toBe(1);
    expect(JSON.parse(empty.stdout).error).toMatch(
      /repository r1: the filter keeps none of the \d+ upstream packages \(check filter.include and filter.exclude, or set filter.allow_empty: true\)/,
    );
    expect(repodata(env.published("r1"))).toEqual(live);
    // allow_empty: an empty, valid repository (dnf reads it and finds nothing).
    writeFileSync(config, original.replace("include: [alpha, beta, gamma, delta, epsilon, zeta]", "include: [no-such-package]\n      allow_empty: true"));
    const allowed = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ status: "success", counts: { packages_total: 0 } });
    expect(rpmsIn(env.published("r1"))).toEqual([]);
    expect(await dnf(env.published("r1"), "repoquery", "--available")).toBe("");
    writeFileSync(config, original);
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  });

  it("with_dependencies adds what the kept packages need (a virtual provide, a file only filelists lists); dnf repoclosure agrees", async () => {
    const config = join(env.configDir, "config.yaml");
    writeFileSync(
      config,
      `${readFileSync(config, "utf8").trimEnd()}\n  - id: r3\n    type: rpm\n    upstream_url: ${env.server.url}/\n    filter:\n      include: [delta]\n      retain_versions: 1\n      sources: false\n      with_dependencies: true\n`,
    );
    const r = await env.cli("repo", "sync", "--repo-id", "r3", "--json");
    expect(r.code).toBe(0);
    const names = rpmsIn(env.published("r3")).map((f) => f.replace(/-[^-]+-[^-]+\.noarch\.rpm$/, ""));
    // delta needs virtual-e (epsilon), epsilon a file of gamma that only filelists lists.
    expect([...new Set(names)].sort()).toEqual(["delta", "epsilon", "gamma"]);
    expect(await dnf(env.published("r3"), "repoclosure", "--check", "mirror")).toBe("");
  });

  it("fails before any download when a dependency is provided by nothing kept", async () => {
    const config = join(env.configDir, "config.yaml");
    writeFileSync(
      config,
      `${readFileSync(config, "utf8").trimEnd()}\n  - id: r4\n    type: rpm\n    upstream_url: ${env.server.url}/\n    filter:\n      include: [delta]\n      with_dependencies: true\n      dependency_repositories: []\n`,
    );
    // epsilon (virtual-e) is not in the repository served for r4: a server without it.
    const before = new Set(env.poolFiles());
    rmSync(join(upstream, "Packages", "epsilon-1.0-1.noarch.rpm"));
    rmSync(join(upstream, "repodata"), { recursive: true, force: true });
    await createRepo(upstream, { compress: "gz" });
    const r = await env.cli("repo", "sync", "--repo-id", "r4", "--json");
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/delta-1\.0-1\.noarch needs virtual-e/);
    // Only metadata was fetched: no new blob starts with the rpm lead's magic.
    const added = env.poolFiles().filter((f) => !before.has(f));
    expect(added.length).toBeGreaterThan(0);
    for (const f of added) expect(readFileSync(f).subarray(0, 4).toString("hex")).not.toBe("edabeedb");
  });

  it("a dependency that filter.dependency_repositories provides is not added", async () => {
    // Upstream has no epsilon (virtual-e) any more (the test before); r3 still holds it.
    const config = join(env.configDir, "config.yaml");
    writeFileSync(
      config,
      `${readFileSync(config, "utf8").trimEnd()}\n  - id: r5\n    type: rpm\n    upstream_url: ${env.server.url}/\n    filter:\n      include: [delta]\n      with_dependencies: true\n      dependency_repositories: [r3]\n`,
    );
    const r = await env.cli("repo", "sync", "--repo-id", "r5", "--json");
    expect(r.stdout + r.stderr).toContain('"status": "success"');
    expect(rpmsIn(env.published("r5"))).toEqual(["delta-1.0-1.noarch.rpm"]);
    // A repository not synced yet is named as such.
    writeFileSync(
      config,
      `${readFileSync(config, "utf8").replace("dependency_repositories: [r3]", "dependency_repositories: [r2]").trimEnd()}\n  - id: r2\n    type: rpm\n    upstream_url: ${env.server.url}/\n`,
    );
    const unsynced = await env.cli("repo", "sync", "--repo-id", "r5", "--full", "--json");
    expect(unsynced.code).not.toBe(0);
    expect(unsynced.stdout + unsynced.stderr).toMatch(/dependency_repositories names r2, which has not been synced yet/);
  });
});
