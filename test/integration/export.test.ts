// export create / verify / list through the real CLI: a synced fixture repository, full bundles (directory, tar volumes), tampering refused, a delta.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../core/openpgp/sign.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let env: SyncEnvironment;
let scratch: string;
let upstream: string;
let trusted: string;
let stranger: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "chantal-export-"));
  upstream = join(scratch, "upstream");
  await generateRpmRepo(upstream, 8, 20_000, { version: "1.0" });
  env = await startSyncEnvironment({ upstream });
  const key = await generateSigningKey({ name: "Connected mirror", email: "mirror@example.invalid", algorithm: "ed25519" });
  const other = await generateSigningKey({ name: "Someone else", email: "other@example.invalid", algorithm: "ed25519" });
  writeFileSync(join(scratch, "export-key.asc"), key.armoredPrivateKey, { mode: 0o600 });
  trusted = join(scratch, "trusted.asc");
  stranger = join(scratch, "stranger.asc");
  writeFileSync(trusted, key.armoredPublicKey);
  writeFileSync(stranger, other.armoredPublicKey);
  const confd = join(env.configDir, "conf.d");
  mkdirSync(confd, { recursive: true });
  writeFileSync(join(confd, "export.yaml"), `export:\n  signing:\n    key_file: ${join(scratch, "export-key.asc")}\n`);
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  expect((await env.cli("snapshot", "create", "r1", "--name", "s1")).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await env?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

describe("export create", () => {
  it("writes a full directory bundle: manifest, signature, every referenced blob under blobs/<aa>/", async () => {
    const out = join(scratch, "full-dir");
    const r = await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--output", out, "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const result = json(r.stdout);
    expect(result).toMatchObject({ kind: "full", path: out, blobs_included: result.blobs_referenced, volumes: [] });
    expect(existsSync(join(out, "manifest.json.asc"))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.snapshots).toHaveLength(1);
    expect(Object.keys(manifest.snapshots[0].packages)).toHaveLength(8);
    const files = readdirSync(join(out, "blobs"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(files).toHaveLength(manifest.blobs.length);
    expect(existsSync(`${out}.~partial`)).toBe(false);
    // an existing output is refused
    const again = await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--output", out);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists already/);
  });

  it("writes tar volumes of at most --volume-size, readable by tar", async () => {
    const out = join(scratch, "full-tar");
    const r = await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--output", out, "--volume-size", "48K", "--json");
    expect(r.stderr).toBe("");
    const result = json(r.stdout) as { volumes: { file: string; size: number }[] };
    expect(result.volumes.length).toBeGreaterThan(2);
    for (const v of result.volumes) expect(v.size).toBeLessThanOrEqual(48 * 1024);
    expect(existsSync(join(out, "blobs"))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const members = result.volumes.flatMap((v) =>
      execFileSync("tar", ["tf", join(out, v.file)], { encoding: "utf8" })
        .trim()
        .split("\n"),
    );
    expect(members.sort()).toEqual(manifest.blobs.map((b: { sha256: string }) => `blobs/${b.sha256}`).sort());
    const tooSmall = await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--output", join(scratch, "x"), "--volume-size", "8K");
    expect(tooSmall.code).toBe(2);
    expect(tooSmall.stderr).toMatch(/blob [0-9a-f]{64} is \d+ bytes: .* does not fit in a volume of 8192 bytes/);
  });
});
