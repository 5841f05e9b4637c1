// Across the air gap with an APT suite: exported from a connected installation, imported into a disconnected one, read there by the real apt-get.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateAptSuite, signAptSuite } from "../fixtures/apt-repo-generator.js";
import { APT_TOOLS, aptClient } from "../helpers/apt-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

let scratch: string;
let a: SyncEnvironment;
let b: SyncEnvironment;
let keyring: string;

describeWithTools(APT_TOOLS, "APT import read by apt-get", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-import-apt-"));
    const demo = join(scratch, "demo");
    const suite = await generateAptSuite(demo, 5, 1000, { dist: "demo" });
    const signature = await signAptSuite(suite, join(scratch, "demo-keys"));
    keyring = signature.keyring;
    const repoYaml = (url: string) =>
      `  - id: demo\n    type: apt\n    upstream_url: ${url}/\n    apt:\n      distribution: demo\n    verify:\n      keyring: ${signature.armored}\n`;
    a = await startSyncEnvironment({ upstream: demo, repoYaml });
    b = await startSyncEnvironment({ upstream: join(scratch, "nothing"), repoYaml });
  }, 180_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("apt-get updates from the imported, published snapshot", async () => {
    expect((await a.cli("repo", "sync", "--repo-id", "demo")).code).toBe(0);
    expect((await a.cli("snapshot", "create", "demo", "--name", "s1")).code).toBe(0);
    const bundle = join(scratch, "bundle");
    expect((await a.cli("export", "create", "--repo-id", "demo", "--snapshot", "s1", "--output", bundle, "--unsigned")).code).toBe(0);
    const r = await b.cli("import", bundle, "--insecure-skip-signature", "--publish");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const client = await aptClient(scratch, { uri: `file:${b.published("demo", "snapshots/s1")}`, dist: "demo", components: ["main"], keyring });
    await client.update();
    expect(await client.available()).toEqual(["pkg000000=1.0-1", "pkg000001=1.0-1", "pkg000002=1.0-1", "pkg000003=1.0-1", "pkg000004=1.0-1"]);
  }, 180_000);
});
