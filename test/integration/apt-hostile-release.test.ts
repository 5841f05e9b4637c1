// The real CLI syncing real signed APT suites served on 127.0.0.1 whose Release lies about time (a future Date,
// a replayed older one), and whose indices are hostile: a field twice, a .deb at an index path, a blank-line bomb.
import { formatLocalTimeWithZone } from "../../core/local-time.js";
import { cpSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { buildDeb, createGpgKey, writeAptRepo, type AptRepoOptions, type GpgKey } from "../helpers/apt-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

const TOOLS = ["dpkg-deb", "dpkg-scanpackages", "apt-ftparchive", "gpg", "xz"] as const;
const DIST = "bookworm";
const HOUR = 3600 * 1000;
let scratch: string;
let template: string;
let key: GpgKey;
const envs: SyncEnvironment[] = [];

async function setup(repo: Partial<AptRepoOptions> = {}): Promise<SyncEnvironment> {
  const upstream = mkdtempSync(join(scratch, "up-"));
  cpSync(join(template, "pool"), join(upstream, "pool"), { recursive: true });
  await writeAptRepo(upstream, { dist: DIST, signer: key, ...repo });
  const env = await startSyncEnvironment({
    upstream,
    repoYaml: (url) =>
      `  - id: deb\n    type: apt\n    upstream_url: ${url}/\n    apt:\n      distribution: ${DIST}\n    verify:\n      keyring: ${key.keyring}\n`,
  });
  envs.push(env);
  return env;
}

async function sync(env: SyncEnvironment, ...extra: string[]) {
  const r = await env.cli("repo", "sync", "--repo-id", "deb", "--json", ...extra);
  return { ...r, json: r.stdout ? JSON.parse(r.stdout) : {} };
}

function publishedRelease(env: SyncEnvironment): string {
  return readFileSync(join(env.published("deb"), "dists", DIST, "Release"), "utf8");
}

/** Date: as apt-ftparchive writes it for `date`. */
function dateLine(date: Date): string {
  return `Date: ${date.toUTCString().replace(/GMT$/, "UTC")}`;
}

describeWithTools(TOOLS, "APT Release dates and hostile indices (real signed suites)", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-aptd-"));
    template = join(scratch, "template");
    key = await createGpgKey(join(scratch, "keys"), { name: "Archive Dates" });
    await buildDeb(template, { name: "alpha", version: "1.0-1", payloadBytes: 2000 });
    await buildDeb(template, { name: "beta", version: "2.0-1", arch: "amd64", payloadBytes: 2000 });
  }, 120_000);

  afterEach(async () => {
    for (const e of envs.splice(0)) await e.close();
  });

  afterAll(async () => {
    await key?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("refuses a validly signed Release dated a day ahead of the clock (not valid yet), and accepts a few seconds of skew", async () => {
    const future = new Date(Date.now() + 24 * HOUR);
    const env = await setup({ date: future });
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toContain(
      `dists/${DIST}/InRelease of repository deb is not valid yet: its Date ${formatLocalTimeWithZone(future)} is 24 hour(s) ahead of this host's clock`,
    );
    expect(r.json.error).toContain("5 minute(s) of clock skew are allowed): check the clock of this host (NTP)");
    expect(existsSync(env.published("deb"))).toBe(false);
    expect(env.server.requests.some((q) => q.path.endsWith(".deb"))).toBe(false);

    await writeAptRepo(env.upstream, { dist: DIST, signer: key, date: new Date(Date.now() + 30_000) });
    expect((await sync(env)).code).toBe(0);
  });

  it("refuses a replayed older Release, naming both dates and the fix; --allow-downgrade and verify.allow_rollback accept it", async () => {
    const current = new Date(Math.floor((Date.now() - 2 * HOUR) / 1000) * 1000);
    const env = await setup({ date: current });
    expect((await sync(env)).code).toBe(0);
    const tree = readlinkSync(env.published("deb"));
    expect(publishedRelease(env)).toContain(dateLine(current));

    // A mirror (or an attacker) serves last week's Release: validly signed, but older than what we have.
    const old = new Date(current.getTime() - 7 * 24 * HOUR);
    await writeAptRepo(env.upstream, { dist: DIST, signer: key, date: old });
    const refused = await sync(env);
    expect(refused.code).toBe(1);
    expect(refused.json.error).toBe(
      `dists/${DIST}/InRelease of repository deb is dated ${formatLocalTimeWithZone(old)}, older than the Release synced last (dated ${formatLocalTimeWithZone(current)}): ` +
        "refusing to go back (an old Release replayed by a mirror or an attacker would freeze the mirror on old packages). " +
        'If the upstream really went back, run "repo sync --repo-id deb --allow-downgrade" once, or set verify.allow_rollback: true for the repository',
    );
    expect(readlinkSync(env.published("deb"))).toBe(tree);
    expect(publishedRelease(env)).toContain(dateLine(current));
    const runs = await env.pg.query(`SELECT status FROM chantal.sync_runs ORDER BY id`);
    expect(runs.rows.map((x) => x.status)).toEqual(["success", "failed"]);

    // The person who knows the upstream went back says so for one run.
    const allowed = await sync(env, "--allow-downgrade");
    expect(allowed.code).toBe(0);
    expect(allowed.json.status).toBe("success");
    expect(publishedRelease(env)).toContain(dateLine(old));

    // Or in the configuration, for every run.
    const older = new Date(old.getTime() - 24 * HOUR);
    await writeAptRepo(env.upstream, { dist: DIST, signer: key, date: older });
    expect((await sync(env)).code).toBe(1);
    const configPath = join(env.configDir, "config.yaml");
    writeFileSync(configPath, readFileSync(configPath, "utf8").replace(`    verify:\n`, `    verify:\n      allow_rollback: true\n`));
    expect((await sync(env)).code).toBe(0);
    expect(publishedRelease(env)).toContain(dateLine(older));
  });

  it("refuses a Packages paragraph with Filename twice, naming the index and the lines", async () => {
    const env = await setup({
      editPackages: (text) => text.replace(/^(Filename: pool\/main\/a\/alpha\/.*)$/m, "$1\nFilename: pool/main/e/evil/evil_1.0_all.deb"),
    });
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toMatch(
      new RegExp(`dists/${DIST}/main/binary-amd64/Packages\\.xz line \\d+: the paragraph at line \\d+ \\(package alpha\\) has the field "Filename" twice`),
    );
    expect(env.server.requests.some((q) => q.path.endsWith(".deb"))).toBe(false);
  });

  it("refuses a .deb listed at the path of an index file before downloading anything", async () => {
    const env = await setup({
      editPackages: (text) => text.replace("Filename: pool/main/a/alpha/alpha_1.0-1_all.deb", `Filename: dists/${DIST}/main/binary-amd64/Release`),
    });
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toMatch(
      new RegExp(
        `repository deb: alpha 1\\.0-1 \\(all\\) Release \\(dists/${DIST}/main/binary-amd64/Release\\) has the same path as index file dists/${DIST}/main/binary-amd64/Release`,
      ),
    );
    expect(r.json.error).not.toMatch(/EEXIST/);
    expect(existsSync(env.published("deb"))).toBe(false);
  });

  it("refuses a Packages.gz of blank lines beyond the size the Release lists for the uncompressed Packages at once (a 2 GiB bomb)", async () => {
    const env = await setup({ compress: ["gz"] });
    const dir = join(env.upstream, "dists", DIST, "main", "binary-amd64");
    // 32 gzip members of 64 MiB of newlines each: 2 MiB that decompress to 2 GiB.
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x0a), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 32 }, () => member));
    writeFileSync(join(dir, "Packages.gz"), bomb);
    // Re-list it in the Release (unsigned: the repository is configured without a keyring for this case).
    const releasePath = join(env.upstream, "dists", DIST, "Release");
    const { createHash } = await import("node:crypto");
    const sha = createHash("sha256").update(bomb).digest("hex");
    const release = readFileSync(releasePath, "utf8").replace(
      /^ [0-9a-f]{64}\s+\d+ main\/binary-amd64\/Packages\.gz$/m,
      ` ${sha} ${bomb.length} main/binary-amd64/Packages.gz`,
    );
    writeFileSync(releasePath, release.replace(/^(MD5Sum|SHA1|SHA512):\n(?: .*\n)*/gm, ""));
    rmSync(join(env.upstream, "dists", DIST, "InRelease"));
    rmSync(join(env.upstream, "dists", DIST, "Release.gpg"));
    const configPath = join(env.configDir, "config.yaml");
    writeFileSync(configPath, readFileSync(configPath, "utf8").replace(/    verify:\n      keyring: .*\n/, ""));
    const plainSize = /^ [0-9a-f]{64}\s+(\d+) main\/binary-amd64\/Packages$/m.exec(release)![1];
    const r = await sync(env);
    expect(r.code).toBe(1);
    expect(r.json.error).toBe(
      `dists/${DIST}/main/binary-amd64/Packages.gz: decompresses to more than the ${plainSize} bytes of the size the Release lists for dists/${DIST}/main/binary-amd64/Packages; ` +
        "refusing it (a decompression bomb, or metadata that does not match its index)",
    );
  }, 120_000);
});
