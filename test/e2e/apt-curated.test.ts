// Curated APT mirrors: a real repository (dpkg-deb, apt-ftparchive, gpg) synced with a filter, its metadata regenerated and
// signed by the mirror's key, then read by the real apt-get (update, install --simulate, download) and dose-debcheck.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FilterSchema } from "../../core/config/schema.js";
import { migrate } from "../../core/db/migrate.js";
import {
  APT_TOOLS,
  aptClient,
  aptClientWithSources,
  buildDeb,
  buildSourcePackage,
  createGpgKey,
  runWithInput,
  writeAptRepo,
  type DebSpec,
  type GpgKey,
} from "../helpers/apt-fixtures.js";
import { curatedSyncer, gpgMetadataSigner, type CuratedSyncer } from "../helpers/curated-apt.js";
import { listFiles, startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

const run = promisify(execFile);
const DIST = "stable";
const COMPONENTS = ["main", "contrib"];
const DOSE = await run("which", ["dose-debcheck"]).then(
  () => true,
  () => false,
);

let scratch: string;
let upstream: string;
let archiveKey: GpgKey;
let mirrorKey: GpgKey;
let trust: string;
let env: SyncEnvironment;
let syncer: CuratedSyncer;
const debs = new Map<string, string>();

async function add(spec: DebSpec): Promise<void> {
  debs.set(`${spec.name}=${spec.version}`, await buildDeb(upstream, { payloadBytes: 3000, arch: "amd64", ...spec }));
}

/** Debian-style Date of the upstream Release, fixed so a test can compare it. */
const UPSTREAM_DATE = new Date(Date.UTC(2026, 0, 15, 12, 0, 0));

function publishUpstream(date = UPSTREAM_DATE): Promise<void> {
  return writeAptRepo(upstream, { dist: DIST, components: COMPONENTS, signer: archiveKey, byHash: true, sources: true, date });
}

function latest(repoId = "cur"): string {
  return env.published(repoId);
}

function distFile(tree: string, path: string): Buffer {
  return readFileSync(join(tree, "dists", DIST, path));
}

/** Every file of a published tree (symlinks resolved) by path, as a sha256: two equal maps are two identical trees. */
function treeHashes(tree: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of listFiles(tree)) out[relative(tree, f)] = createHash("sha256").update(readFileSync(f)).digest("hex");
  return out;
}

function debsIn(tree: string): string[] {
  return listFiles(join(tree, "pool"))
    .filter((f) => f.endsWith(".deb"))
    .map((f) => relative(tree, f))
    .sort();
}

/** name=version of a Packages text, in file order. */
function packagesOf(text: string): string[] {
  return text
    .split(/\n\n+/)
    .filter((p) => p.trim() !== "")
    .map((p) => `${/^Package: (.*)$/m.exec(p)![1]}=${/^Version: (.*)$/m.exec(p)![1]}`);
}

/** The SHA256 and SHA512 lines of a Release: path -> { size, sha256, sha512 }. */
function releaseEntries(release: string): Map<string, { size: number; sha256?: string; sha512?: string }> {
  const out = new Map<string, { size: number; sha256?: string; sha512?: string }>();
  for (const field of ["SHA256", "SHA512"] as const) {
    const block = new RegExp(`^${field}:\\n((?: .*\\n)*)`, "m").exec(release)?.[1] ?? "";
    for (const line of block.split("\n").filter(Boolean)) {
      const [hash, size, path] = line.trim().split(/\s+/) as [string, string, string];
      const e = out.get(path) ?? { size: Number(size) };
      if (field === "SHA256") e.sha256 = hash;
      else e.sha512 = hash;
      out.set(path, e);
    }
  }
  return out;
}

function mirrorClient(tree: string, opts: { debSrc?: boolean } = {}) {
  return aptClient(scratch, { uri: `file:${tree}`, dist: DIST, components: COMPONENTS, keyring: mirrorKey.keyring, ...opts });
}

