// The client lines of a suite the mirror signs, run as written: the curl line fetches the published .gpg over HTTP into
// the keyring path that signed-by= names, and the real apt-get reads the suite (InRelease, or Release.gpg alone) through
// both the one-line and the deb822 form. The suite is signed here with the configured key, standing in for core/apt's
// re-signing (another helper's); the configuration, the key files and the snippets are the product's.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig, type LoadedConfig } from "../../core/config/load.js";
import { generateSigningKey, loadSigner, signingLabel } from "../../core/openpgp/sign.js";
import { clientConfig } from "../../core/publish/targets.js";
import { mirrorKeyOf, publishMirrorKey } from "../../core/publish/mirror-key.js";
import { aptTargetFields } from "../../core/publish/target-fields.js";
import type { ClientSnippet } from "../../core/publish/client-config.js";
import { APT_TOOLS, aptClientWithSources, buildDeb, writeAptRepo } from "../helpers/apt-fixtures.js";
import { makeConfigDir } from "../helpers/cli.js";
import { run } from "../helpers/rpm-fixtures.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { describeWithTools } from "../helpers/tools.js";

let scratch: string;
let server: StaticServer;
let loaded: LoadedConfig;
let snippets: ClientSnippet[];
let keyrings: string;

const DIST = "stable";

describeWithTools([...APT_TOOLS, "curl"], "apt-get with the mirror's published key and the printed client lines", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-sign-apt-e2e-"));
    const base = join(scratch, "state");
    const published = join(base, "published");
    mkdirSync(published, { recursive: true });
    server = await startStaticServer({ root: published });
    const key = await generateSigningKey({ name: "Mirror", email: "mirror@test.invalid", algorithm: "rsa4096", passphrase: "from the env" });
    writeFileSync(join(scratch, "mirror.asc"), key.armoredPrivateKey, { mode: 0o600 });
    const configDir = makeConfigDir({
      "config.yaml": [
        `storage:\n  base_path: ${base}`,
        `publish:\n  base_url: ${server.url}/`,
        `signing:\n  key_file: ${join(scratch, "mirror.asc")}\n  passphrase: \${MIRROR_KEY_PASSPHRASE}\n  resign: true`,
        "repositories:",
        "  - id: deb",
        "    type: apt",
        "    upstream_url: http://upstream.invalid/debian/",
        `    apt: { distribution: ${DIST}, components: [main], architectures: [amd64] }`,
        "",
      ].join("\n"),
    });
    loaded = await loadConfig({ configDir, env: { ...process.env, MIRROR_KEY_PASSPHRASE: "from the env" } });
    rmSync(configDir, { recursive: true, force: true });
    const repo = loaded.config.repositories[0]!;

    // The tree as the mirror would serve it, signed with the configured key (resign).
    const tree = join(published, "deb", "latest");
    await buildDeb(tree, { name: "alpha", version: "1.0-1" });
    await writeAptRepo(tree, { dist: DIST });
    const signer = await loadSigner(loaded.config.signing!, signingLabel(repo));
    const dist = join(tree, "dists", DIST);
    const release = await readFile(join(dist, "Release"));
    await writeFile(join(dist, "InRelease"), await signer.clearsign(release.toString("utf8")));
    await writeFile(join(dist, "Release.gpg"), await signer.signDetached(release));

    expect(await publishMirrorKey(loaded.config, "deb")).toEqual(["chantal-mirror.asc", "chantal-mirror.gpg"]);
    expect(await publishMirrorKey(loaded.config, "deb")).toEqual([]);
    const target = {
      repoId: repo.id,
      type: repo.type,
      name: "latest",
      path: tree,
      baseUrl: `${server.url}/`,
      mirrorKey: mirrorKeyOf(loaded.config, repo)!,
      ...(await aptTargetFields(repo)),
    };
    snippets = clientConfig(target).snippets;
    keyrings = join(scratch, "etc-apt-keyrings");
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** The snippet's install lines, run as a client would, with /etc/apt/keyrings under the scratch directory and without sudo. */
  async function installKey(snippet: ClientSnippet): Promise<void> {
    const commands = snippet.text
      .split("\n")
      .filter((l) => l.startsWith("#   sudo "))
      .map((l) =>
        l
          .replace(/^#\s+sudo /, "")
          .replace(/\s+\(or: .*\)$/, "")
          .replaceAll("/etc/apt/keyrings", keyrings),
      );
    expect(commands).toEqual([`install -d -m 0755 ${keyrings}`, `curl -fsSL ${server.url}/deb/chantal-mirror.gpg -o ${keyrings}/deb.gpg`]);
    rmSync(keyrings, { recursive: true, force: true });
    // Not execFileSync: the server answering curl runs in this process.
    for (const c of commands) await run("sh", ["-c", c]);
  }

  async function aptWith(snippet: ClientSnippet, fileName: string): Promise<string[]> {
    await installKey(snippet);
    const apt = await aptClientWithSources(scratch, { fileName, text: snippet.text.replaceAll("/etc/apt/keyrings", keyrings) });
    await apt.update();
    return apt.available();
  }

  it("the one-line form: signed-by=/etc/apt/keyrings/deb.gpg, the key fetched by its curl line; InRelease verifies", async () => {
    const list = snippets.find((s) => s.file.endsWith(".list"))!;
    expect(list.text).toContain(`deb [arch=amd64 signed-by=/etc/apt/keyrings/deb.gpg] ${server.url}/deb/latest/ ${DIST} main\n`);
    expect(await aptWith(list, "sources.list")).toEqual(["alpha=1.0-1"]);
  });

  it("the deb822 form, with Release.gpg alone (armored, detached): apt-get verifies it with the same key", async () => {
    await rm(join(scratch, "state", "published", "deb", "latest", "dists", DIST, "InRelease"));
    const deb822 = snippets.find((s) => s.file.endsWith(".sources"))!;
    expect(deb822.text).toContain("Signed-By: /etc/apt/keyrings/deb.gpg\n");
    expect(await aptWith(deb822, "deb.sources")).toEqual(["alpha=1.0-1"]);
  });
});
