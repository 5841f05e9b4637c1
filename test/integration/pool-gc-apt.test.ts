// pool gc on an APT mirror whose upstream drops a package: the dropped .deb's blob goes, the published suite stays
// complete (apt-get updates and installs from it, pool verify --deep is clean).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { APT_TOOLS, aptClient, buildDeb, createGpgKey, debLocation, writeAptRepo, type GpgKey } from "../helpers/apt-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let scratch: string | undefined;
let env: SyncEnvironment | undefined;
let key: GpgKey | undefined;
afterAll(async () => {
  await env?.close();
  await key?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describeWithTools(APT_TOOLS, "pool gc (apt)", () => {
  it("deletes the blob of a .deb upstream dropped, and apt-get still reads the published suite", async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-gc-apt-"));
    const upstream = join(scratch, "upstream");
    key = await createGpgKey(join(scratch, "key"));
    await buildDeb(upstream, { name: "alpha", version: "1.0-1" });
    await buildDeb(upstream, { name: "beta", version: "1.0-1", payloadBytes: 3000 });
    await writeAptRepo(upstream, { dist: "stable", signer: key });
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        `  - id: deb\n    type: apt\n    upstream_url: ${url}/\n    apt:\n      distribution: stable\n    verify:\n      keyring: ${key!.keyring}\n`,
    });
    expect((await env.cli("repo", "sync", "--repo-id", "deb")).code).toBe(0);
    const betaSha = (await env.pg.query(`SELECT sha256 FROM chantal.packages WHERE name = 'beta'`)).rows[0].sha256.trim() as string;
    const betaBlob = join(env.base, "pool", betaSha.slice(0, 2), betaSha);
    expect(existsSync(betaBlob)).toBe(true);

    // Upstream drops beta and upgrades alpha.
    rmSync(join(upstream, debLocation({ name: "beta", version: "1.0-1" })));
    await buildDeb(upstream, { name: "alpha", version: "1.1-1" });
    await writeAptRepo(upstream, { dist: "stable", signer: key, date: new Date(Date.now() + 2000) });
    expect((await env.cli("repo", "sync", "--repo-id", "deb")).code).toBe(0);

    const gc = await env.cli("pool", "gc", "--protect-minutes", "0", "--json");
    expect(gc.code, gc.stderr).toBe(0);
    // beta's .deb, and the first sync's index files (InRelease, Packages) nothing references any more.
    expect(JSON.parse(gc.stdout).freed.blobs).toBeGreaterThanOrEqual(1);
    expect(existsSync(betaBlob)).toBe(false);
    expect((await env.cli("pool", "verify", "--deep")).code).toBe(0);
    const client = await aptClient(scratch, { uri: `file:${env.published("deb")}`, dist: "stable", components: ["main"], keyring: key.keyring });
    await client.update();
    expect(await client.available()).toEqual(["alpha=1.1-1"]);
    expect(await client.simulateInstall("alpha")).toEqual(["alpha=1.1-1"]);
  });
});
