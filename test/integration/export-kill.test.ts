// A kill -9 during export create: no bundle at the output, no export recorded; the same command then sweeps the dead partial and writes a bundle that verifies.
import { readdirSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { listFiles, startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let env: SyncEnvironment;
let scratch: string;
const COUNT = 400;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "chantal-export-kill-"));
  await generateRpmRepo(join(scratch, "upstream"), COUNT, 100_000, { version: "1.0" });
  env = await startSyncEnvironment({ upstream: join(scratch, "upstream") });
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  expect((await env.cli("snapshot", "create", "r1", "--name", "s1")).code).toBe(0);
}, 300_000);

afterAll(async () => {
  await env?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const partials = () => readdirSync(scratch).filter((n) => n.endsWith(".~partial"));

it("leaves nothing that looks finished after kill -9, and the next export completes", async () => {
  const bundle = join(scratch, "bundle");
  const run = env.spawn("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--output", bundle, "--unsigned");
  let copied = 0;
  for (let i = 0; i < 6000 && copied < 40; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const [partial] = partials();
    copied = partial ? listFiles(join(scratch, partial)).length : 0;
  }
  run.child.kill("SIGKILL");
  const killed = await run.result;
  expect(killed.signal ?? killed.code).toBe("SIGKILL");
  expect(copied).toBeGreaterThanOrEqual(40);
  expect(existsSync(bundle)).toBe(false);
  expect(partials()).toHaveLength(1);
  expect(listFiles(join(scratch, partials()[0]!)).length).toBeLessThan(COUNT);
  expect(JSON.parse((await env.cli("export", "list", "--json")).stdout)).toEqual([]);

  const r = await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--output", bundle, "--unsigned", "--json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(partials()).toEqual([]);
  const v = await env.cli("export", "verify", bundle, "--insecure-skip-signature");
  expect(v.stderr).toBe("");
  expect(v.code).toBe(0);
  const list = JSON.parse((await env.cli("export", "list", "--json")).stdout) as { path: string }[];
  expect(list.map((e) => e.path)).toEqual([bundle]);
}, 180_000);
