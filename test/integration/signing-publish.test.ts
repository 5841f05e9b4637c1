// A repository with signing: through the real CLI: the sync loads the key (a bad one fails the run, recorded), publish
// puts the public key beside the trees as .asc and .gpg, repo show prints the dnf lines that use it, and the real dnf
// with repo_gpgcheck=1 and the published key accepts a repomd.xml signed by the mirror's key and refuses a changed one.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateSigningKey, loadSigner } from "../../core/openpgp/sign.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { run } from "../helpers/rpm-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let env: SyncEnvironment;
let upstream: string;
let work: string;
let keyFile: string;
let fingerprint: string;

const BASE_URL = "http://mirror.test/";

function repoYaml(url: string): string {
  const signing = (extra: string) => `    signing:\n      key_file: ${keyFile}\n      passphrase: "pass phrase"\n${extra}`;
  return [
    `  - id: r1\n    type: rpm\n    upstream_url: ${url}/\n    publish:\n      base_url: ${BASE_URL}\n${signing("      resign: true\n")}`,
    // Signs nothing itself (no filter, no resign), but its key is published already.
    `  - id: r2\n    type: rpm\n    upstream_url: ${url}/\n    publish:\n      base_url: ${BASE_URL}\n${signing("      public_key_name: corp\n")}`,
    `  - id: r3\n    type: rpm\n    upstream_url: ${url}/\n    signing:\n      key_file: ${keyFile}\n      passphrase: wrong\n`,
  ].join("");
}

function gpgShowKey(file: string): string {
  return spawnSync("gpg", ["--with-colons", "--show-keys", file], { encoding: "utf8" }).stdout;
}

