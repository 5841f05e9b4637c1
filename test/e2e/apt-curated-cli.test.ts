// Curated and re-signed APT mirrors through the real CLI: filter: and signing: from the configuration, the mirror's public
// key published beside the trees, and the real apt-get trusting exactly that key file.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateSigningKey } from "../../core/openpgp/sign.js";
import { APT_TOOLS, aptClient, buildDeb, createGpgKey, writeAptRepo, type GpgKey } from "../helpers/apt-fixtures.js";
import { listFiles, startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

const run = promisify(execFile);
const DIST = "stable";

let scratch: string;
let upstream: string;
let archiveKey: GpgKey;
let env: SyncEnvironment;

function treeHashes(tree: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of listFiles(tree)) out[relative(tree, f)] = createHash("sha256").update(readFileSync(f)).digest("hex");
  return out;
}

/** The mirror's public key as publish writes it beside the trees (binary, for signed-by=). */
function mirrorKeyFile(repoId: string): string {
  return join(env.base, "published", repoId, "chantal-mirror.gpg");
}

function client(repoId: string, keyring: string) {
  return aptClient(scratch, { uri: `file:${env.published(repoId)}`, dist: DIST, components: ["main"], keyring });
}

async function sync(repoId: string): Promise<{ code: number | null; json: Record<string, unknown>; stderr: string }> {
  const r = await env.cli("repo", "sync", repoId, "--json");
  return { code: r.code, json: r.stdout ? JSON.parse(r.stdout) : {}, stderr: r.stderr };
}

describeWithTools(APT_TOOLS, "curated APT mirror through the CLI (filter: and signing: from the config)", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-curated-cli-"));
    upstream = join(scratch, "upstream");
    archiveKey = await createGpgKey(join(scratch, "keys"), { name: "Upstream Archive" });
    for (const v of ["1.0-1", "2.0-1"]) await buildDeb(upstream, { name: "app", version: v, arch: "amd64", depends: "libfoo (>= 1.0)" });
    await buildDeb(upstream, { name: "libfoo", version: "1.0-1", arch: "amd64" });
    await buildDeb(upstream, { name: "unrelated", version: "1.0", arch: "all" });
    await writeAptRepo(upstream, { dist: DIST, signer: archiveKey, byHash: true });
    const key = await generateSigningKey({ name: "Chantal Mirror", email: "mirror@test.invalid", algorithm: "ed25519" });
    const keyFile = join(scratch, "mirror-secret.asc");
    writeFileSync(keyFile, key.armoredPrivateKey, { mode: 0o600 });
    const repo = (id: string, url: string, extra: string[]) =>
      [
        `  - id: ${id}`,
        "    type: apt",
        `    upstream_url: ${url}/`,
        "    apt:",
        `      distribution: ${DIST}`,
        "    verify:",
        `      keyring: ${archiveKey.keyring}`,
        "    signing:",
        `      key_file: ${keyFile}`,
        ...extra,
      ].join("\n");
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        `${[
          repo("cli", url, ["    filter:", "      include: [app]", "      retain_versions: 1", "      with_dependencies: true"]),
          repo("cli-re", url, ["      resign: true"]),
        ].join("\n")}\n`,
    });
  }, 240_000);

  afterAll(async () => {
    await env?.close();
    await archiveKey?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("repo sync curates and signs with the configured key; apt-get trusts the published key file", async () => {
    const r = await sync("cli");
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ status: "success", counts: { packages_total: 2, packages_downloaded: 2 } });
    const keyring = mirrorKeyFile("cli");
    await run("gpgv", ["--keyring", keyring, join(env.published("cli"), "dists", DIST, "InRelease")]);
    const apt = await client("cli", keyring);
    await apt.update();
    expect(await apt.available()).toEqual(["app=2.0-1", "libfoo=1.0-1"]);
    expect(await apt.simulateInstall("app")).toEqual(["app=2.0-1", "libfoo=1.0-1"]);
    // The upstream's key does not verify the mirror's suite.
    await expect((await client("cli", archiveKey.keyring)).update()).rejects.toThrow(/NO_PUBKEY|not signed|invalid/i);
  });

  it("a second repo sync is a no-op and leaves the tree byte for byte", async () => {
    const before = treeHashes(env.published("cli"));
    const r = await sync("cli");
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ status: "noop" });
    expect(treeHashes(env.published("cli"))).toEqual(before);
  });

  it("signing.resign on an unfiltered repository keeps upstream's Release and indices, signed by the mirror", async () => {
    const r = await sync("cli-re");
    expect(r.code, r.stderr).toBe(0);
    const dist = (p: string) => readFileSync(join(env.published("cli-re"), "dists", DIST, p));
    const up = (p: string) => readFileSync(join(upstream, "dists", DIST, p));
    for (const f of ["Release", "main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz"]) expect(dist(f)).toEqual(up(f));
    await run("gpgv", [
      "--keyring",
      mirrorKeyFile("cli-re"),
      join(env.published("cli-re"), "dists", DIST, "Release.gpg"),
      join(env.published("cli-re"), "dists", DIST, "Release"),
    ]);
    const apt = await client("cli-re", mirrorKeyFile("cli-re"));
    await apt.update();
    // dumpavail shows each name's candidate; the indices (identical to upstream's) still list app 1.0-1 too.
    expect(await apt.available()).toEqual(["app=2.0-1", "libfoo=1.0-1", "unrelated=1.0"]);
  });
});
