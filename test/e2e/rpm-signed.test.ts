// Curated and re-signed RPM trees signed with the mirror's own key (a real gpg key): dnf with repo_gpgcheck=1
// accepts them and refuses a tampered repomd.xml. The signer is passed in-process (its config wiring is elsewhere).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { findRepository, loadConfig } from "../../core/config/load.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { migrate } from "../../core/db/migrate.js";
import { startRun, zeroCounts } from "../../core/db/sync-runs.js";
import { effectiveFilter } from "../../core/filter/effective.js";
import { silentLogger } from "../../core/log.js";
import type { MetadataSigner, RepoSyncContext, RepoSyncResult } from "../../core/mirror/types.js";
import { publishLatest } from "../../core/publish/trees.js";
import { syncRpm } from "../../core/rpm/sync.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { createGpgTestKey, type GpgTestKey } from "../helpers/gpg-signer.js";
import { buildRpm, createRepo, run } from "../helpers/rpm-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let scratch: string;
let upstream: string;
let env: SyncEnvironment;
let key: GpgTestKey;
let otherKey: GpgTestKey;

async function syncInProcess(repoId: string, signer: MetadataSigner | undefined, dryRun = false): Promise<RepoSyncResult> {
  const loaded = await loadConfig({ configDir: env.configDir });
  const config = loaded.config;
  const repo = findRepository(loaded, repoId);
  const row = await ensureRepository(env.pg, repo);
  const runId = await startRun(env.pg, row.id, "manual", "running", new Date());
  const filter = effectiveFilter(config, repo);
  const ctx: RepoSyncContext = {
    config,
    repo,
    row,
    db: env.pg,
    blobs: blobStoreOf(config),
    http: {},
    log: silentLogger(),
    signal: new AbortController().signal,
    runId,
    force: false,
    counts: zeroCounts(),
    allowDowngrade: false,
    now: () => new Date(),
    ...(filter ? { filter } : {}),
    ...(signer ? { signer } : {}),
    ...(dryRun ? { dryRun } : {}),
  };
  const result = await syncRpm(ctx);
  if (result.status === "success") await publishLatest(env.pg, config, { id: row.id, repoId });
  return result;
}

/** dnf with repo_gpgcheck=1 and only the given key: metadata whose signature does not verify is refused. */
async function dnfChecked(tree: string, keyFile: string, ...args: string[]): Promise<string> {
  const reposdir = mkdtempSync(join(scratch, "repos-"));
  writeFileSync(
    join(reposdir, "mirror.repo"),
    `[mirror]\nname=mirror\nbaseurl=file://${tree}\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=1\ngpgkey=file://${keyFile}\n`,
  );
  return run("dnf", [
    "-q",
    "-y",
    "--releasever=9",
    `--setopt=cachedir=${mkdtempSync(join(scratch, "cache-"))}`,
    `--setopt=reposdir=${reposdir}`,
    "--setopt=skip_if_unavailable=False",
    "--repo=mirror",
    ...args,
  ]);
}