describeWithTools(["gpg", "dnf"], "a signing repository, published and checked by dnf", () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "chantal-signpub-"));
    upstream = join(work, "upstream");
    await generateRpmRepo(upstream, 3, 512);
    const key = await generateSigningKey({ name: "Mirror", email: "mirror@test.invalid", algorithm: "rsa4096", passphrase: "pass phrase" });
    keyFile = join(work, "mirror.secret.asc");
    writeFileSync(keyFile, key.armoredPrivateKey, { mode: 0o600 });
    fingerprint = key.fingerprint;
    env = await startSyncEnvironment({ upstream, repoYaml });
  }, 180_000);
  afterAll(async () => {
    await env?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("publishes the public key beside latest/ as .asc and .gpg, and repo show gives dnf repo_gpgcheck=1 with it", async () => {
    const s = await env.cli("repo", "sync", "r1");
    expect(s.code, s.stderr).toBe(0);
    const repoRoot = join(env.base, "published", "r1");
    for (const file of ["chantal-mirror.asc", "chantal-mirror.gpg"]) expect(gpgShowKey(join(repoRoot, file)), file).toContain(`fpr:::::::::${fingerprint}:`);
    expect(readFileSync(join(repoRoot, "chantal-mirror.asc"), "utf8")).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    // The .gpg is a binary key (what apt's signed-by= and gpgv --keyring take), never the secret key.
    expect(readFileSync(join(repoRoot, "chantal-mirror.gpg"))[0]! & 0x80).toBe(0x80);
    expect(readFileSync(join(repoRoot, "chantal-mirror.gpg")).toString("latin1")).not.toContain("PRIVATE");
    expect(gpgShowKey(join(repoRoot, "chantal-mirror.gpg"))).not.toMatch(/^sec:/m);

    const show = await env.cli("repo", "show", "r1");
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain("repo_gpgcheck=1\n");
    expect(show.stdout).toContain(`gpgkey=${BASE_URL}r1/chantal-mirror.asc`);
    const json = JSON.parse((await env.cli("repo", "show", "r1", "--json")).stdout);
    expect(JSON.stringify(json)).toContain(`gpgkey=${BASE_URL}r1/chantal-mirror.asc`);
  });

  it("publishes the key of a repository that signs nothing yet, under its public_key_name, and keeps the upstream's client lines", async () => {
    expect((await env.cli("repo", "sync", "r2")).code).toBe(0);
    expect(gpgShowKey(join(env.base, "published", "r2", "corp.gpg"))).toContain(`fpr:::::::::${fingerprint}:`);
    const show = await env.cli("repo", "show", "r2");
    expect(show.stdout).toContain("repo_gpgcheck=0");
    expect(show.stdout).not.toContain("corp.asc");
  });

  it("a key that does not unlock fails the sync, recorded in the run with the fix, and publishes nothing", async () => {
    const s = await env.cli("repo", "sync", "r3");
    expect(s.code).not.toBe(0);
    expect(s.stderr).toMatch(/repositories\[r3\]\.signing\.passphrase: cannot unlock .*mirror\.secret\.asc.*check the passphrase/);
    const runs = await env.pg.query(
      "SELECT r.status, r.error FROM chantal.sync_runs r JOIN chantal.repositories p ON p.id = r.repository_id WHERE p.repo_id = 'r3' ORDER BY r.id",
    );
    expect(runs.rows).toEqual([{ status: "failed", error: expect.stringMatching(/signing\.passphrase: cannot unlock/) }]);
    expect(spawnSync("ls", [join(env.base, "published", "r3")]).status).not.toBe(0);
  });

  // Stands in for core/rpm/sync.ts's repomd.xml.asc (signing.resign), which is another helper's: the signature is made
  // here over the published repomd.xml with the configured key; what it proves is the key path a client takes.
  it("dnf with repo_gpgcheck=1 and the published .asc accepts repomd.xml signed by the mirror's key, and refuses it changed", async () => {
    const tree = join(work, "served");
    cpSync(env.published("r1"), tree, { recursive: true, dereference: true });
    const signer = await loadSigner({ key_file: keyFile, passphrase: "pass phrase", resign: true, public_key_name: "chantal-mirror" }, "signing");
    const repomd = readFileSync(join(tree, "repodata", "repomd.xml"));
    writeFileSync(join(tree, "repodata", "repomd.xml.asc"), await signer.signDetached(repomd));

    const reposdir = join(work, "repos.d");
    mkdirSync(reposdir, { recursive: true });
    const stanza = (await env.cli("repo", "show", "r1")).stdout;
    const gpgLines = stanza.split("\n").filter((l) => /^(gpgcheck|repo_gpgcheck)=/.test(l));
    expect(gpgLines).toContain("repo_gpgcheck=1");
    writeFileSync(
      join(reposdir, "mirror.repo"),
      ["[mirror]", "name=mirror", `baseurl=file://${tree}/`, ...gpgLines, `gpgkey=file://${join(env.base, "published", "r1", "chantal-mirror.asc")}`, ""].join(
        "\n",
      ),
    );
    const dnf = (cache: string) =>
      run("dnf", [
        "-y",
        "--releasever=9",
        `--setopt=cachedir=${join(work, cache)}`,
        `--setopt=reposdir=${reposdir}`,
        "--setopt=skip_if_unavailable=False",
        "--repo=mirror",
        "repoquery",
        "--available",
        "--qf",
        "%{name}",
      ]);
    expect((await dnf("cache-good")).split("\n").filter((l) => /^pkg\d+$/.test(l.trim()))).toHaveLength(3);

    writeFileSync(join(tree, "repodata", "repomd.xml"), Buffer.concat([repomd, Buffer.from("\n")]));
    await expect(dnf("cache-bad")).rejects.toThrow(/GPG signature verification error|Bad GPG signature/);
  });

  it("signing.resign on an unfiltered repository: the sync signs repomd.xml, and dnf takes the stanza of repo show as printed", async () => {
    expect((await env.cli("repo", "sync", "r1", "--full")).code).toBe(0);
    const repoRoot = join(env.base, "published", "r1");
    const tree = env.published("r1");
    const v = spawnSync("gpgv", [
      "--keyring",
      join(repoRoot, "chantal-mirror.gpg"),
      join(tree, "repodata", "repomd.xml.asc"),
      join(tree, "repodata", "repomd.xml"),
    ]);
    expect(v.status, `${v.stderr}`).toBe(0);
    // base_url is the URL of the published directory: file:// of it stands for the web server.
    const stanza = (await env.cli("repo", "show", "r1")).stdout;
    const text = /^\[r1\]\n(?:[a-z_]+=.*\n)+/m.exec(stanza)![0].replaceAll(BASE_URL, `file://${join(env.base, "published")}/`);
    const reposdir = join(work, "repos-as-printed.d");
    mkdirSync(reposdir, { recursive: true });
    writeFileSync(join(reposdir, "r1.repo"), text);
    const out = await run("dnf", [
      "-y",
      "--releasever=9",
      `--setopt=cachedir=${join(work, "cache-as-printed")}`,
      `--setopt=reposdir=${reposdir}`,
      "--setopt=skip_if_unavailable=False",
      "--repo=r1",
      "repoquery",
      "--available",
      "--qf",
      "%{name}",
    ]);
    expect(out.split("\n").filter((l) => /^pkg\d+$/.test(l.trim()))).toHaveLength(3);
  });
});
