// APT sync refusals and faults through the real CLI: signatures (wrong key, tampered, appended data,
// expired), unsafe Filename, incomplete stanzas, index and package checksum mismatches, HTTP faults.
import { formatLocalTimeWithZone } from "../../core/local-time.js";
import { cpSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { APT_TOOLS, aptClient, buildDeb, createGpgKey, detachSign, writeAptRepo, type AptRepoOptions, type GpgKey } from "../helpers/apt-fixtures.js";
import type { FaultPlan } from "../helpers/http-server.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let scratch: string;
let template: string;
let keyA: GpgKey;
let keyB: GpgKey;
const envs: SyncEnvironment[] = [];

const DIST = "bookworm";
const ALPHA = "pool/main/a/alpha/alpha_1.0-1_all.deb";
const BETA = "pool/main/b/beta/beta_2.0-1_amd64.deb";

interface CaseOptions {
  repo?: Partial<AptRepoOptions>;
  /** Keyring path for verify.keyring; none when null. */
  keyring?: string | null;
  faults?: FaultPlan;
  /** apt.distribution in the configuration (default the suite's). */
  distribution?: string;
}

/** A fresh upstream (alpha and beta, signed by key A unless told otherwise) and an environment syncing it. */
async function setup(opts: CaseOptions = {}): Promise<SyncEnvironment> {
  const upstream = mkdtempSync(join(scratch, "up-"));
  cpSync(join(template, "pool"), join(upstream, "pool"), { recursive: true });
  await writeAptRepo(upstream, { dist: DIST, signer: keyA, ...opts.repo });
  const keyring = opts.keyring === undefined ? keyA.keyring : opts.keyring;
  const env = await startSyncEnvironment({
    upstream,
    ...(opts.faults ? { faults: opts.faults } : {}),
    repoYaml: (url) =>
      [
        "  - id: deb",
        "    type: apt",
        `    upstream_url: ${url}/`,
        "    download_concurrency: 2",
        "    apt:",
        `      distribution: ${opts.distribution ?? DIST}`,
        ...(keyring ? ["    verify:", `      keyring: ${keyring}`] : []),
        "",
      ].join("\n"),
  });
  envs.push(env);
  return env;
}

function upstreamDir(env: SyncEnvironment): string {
  return env.upstream;
}

async function sync(env: SyncEnvironment) {
  const r = await env.cli("repo", "sync", "--repo-id", "deb", "--json");
  return { ...r, json: r.stdout ? JSON.parse(r.stdout) : {} };
}

async function lastRun(env: SyncEnvironment) {
  return (await env.pg.query(`SELECT status, error FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
}

async function repoLocations(env: SyncEnvironment): Promise<string[]> {
  const r = await env.pg.query(`SELECT location FROM chantal.repository_packages ORDER BY 1`);
  return r.rows.map((x) => x.location);
}

function dist(env: SyncEnvironment, file: string): string {
  return join(upstreamDir(env), "dists", DIST, file);
}

describeWithTools(APT_TOOLS, "APT sync refusals and faults", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-aptf-"));
    template = join(scratch, "template");
    keyA = await createGpgKey(join(scratch, "keys"), { name: "Archive A" });
    keyB = await createGpgKey(join(scratch, "keys"), { name: "Archive B" });
    await buildDeb(template, { name: "alpha", version: "1.0-1", payloadBytes: 3000 });
    await buildDeb(template, { name: "beta", version: "2.0-1", arch: "amd64", payloadBytes: 3000 });
  }, 120_000);

  afterEach(async () => {
    for (const e of envs.splice(0)) await e.close();
  });

  afterAll(async () => {
    await keyA?.dispose();
    await keyB?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("refuses an InRelease signed by a key that is not in the keyring, publishing nothing", async () => {
    const env = await setup({ keyring: keyB.keyring });
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toMatch(/dists\/bookworm\/InRelease of repository deb is not validly signed by a key of .*archive-b\.gpg/);
    expect(existsSync(join(env.base, "published"))).toBe(false);
    expect(await lastRun(env)).toMatchObject({ status: "failed" });
    expect(env.server.requests.some((q) => q.path.endsWith(".deb"))).toBe(false);
  });

  it("refuses a tampered InRelease, and unsigned text appended to a valid one", async () => {
    const env = await setup();
    const inRelease = dist(env, "InRelease");
    const original = readFileSync(inRelease, "utf8");
    writeFileSync(inRelease, original.replace("Suite: bookworm", "Suite: bookwork"));
    const tampered = await sync(env);
    expect(tampered.code).toBe(1);
    expect(tampered.json.error).toMatch(/InRelease .*not validly signed/);

    writeFileSync(inRelease, `${original}\nSHA256:\n ${"0".repeat(64)} 1 main/binary-amd64/Packages.xz\n`);
    const appended = await sync(env);
    expect(appended.code).toBe(1);
    expect(appended.json.error).toMatch(/data after the signature .* is refused/);
    expect(existsSync(join(env.base, "published"))).toBe(false);
  });

  it("verifies Release + Release.gpg with an armored key when there is no InRelease, and apt-get accepts the mirror", async () => {
    const env = await setup({ repo: { inRelease: false }, keyring: keyA.armored });
    const r = await sync(env);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ status: "success", counts: { packages_total: 2 } });
    const latest = env.published("deb");
    expect(existsSync(join(latest, "dists", DIST, "InRelease"))).toBe(false);
    expect(readFileSync(join(latest, "dists", DIST, "Release.gpg"))).toEqual(readFileSync(dist(env, "Release.gpg")));
    const apt = await aptClient(scratch, { uri: `file:${latest}`, dist: DIST, components: ["main"], keyring: keyA.keyring });
    await apt.update();
    expect(await apt.available()).toEqual(["alpha=1.0-1", "beta=2.0-1"]);

    // a Release.gpg by another key is refused
    writeFileSync(dist(env, "Release.gpg"), await detachSign(keyB, readFileSync(dist(env, "Release"))));
    const wrong = await sync(env);
    expect(wrong.code).toBe(1);
    expect(wrong.json.error).toMatch(/dists\/bookworm\/Release of repository deb is not validly signed/);
  });

  it("parses the signed InRelease, not a Release beside it that says something else (which is then not published)", async () => {
    const env = await setup();
    const release = dist(env, "Release");
    // the unsigned Release claims another Packages.xz: were it parsed, the real index would fail its checksum
    const text = readFileSync(release, "utf8");
    const forged = text.replace(/^(SHA256:\n(?: .*\n)*?) [0-9a-f]{64}( +\d+ main\/binary-amd64\/Packages\.xz)$/m, `$1 ${"f".repeat(64)}$2`);
    expect(forged).not.toBe(text);
    writeFileSync(release, forged);
    const r = await sync(env);
    expect(r.code).toBe(0);
    expect(r.json.status).toBe("success");
    const latest = env.published("deb");
    expect(existsSync(join(latest, "dists", DIST, "InRelease"))).toBe(true);
    expect(existsSync(join(latest, "dists", DIST, "Release"))).toBe(false);
    expect(r.stderr).toMatch(/differs from InRelease/);
  });

  it("refuses a Release whose Valid-Until has passed", async () => {
    const env = await setup({ repo: { extraFields: ["Valid-Until: Sat, 01 Jan 2000 00:00:00 UTC"] } });
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toContain(
      `InRelease of repository deb has expired: Valid-Until ${formatLocalTimeWithZone(new Date("2000-01-01T00:00:00Z"))} is in the past`,
    );
    expect(existsSync(join(env.base, "published"))).toBe(false);
  });

  it("mirrors an unsigned suite when no keyring is configured", async () => {
    const env = await setup({ repo: { signer: undefined }, keyring: null });
    const r = await sync(env);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ status: "success", counts: { packages_total: 2 } });
    expect(existsSync(join(env.published("deb"), "dists", DIST, "Release"))).toBe(true);
  });

  it("fails clearly on a Filename that escapes the repository root, without requesting it", async () => {
    const env = await setup({ repo: { editPackages: (t) => t.replace(`Filename: ${ALPHA}`, "Filename: ../../etc/passwd") } });
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toContain('unsafe location "../../etc/passwd" in upstream metadata: it climbs out of the repository');
    expect(env.server.requests.some((q) => q.path.includes("passwd"))).toBe(false);
    expect(existsSync(join(env.base, "published"))).toBe(false);
  });

  it("fails on a package without SHA256 or Size, naming the package", async () => {
    const env = await setup({ repo: { editPackages: (t) => t.replace(/(Package: beta\n[\s\S]*?)SHA256: [0-9a-f]+\n/, "$1") } });
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toMatch(/dists\/bookworm\/main\/binary-amd64\/Packages\.xz: package beta 2\.0-1 \(amd64\) at line \d+ has no SHA256 field/);

    const noSize = await setup({ repo: { editPackages: (t) => t.replace(/(Package: alpha\n[\s\S]*?)Size: \d+\n/, "$1") } });
    const r2 = await sync(noSize);
    expect(r2.code).toBe(1);
    expect(r2.json.error).toMatch(/package alpha 1\.0-1 \(all\) at line \d+ has no Size field/);
  });

  it("fails when an index does not match the Release, naming the file", async () => {
    const env = await setup({ repo: { compress: ["xz"] } });
    appendFileSync(dist(env, "main/binary-amd64/Packages.xz"), Buffer.from([0]));
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toMatch(/checksum mismatch for dists\/bookworm\/main\/binary-amd64\/Packages\.xz .*expected \d+ bytes/);
  });

  it("retries 503s and resets; a corrupt .deb fails the run with nothing published and no temp files left", async () => {
    const env = await setup({
      faults: (req, nth) => {
        if (req.path.endsWith("alpha_1.0-1_all.deb") && nth <= 2) return { status: 503, retryAfter: 0 };
        if (req.path.endsWith("beta_2.0-1_amd64.deb") && nth === 1) return { resetAfterBytes: 300 };
        if (req.path.endsWith("gamma_1.0-1_all.deb")) return { corrupt: true, times: Infinity };
        return undefined;
      },
    });
    const ok = await sync(env);
    expect(ok.code).toBe(0);
    expect(ok.json).toMatchObject({ status: "success", counts: { packages_downloaded: 2 } });
    const before = await repoLocations(env);
    const tree = readlinkSync(env.published("deb"));

    await buildDeb(upstreamDir(env), { name: "gamma", version: "1.0-1" });
    await writeAptRepo(upstreamDir(env), { dist: DIST, signer: keyA });
    const bad = await sync(env);
    expect(bad.code).toBe(1);
    expect(bad.json.error).toMatch(/checksum mismatch for gamma 1\.0-1 \(all\) gamma_1\.0-1_all\.deb/);
    expect(await repoLocations(env)).toEqual(before);
    expect(readlinkSync(env.published("deb"))).toBe(tree);
    expect(env.tempFiles()).toEqual([]);
    expect(await lastRun(env)).toMatchObject({ status: "failed" });
  });

  it("says that flat repositories are not mirrored, and names a missing suite", async () => {
    const flat = await sync(await setup({ distribution: "./" }));
    expect(flat.code).toBe(1);
    expect(flat.json.error).toBe(
      'repository deb: apt.distribution "./" names a flat repository, which this version does not mirror (use a suite under dists/)',
    );
    const missing = await setup({ distribution: "trixie" });
    const r = await sync(missing);
    expect(r.code).toBe(1);
    expect(r.json.error).toBe(
      `repository deb: neither dists/trixie/InRelease nor dists/trixie/Release exists at ${missing.server.url}/ (check upstream_url and apt.distribution)`,
    );
  });

  it("names the package and URL on a 404", async () => {
    const env = await setup();
    rmSync(join(upstreamDir(env), BETA));
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toMatch(/404/);
    expect(r.json.error).toContain(`${env.server.url}/${BETA}`);
    expect(r.json.error).toMatch(/beta 2\.0-1/);
  });
});