describeWithTools(APT_TOOLS, "curated APT mirror (filter, regenerated and re-signed metadata)", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-curated-"));
    upstream = join(scratch, "upstream");
    archiveKey = await createGpgKey(join(scratch, "keys"), { name: "Upstream Archive" });
    mirrorKey = await createGpgKey(join(scratch, "keys"), { name: "Chantal Mirror" });
    // Three versions of app; its dependencies: a versioned one with an alternative, a virtual package, a Pre-Depends.
    for (const v of ["1.0-1", "2.0-1", "3.0-1"])
      await add({ name: "app", version: v, depends: "libfoo (>= 1.0) | libfoo-compat, mail-transport-agent", preDepends: "base", source: "base (1.0)" });
    await add({ name: "libfoo", version: "1.0-1" });
    await add({ name: "libfoo", version: "1.5-1" });
    await add({ name: "libfoo-compat", version: "1.0", arch: "all" });
    await add({ name: "postfix-lite", version: "1.0", arch: "all", provides: "mail-transport-agent" });
    await add({ name: "base", version: "1.0", arch: "all" });
    await add({ name: "tool", version: "1.0", depends: "not-in-this-repository" });
    await add({ name: "junk-dbg", version: "1.0" });
    await add({ name: "other", version: "1.0", component: "contrib" });
    await buildSourcePackage(upstream, { name: "base", version: "1.0" });
    await buildSourcePackage(upstream, { name: "junk-dbg", version: "1.0" });
    await publishUpstream();
    // verify.keyring is a directory holding the upstream's key and the mirror's: the sync verifies the upstream with it and
    // the publish gate (which, on main, checks a tree against verify.keyring only) the suite signed by the mirror.
    trust = join(scratch, "trust");
    mkdirSync(trust);
    copyFileSync(archiveKey.keyring, join(trust, "upstream.gpg"));
    copyFileSync(mirrorKey.keyring, join(trust, "mirror.gpg"));
    const aptBlock = () =>
      [
        "    apt:",
        `      distribution: ${DIST}`,
        `      components: [${COMPONENTS.join(", ")}]`,
        "      architectures: [amd64]",
        "      include_sources: true",
        "    verify:",
        `      keyring: ${trust}`,
      ].join("\n");
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        [
          "  - id: cur",
          "    type: apt",
          `    upstream_url: ${url}/`,
          aptBlock(),
          "    filter:",
          '      include: [app, "lib*", postfix-lite, base]',
          "      exclude: [libfoo-compat]",
          "      retain_versions: 1",
          "  - id: re",
          "    type: apt",
          `    upstream_url: ${url}/`,
          aptBlock(),
          "",
        ].join("\n"),
    });
    await migrate(env.pg);
    syncer = await curatedSyncer(env.configDir);
  }, 240_000);

  afterAll(async () => {
    await syncer?.close();
    await env?.close();
    await archiveKey?.dispose();
    await mirrorKey?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  const signer = () => gpgMetadataSigner(mirrorKey);
  const debRequests = () => env.server.requests.filter((r) => r.path.endsWith(".deb")).length;

  it("a dry run plans without downloading or committing", async () => {
    const before = debRequests();
    const r = await syncer.sync({ repoId: "cur", signer: signer(), dryRun: true });
    expect(r.status).toBe("dry-run");
    expect(r.plan).toMatchObject({ packagesUpstream: 11, kept: 4, dropped: 7, addedByDependencies: 0, toDownload: 6 });
    expect(r.plan!.keptNames).toEqual(["app_3.0-1_amd64", "base_1.0_all", "libfoo_1.5-1_amd64", "postfix-lite_1.0_all"]);
    expect(r.plan!.droppedNames).toContain("app_2.0-1_amd64");
    expect(r.plan!.downloadNames).toEqual([
      "app_3.0-1_amd64",
      "base_1.0_all",
      "base_1.0_source/base_1.0.dsc",
      "base_1.0_source/base_1.0.tar.xz",
      "libfoo_1.5-1_amd64",
      "postfix-lite_1.0_all",
    ]);
    expect(debRequests()).toBe(before);
    const row = await env.pg.query("SELECT index_checksum FROM chantal.repositories WHERE repo_id = 'cur'");
    expect(row.rows[0]?.index_checksum ?? null).toBeNull();
    expect(existsSync(latest())).toBe(false);
  });

  it("repo sync --dry-run through the CLI reports the same plan, records and downloads nothing", async () => {
    const before = debRequests();
    const r = await env.cli("repo", "sync", "cur", "--dry-run", "--json");
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as { status: string; run_id: number | null; plan: Record<string, unknown> };
    expect(json).toMatchObject({ status: "dry-run", run_id: null, plan: { packages_upstream: 11, kept: 4, dropped: 7, to_download: 6 } });
    expect(json.plan.kept_names).toEqual(["app_3.0-1_amd64", "base_1.0_all", "libfoo_1.5-1_amd64", "postfix-lite_1.0_all"]);
    expect(debRequests()).toBe(before);
    expect(existsSync(latest())).toBe(false);
  });

  it("publishes only the kept packages with regenerated Packages(.gz/.xz), Sources, by-hash and a Release signed by the mirror", async () => {
    const r = await syncer.sync({ repoId: "cur", signer: signer() });
    expect(r).toMatchObject({ status: "success", counts: { packagesTotal: 6, packagesDownloaded: 6 } });
    const tree = latest();
    expect(debsIn(tree)).toEqual(["app=3.0-1", "base=1.0", "libfoo=1.5-1", "postfix-lite=1.0"].map((k) => debs.get(k)!).sort());
    const plain = distFile(tree, "main/binary-amd64/Packages");
    expect(gunzipSync(distFile(tree, "main/binary-amd64/Packages.gz"))).toEqual(plain);
    expect(await runWithInput("xz", ["-dc"], distFile(tree, "main/binary-amd64/Packages.xz"))).toEqual(plain);
    // upstream order (dpkg-scanpackages sorts by name), each paragraph as upstream wrote it
    expect(packagesOf(plain.toString())).toEqual(["app=3.0-1", "base=1.0", "libfoo=1.5-1", "postfix-lite=1.0"]);
    const upstreamText = gunzipSync(readFileSync(join(upstream, "dists", DIST, "main/binary-amd64/Packages.gz"))).toString();
    for (const para of plain.toString().trim().split("\n\n")) expect(upstreamText).toContain(`${para}\n`);
    expect(packagesOf(distFile(tree, "contrib/binary-amd64/Packages").toString())).toEqual([]);
    expect(packagesOf(distFile(tree, "main/source/Sources").toString())).toEqual(["base=1.0"]);
    expect(existsSync(join(tree, "dists", DIST, "main/i18n"))).toBe(false);

    const release = distFile(tree, "Release").toString();
    const upstreamRelease = readFileSync(join(upstream, "dists", DIST, "Release"), "utf8");
    for (const field of ["Origin", "Label", "Suite", "Codename", "Date", "Architectures", "Components"]) {
      expect(release).toContain(new RegExp(`^${field}: .*$`, "m").exec(upstreamRelease)![0]);
    }
    expect(release).toMatch(/^Acquire-By-Hash: yes$/m);
    expect(release).not.toMatch(/^Valid-Until:/m);
    const entries = releaseEntries(release);
    expect([...entries.keys()].sort()).toEqual(
      ["main/binary-amd64", "contrib/binary-amd64", "main/source", "contrib/source"]
        .flatMap((d) => (d.endsWith("source") ? ["Sources", "Sources.gz", "Sources.xz"] : ["Packages", "Packages.gz", "Packages.xz"]).map((f) => `${d}/${f}`))
        .sort(),
    );
    for (const [path, e] of entries) {
      const data = distFile(tree, path);
      expect(data.length, path).toBe(e.size);
      expect(createHash("sha256").update(data).digest("hex"), path).toBe(e.sha256);
      expect(createHash("sha512").update(data).digest("hex"), path).toBe(e.sha512);
      const dir = path.slice(0, path.lastIndexOf("/"));
      expect(distFile(tree, `${dir}/by-hash/SHA256/${e.sha256}`)).toEqual(data);
      expect(distFile(tree, `${dir}/by-hash/SHA512/${e.sha512}`)).toEqual(data);
    }
    // InRelease and Release.gpg by the mirror's key, over exactly this Release
    const verify = (args: string[]) => run("gpgv", ["--keyring", mirrorKey.keyring, ...args]);
    await verify([join(tree, "dists", DIST, "InRelease")]);
    await verify([join(tree, "dists", DIST, "Release.gpg"), join(tree, "dists", DIST, "Release")]);
    await expect(run("gpgv", ["--keyring", archiveKey.keyring, join(tree, "dists", DIST, "InRelease")])).rejects.toThrow();
  });

  it("apt-get updates with signed-by the mirror's key, resolves the dependencies (alternative, virtual, Pre-Depends) and downloads", async () => {
    const client = await mirrorClient(latest(), { debSrc: true });
    await client.update();
    expect(await client.available()).toEqual(["app=3.0-1", "base=1.0", "libfoo=1.5-1", "postfix-lite=1.0"]);
    expect(await client.simulateInstall("app")).toEqual(["app=3.0-1", "base=1.0", "libfoo=1.5-1", "postfix-lite=1.0"]);
    const got = await client.download(join(scratch, "dl"), "app");
    expect(got).toEqual(["app_3.0-1_amd64.deb"]);
    expect(readFileSync(join(scratch, "dl", got[0]!))).toEqual(readFileSync(join(upstream, debs.get("app=3.0-1")!)));
    expect(await client.source(join(scratch, "src"), "base")).toEqual(["base_1.0.dsc", "base_1.0.tar.xz"]);
    const byHash = await mirrorClient(latest());
    await byHash.update("-o", "Acquire::By-Hash=force");
    expect(await byHash.available()).toContain("app=3.0-1");
  });

  it.skipIf(!DOSE)("dose-debcheck finds every dependency of the published Packages satisfied", async () => {
    const out = await run("dose-debcheck", ["--failures", "--explain", join(latest(), "dists", DIST, "main/binary-amd64/Packages")]);
    expect(out.stdout).not.toMatch(/status: broken/);
    expect(out.stdout).toMatch(/broken-packages: 0/);
  });

  it("a re-run with no upstream change is a no-op, and a forced one writes the same bytes", async () => {
    const before = treeHashes(latest());
    const requests = debRequests();
    expect((await syncer.sync({ repoId: "cur", signer: signer() })).status).toBe("noop");
    expect(treeHashes(latest())).toEqual(before);
    const forced = await syncer.sync({ repoId: "cur", signer: signer(), force: true });
    expect(forced).toMatchObject({ status: "success", counts: { packagesDownloaded: 0, packagesAdded: 0, packagesRemoved: 0 } });
    expect(debRequests()).toBe(requests);
    // InRelease and Release.gpg carry a new signature time; everything they sign is byte-identical
    const after = treeHashes(latest());
    const unsigned = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([p]) => !/\/(InRelease|Release\.gpg)$/.test(p)));
    expect(unsigned(after)).toEqual(unsigned(before));
  });

  it("apt-get refuses a tampered Release: a changed byte in InRelease, or in Release beside Release.gpg", async () => {
    const copy = join(scratch, "tampered");
    cpSync(latest(), copy, { recursive: true, dereference: true });
    const dist = join(copy, "dists", DIST);
    writeFileSync(join(dist, "InRelease"), readFileSync(join(dist, "InRelease"), "utf8").replace("Suite: stable", "Suite: stabla"));
    await expect((await mirrorClient(copy)).update()).rejects.toThrow(/BADSIG|not signed|invalid/i);
    rmSync(join(dist, "InRelease"));
    const release = readFileSync(join(dist, "Release"));
    const at = release.indexOf("Packages.gz") - 2;
    release[at] = release[at]! ^ 1;
    writeFileSync(join(dist, "Release"), release);
    await expect((await mirrorClient(copy)).update()).rejects.toThrow(/BADSIG|not signed|invalid/i);
    // the untouched copy is accepted: the refusals above are the changed byte's
    copyFileSync(join(latest(), "dists", DIST, "Release"), join(dist, "Release"));
    await (await mirrorClient(copy)).update();
  });

  it("follows an upstream upgrade (retain_versions: 1 keeps the newest), and a changed filter or key is a full re-plan", async () => {
    await add({ name: "app", version: "4.0-1", depends: "libfoo (>= 1.0) | libfoo-compat, mail-transport-agent", preDepends: "base", source: "base (1.0)" });
    await publishUpstream(new Date(UPSTREAM_DATE.getTime() + 3600_000));
    const r = await syncer.sync({ repoId: "cur", signer: signer() });
    expect(r).toMatchObject({ status: "success", counts: { packagesDownloaded: 1, packagesAdded: 1, packagesRemoved: 1 } });
    expect(packagesOf(distFile(latest(), "main/binary-amd64/Packages").toString())).toEqual(["app=4.0-1", "base=1.0", "libfoo=1.5-1", "postfix-lite=1.0"]);
    expect(debsIn(latest())).not.toContain(debs.get("app=3.0-1"));

    const narrower = FilterSchema.parse({ include: ["app", "base", "postfix-lite", "libfoo"], retain_versions: 2, sources: false });
    const changed = await syncer.sync({ repoId: "cur", signer: signer(), filter: narrower });
    expect(changed).toMatchObject({ status: "success", counts: { packagesDownloaded: 1 } });
    expect(packagesOf(distFile(latest(), "main/binary-amd64/Packages").toString())).toEqual([
      "app=3.0-1",
      "app=4.0-1",
      "base=1.0",
      "libfoo=1.0-1",
      "libfoo=1.5-1",
      "postfix-lite=1.0",
    ]);
    expect(distFile(latest(), "main/source/Sources").length).toBe(0);
    expect((await syncer.sync({ repoId: "cur", signer: signer(), filter: narrower })).status).toBe("noop");

    // A new mirror key re-signs: the run is not a no-op, and the old key no longer verifies the suite.
    const newKey = await createGpgKey(join(scratch, "keys2"), { name: "Chantal Mirror Two" });
    copyFileSync(newKey.keyring, join(trust, "mirror-two.gpg"));
    try {
      expect((await syncer.sync({ repoId: "cur", signer: gpgMetadataSigner(newKey), filter: narrower })).status).toBe("success");
      await run("gpgv", ["--keyring", newKey.keyring, join(latest(), "dists", DIST, "InRelease")]);
      await expect(run("gpgv", ["--keyring", mirrorKey.keyring, join(latest(), "dists", DIST, "InRelease")])).rejects.toThrow();
    } finally {
      rmSync(join(trust, "mirror-two.gpg"));
      await newKey.dispose();
    }
  });

  it("an unfiltered repository with signing.resign keeps upstream's Release and indices and carries the mirror's signatures", async () => {
    const r = await syncer.sync({ repoId: "re", signer: gpgMetadataSigner(mirrorKey, { resign: true }) });
    expect(r.status).toBe("success");
    const tree = latest("re");
    const up = (p: string) => readFileSync(join(upstream, "dists", DIST, p));
    for (const f of ["Release", "main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz", "main/source/Sources.xz"])
      expect(distFile(tree, f)).toEqual(up(f));
    expect(distFile(tree, "InRelease")).not.toEqual(up("InRelease"));
    const client = await mirrorClient(tree);
    await client.update();
    expect(await client.available()).toContain("tool=1.0");
    // Without a signer the same repository is mirrored byte for byte again (a key change is a re-plan).
    expect((await syncer.sync({ repoId: "re" })).status).toBe("success");
    for (const f of ["InRelease", "Release", "Release.gpg"]) expect(distFile(latest("re"), f)).toEqual(up(f));
  });

  it("through the CLI (filter from the config) and without a signing key: an unsigned Release and a warning", async () => {
    const r = await env.cli("repo", "sync", "--repo-id", "cur", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "success", counts: { packages_total: 6 } });
    expect(r.stderr).toMatch(/published unsigned/);
    expect(debsIn(latest())).toEqual(["app=4.0-1", "base=1.0", "libfoo=1.5-1", "postfix-lite=1.0"].map((k) => debs.get(k)!).sort());
    const dist = join(latest(), "dists", DIST);
    expect(existsSync(join(dist, "InRelease")) || existsSync(join(dist, "Release.gpg"))).toBe(false);
    expect(releaseEntries(readFileSync(join(dist, "Release"), "utf8")).has("main/binary-amd64/Packages.xz")).toBe(true);
    await expect((await mirrorClient(latest())).update()).rejects.toThrow(/not signed|NO_PUBKEY|Release/);
    const trusted = await aptClientWithSources(scratch, {
      fileName: "sources.list",
      text: `deb [trusted=yes] file:${latest()} ${DIST} ${COMPONENTS.join(" ")}\n`,
    });
    await trusted.update();
    expect(await trusted.available()).toContain("app=4.0-1");
  });

  it("with_dependencies adds what the kept packages need, and dose-debcheck agrees", async () => {
    const filter = FilterSchema.parse({ include: ["app"], retain_versions: 1, with_dependencies: true });
    const r = await syncer.sync({ repoId: "cur", signer: signer(), filter });
    expect(r.status).toBe("success");
    const names = packagesOf(distFile(latest(), "main/binary-amd64/Packages").toString());
    expect(names).toContain("app=4.0-1");
    expect(names).toContain("base=1.0");
    expect(names).toContain("postfix-lite=1.0");
    expect(names.some((n) => n.startsWith("libfoo"))).toBe(true);
    if (DOSE) {
      const out = await run("dose-debcheck", ["--failures", join(latest(), "dists", DIST, "main/binary-amd64/Packages")]);
      expect(out.stdout).toMatch(/broken-packages: 0/);
    }
    // What another mirrored repository (re, synced above) provides is not pulled in; an unknown one fails the run.
    const elsewhere = FilterSchema.parse({ include: ["app"], retain_versions: 1, with_dependencies: true, dependency_repositories: ["re"] });
    expect((await syncer.sync({ repoId: "cur", signer: signer(), filter: elsewhere })).status).toBe("success");
    expect(packagesOf(distFile(latest(), "main/binary-amd64/Packages").toString())).toEqual(["app=4.0-1"]);
    const unknown = FilterSchema.parse({ include: ["app"], with_dependencies: true, dependency_repositories: ["nope"] });
    await expect(syncer.sync({ repoId: "cur", signer: signer(), filter: unknown })).rejects.toThrow(
      /dependency_repositories names nope, which is not configured/,
    );
    const failing = FilterSchema.parse({ include: ["tool"], with_dependencies: true });
    await expect(syncer.sync({ repoId: "cur", signer: signer(), filter: failing })).rejects.toThrow(/not-in-this-repository/);
  });
});