describeWithTools(["rpmbuild", "createrepo_c", "dnf", "gpg"], "RPM trees signed with the mirror's key", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-signed-"));
    upstream = join(scratch, "upstream");
    for (const [name, version] of [
      ["alpha", "1.0"],
      ["alpha", "1.1"],
      ["beta", "1.0"],
    ] as const)
      await buildRpm({ dir: join(upstream, "Packages"), name, version, release: "1" });
    await createRepo(upstream, { compress: "xz" });
    // Upstream's own signature, which a re-signed mirror replaces.
    writeFileSync(join(upstream, "repodata/repomd.xml.asc"), "-----BEGIN PGP SIGNATURE-----\nupstream\n-----END PGP SIGNATURE-----\n");
    key = await createGpgTestKey(scratch);
    mkdirSync(join(scratch, "other"));
    otherKey = await createGpgTestKey(join(scratch, "other"), "Other Key <other@example.invalid>");
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n    filter:\n      retain_versions: 1\n  - id: r2\n    type: rpm\n    upstream_url: ${url}/\n`,
    });
    await migrate(env.pg);
  }, 300_000);

  afterAll(async () => {
    await env?.close();
    for (const k of [key, otherKey]) if (k) rmSync(k.home, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("signs a filtered tree's regenerated repomd.xml; dnf with repo_gpgcheck accepts it and refuses a tampered copy", async () => {
    expect(await syncInProcess("r1", key.signer())).toMatchObject({ status: "success" });
    const tree = env.published("r1");
    await run("gpg", ["--homedir", key.home, "--batch", "--verify", join(tree, "repodata/repomd.xml.asc"), join(tree, "repodata/repomd.xml")]);
    const names = await dnfChecked(tree, key.publicKeyFile, "repoquery", "--available", "--qf", "%{name}-%{version}");
    expect(names.split("\n").filter(Boolean).sort()).toEqual(["alpha-1.1", "beta-1.0"]);

    // The published files are links into the pool: the tampering is done on a copy.
    const copy = join(mkdtempSync(join(scratch, "tampered-")), "tree");
    cpSync(tree, copy, { recursive: true, dereference: true });
    const repomd = join(copy, "repodata/repomd.xml");
    writeFileSync(repomd, readFileSync(repomd, "utf8").replace("<revision>", "<revision>1"));
    const tampered = await dnfChecked(copy, key.publicKeyFile, "makecache").then(
      () => "accepted",
      (e: Error) => e.message.replace(/^.*? failed: /s, ""),
    );
    expect(tampered).toMatch(/repomd.xml GPG signature verification error: Bad GPG signature/);
    // The wrong key is refused too.
    await expect(dnfChecked(tree, otherKey.publicKeyFile, "makecache")).rejects.toThrow(/repomd.xml GPG signature verification error/);
  });

  it("a changed key re-plans and re-signs; the same key again is a no-op", async () => {
    expect(await syncInProcess("r1", key.signer())).toMatchObject({ status: "noop" });
    expect(await syncInProcess("r1", otherKey.signer())).toMatchObject({ status: "success" });
    await dnfChecked(env.published("r1"), otherKey.publicKeyFile, "makecache");
  });

  it("a dry run of a changed filter reports the plan and changes nothing", async () => {
    const before = readFileSync(join(env.published("r1"), "repodata/repomd.xml"));
    const config = join(env.configDir, "config.yaml");
    writeFileSync(config, readFileSync(config, "utf8").replace("retain_versions: 1", "retain_versions: 0\n      exclude: [beta]"));
    const r = await syncInProcess("r1", otherKey.signer(), true);
    expect(r).toMatchObject({
      status: "dry-run",
      plan: {
        packagesUpstream: 3,
        kept: 2,
        dropped: 1,
        addedByDependencies: 0,
        toDownload: 1,
        keptNames: ["alpha-1.0-1.noarch", "alpha-1.1-1.noarch"],
        droppedNames: ["beta-1.0-1.noarch"],
        downloadNames: ["alpha-1.0-1.noarch"],
      },
    });
    expect(r.plan!.bytesToDownload).toBeGreaterThan(0);
    expect(readFileSync(join(env.published("r1"), "repodata/repomd.xml"))).toEqual(before);
    // Nothing was recorded: the real run that follows does the work.
    expect(await syncInProcess("r1", otherKey.signer())).toMatchObject({ status: "success", counts: { packagesTotal: 2, packagesDownloaded: 1 } });
  });

  it("resign keeps an unfiltered repomd.xml verbatim and replaces upstream's signature by the mirror's", async () => {
    expect(await syncInProcess("r2", key.signer({ resign: true }))).toMatchObject({ status: "success" });
    const tree = env.published("r2");
    expect(readFileSync(join(tree, "repodata/repomd.xml"))).toEqual(readFileSync(join(upstream, "repodata/repomd.xml")));
    expect(readFileSync(join(tree, "repodata/repomd.xml.asc"), "utf8")).not.toContain("upstream");
    await dnfChecked(tree, key.publicKeyFile, "makecache");
  });
});
