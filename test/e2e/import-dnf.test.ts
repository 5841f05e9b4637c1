// Across the air gap with real packages: a connected and a disconnected installation; dnf reads what the import published and what an environment serves, before and after a delta.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateSigningKey } from "../../core/openpgp/sign.js";
import { dnfClient } from "../helpers/dnf.js";
import { buildRpm, createRepo } from "../helpers/rpm-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let scratch: string;
let upstream: string;
let a: SyncEnvironment;
let b: SyncEnvironment;
let trusted: string;
const GROUPS = "groups:\n  - id: g\n    repositories: [r1]\nenvironments: [test, prod]\n";

const available = (tree: string) => dnfClient(scratch).available(`file://${tree}`);

describeWithTools(["rpmbuild", "createrepo_c", "dnf"], "import read by dnf", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-import-dnf-"));
    upstream = join(scratch, "upstream");
    await buildRpm({ dir: join(upstream, "Packages"), name: "alpha", version: "1.0", release: "1", payloadBytes: 3000 });
    await buildRpm({ dir: join(upstream, "Packages"), name: "beta", version: "2.0", release: "1", payloadBytes: 3000 });
    await createRepo(upstream, { checksum: "sha256", compress: "zstd" });
    a = await startSyncEnvironment({ upstream });
    b = await startSyncEnvironment({ upstream: join(scratch, "nothing") });
    const key = await generateSigningKey({ name: "Connected mirror", email: "mirror@example.invalid", algorithm: "ed25519" });
    writeFileSync(join(scratch, "export-key.asc"), key.armoredPrivateKey, { mode: 0o600 });
    trusted = join(scratch, "trusted.asc");
    writeFileSync(trusted, key.armoredPublicKey);
    for (const env of [a, b]) {
      mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
      writeFileSync(join(env.configDir, "conf.d", "groups.yaml"), GROUPS);
    }
    writeFileSync(join(a.configDir, "conf.d", "export.yaml"), `export:\n  signing:\n    key_file: ${join(scratch, "export-key.asc")}\n`);
  }, 180_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("full export of what prod serves, imported and promoted; an upstream change arrives as a delta in tar volumes", async () => {
    expect((await a.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    expect((await a.cli("snapshot", "create", "--group", "g", "--name", "g1")).code).toBe(0);
    expect((await a.cli("promote", "--group", "g", "--snapshot", "g1", "--to", "prod", "--force")).code).toBe(0);
    const full = join(scratch, "full");
    expect((await a.cli("export", "create", "--env", "prod", "--group", "g", "--output", full)).code).toBe(0);
    const r = await b.cli("import", full, "--trust-key", trusted, "--publish", "--promote-to", "prod");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await available(b.published("r1", "snapshots/g1"))).toEqual(["alpha-0:1.0-1.noarch", "beta-0:2.0-1.noarch"]);
    expect(await available(join(b.base, "published", "prod", "r1"))).toEqual(["alpha-0:1.0-1.noarch", "beta-0:2.0-1.noarch"]);

    await buildRpm({ dir: join(upstream, "Packages"), name: "alpha", version: "1.1", release: "1", payloadBytes: 3000 });
    rmSync(join(upstream, "repodata"), { recursive: true, force: true });
    await createRepo(upstream, { checksum: "sha256", compress: "zstd" });
    expect((await a.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    expect((await a.cli("snapshot", "create", "--group", "g", "--name", "g2")).code).toBe(0);
    const exportId = JSON.parse((await a.cli("export", "list", "--json")).stdout)[0].export_id as string;
    const delta = join(scratch, "delta");
    expect((await a.cli("export", "create", "--group", "g", "--snapshot", "g2", "--since", exportId, "--output", delta, "--volume-size", "1M")).code).toBe(0);
    const d = await b.cli("import", delta, "--trust-key", trusted, "--publish", "--promote-to", "prod", "--json");
    expect(d.stderr).toBe("");
    expect(d.code).toBe(0);
    const after = ["alpha-0:1.0-1.noarch", "alpha-0:1.1-1.noarch", "beta-0:2.0-1.noarch"];
    expect(await available(b.published("r1", "snapshots/g2"))).toEqual(after);
    expect(await available(join(b.base, "published", "prod", "r1"))).toEqual(after);
  }, 300_000);
});
