// export create / verify / list through the real CLI: a synced fixture repository, full bundles (directory, tar volumes), tampering refused, a delta.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../core/openpgp/sign.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { makeConfigDir, runCli } from "../helpers/cli.js";
import { createTestDatabase } from "../helpers/db.js";
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
  writeFileSync(join(confd, "groups.yaml"), "groups:\n  - id: g\n    repositories: [r1]\nenvironments: [test, prod]\n");
  expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  expect((await env.cli("snapshot", "create", "r1", "--name", "s1")).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await env?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** What export create is writing, or a killed one left, beside the bundle `out`. */
function partialsBeside(out: string): string[] {
  return readdirSync(dirname(out)).filter((n) => n.endsWith(".~partial"));
}

const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

describe("export create", () => {
  it("writes a full directory bundle: manifest, signature, every referenced blob under blobs/<aa>/", async () => {
    const out = join(scratch, "full-dir");
    // What an export killed on this host left (its pid is gone) is swept by the next export into the same directory.
    const deadPid = spawnSync("true").pid!;
    const killed = join(scratch, `killed~${hostname()}~${deadPid}~.~partial`);
    mkdirSync(join(killed, "blobs"), { recursive: true });
    const r = await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--output", out, "--json");
    expect(existsSync(killed)).toBe(false);
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
    expect(partialsBeside(out)).toEqual([]);
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

  it("export list shows both, newest first", async () => {
    const r = await env.cli("export", "list", "--json");
    const rows = JSON.parse(r.stdout) as { kind: string; selection: { kind: string }; volume_count: number; base_export_id: string | null }[];
    expect(rows.map((x) => x.volume_count > 0)).toEqual([true, false]);
    expect(rows.every((x) => x.kind === "full" && x.base_export_id === null && x.selection.kind === "snapshot")).toBe(true);
    const text = await env.cli("export", "list");
    expect(text.stdout).toMatch(/snapshot r1\/s1/);
  });
});

/** A copy of a bundle to damage, so the intact ones stay for the other tests. */
function copyOf(bundle: string, name: string): string {
  const out = join(scratch, name);
  execFileSync("cp", ["-a", bundle, out]);
  return out;
}

const verify = (bundle: string, ...args: string[]) => env.cli("export", "verify", bundle, ...args);

describe("export verify", () => {
  it("accepts intact bundles signed by the trusted key, in both forms", async () => {
    for (const b of ["full-dir", "full-tar"]) {
      const r = await verify(join(scratch, b), "--trust-key", trusted);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/signature: good/);
      expect(r.stdout).toMatch(/✓ the bundle is complete and intact/);
      expect(r.code).toBe(0);
    }
    const json = JSON.parse((await verify(join(scratch, "full-tar"), "--trust-key", trusted, "--json")).stdout);
    expect(json).toMatchObject({ ok: true, kind: "full", problems: [], external: null });
  });

  it("refuses without a trusted key, with another key, and a changed manifest", async () => {
    const none = await verify(join(scratch, "full-dir"));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--trust-key FILE/);
    const wrong = await verify(join(scratch, "full-dir"), "--trust-key", stranger);
    expect(wrong.code).toBe(65);
    expect(wrong.stderr).toMatch(/not signed by a trusted key/);
    const bundle = copyOf(join(scratch, "full-dir"), "bad-manifest");
    const manifest = readFileSync(join(bundle, "manifest.json"), "utf8");
    writeFileSync(join(bundle, "manifest.json"), manifest.replace('"description": null', '"description": "mine"'));
    const changed = await verify(bundle, "--trust-key", trusted);
    expect(changed.code).toBe(65);
    expect(changed.stderr).toMatch(/manifest\.json/);
    rmSync(join(bundle, "manifest.json.asc"));
    const unsigned = await verify(bundle, "--trust-key", trusted);
    expect(unsigned.code).toBe(65);
    expect(unsigned.stderr).toMatch(/is unsigned \(no manifest\.json\.asc\)/);
  });

  it("names a tampered, a missing and a stray blob of a directory bundle", async () => {
    const bundle = copyOf(join(scratch, "full-dir"), "bad-blobs");
    const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8")) as { blobs: { sha256: string; size: number }[] };
    const [a, b] = manifest.blobs;
    const pathOf = (sha: string) => join(bundle, "blobs", sha.slice(0, 2), sha);
    const data = readFileSync(pathOf(a!.sha256));
    data[0] = data[0]! ^ 0xff;
    writeFileSync(pathOf(a!.sha256), data);
    unlinkSync(pathOf(b!.sha256));
    writeFileSync(join(bundle, "blobs", "extra"), "x");
    const r = await verify(bundle, "--trust-key", trusted);
    expect(r.code).toBe(65);
    expect(r.stdout).toMatch(/✗ 3 problems/);
    expect(r.stdout).toContain(`blob ${a!.sha256} has sha256`);
    expect(r.stdout).toContain(`blob ${b!.sha256} is missing from the bundle`);
    expect(r.stdout).toContain("blobs/extra is not a blob the manifest lists");
  });

  it("names a truncated, a missing and an altered volume", async () => {
    const bundle = copyOf(join(scratch, "full-tar"), "bad-volumes");
    truncateSync(join(bundle, "volume-0001.tar"), 10_000);
    unlinkSync(join(bundle, "volume-0002.tar"));
    const third = readFileSync(join(bundle, "volume-0003.tar"));
    third[600] = third[600]! ^ 0xff; // inside the first member's data
    writeFileSync(join(bundle, "volume-0003.tar"), third);
    const r = await verify(bundle, "--trust-key", trusted, "--json");
    expect(r.code).toBe(65);
    const problems = JSON.parse(r.stdout).problems as string[];
    expect(problems[0]).toMatch(/volume-0001\.tar: volume 1 of \d+ is 10000 bytes, the manifest says \d+: it is truncated/);
    expect(problems[1]).toMatch(/volume-0002\.tar: volume 2 of \d+ is missing: copy it next to manifest\.json/);
    expect(problems[2]).toMatch(/volume-0003\.tar: blob [0-9a-f]{64} has sha256/);
    expect(problems[3]).toMatch(/volume-0003\.tar: volume 3 has sha256 [0-9a-f]{64}, the manifest says/);
  });
});

describe("a delta", () => {
  it("after an upstream change holds only the changed blobs, and --against names the missing base", async () => {
    const rows = JSON.parse((await env.cli("export", "list", "--json")).stdout) as { export_id: string; volume_count: number }[];
    const base = rows.find((r) => r.volume_count === 0)!.export_id;
    const before = JSON.parse(readFileSync(join(scratch, "full-dir", "manifest.json"), "utf8")) as { blobs: { sha256: string }[] };
    rmSync(upstream, { recursive: true });
    await generateRpmRepo(upstream, 9, 20_000, { version: "1.0" });
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    expect((await env.cli("snapshot", "create", "r1", "--name", "s2")).code).toBe(0);
    const out = join(scratch, "delta");
    const r = await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s2", "--since", base, "--output", out, "--json");
    expect(r.stderr).toBe("");
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ kind: "delta", base_export_id: base, base_description: `export ${base}` });
    const delta = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as {
      blobs: { sha256: string }[];
      packages: { sha256: string; name: string }[];
      snapshots: { packages: Record<string, string>; metadata: Record<string, string> }[];
    };
    const old = new Set(before.blobs.map((b) => b.sha256));
    expect(delta.blobs.every((b) => !old.has(b.sha256))).toBe(true);
    const newPackages = delta.packages.filter((p) => !old.has(p.sha256));
    expect(newPackages.map((p) => p.name)).toEqual(["pkg000008"]);
    expect(Object.keys(delta.snapshots[0]!.packages)).toHaveLength(9);
    expect(delta.blobs.map((b) => b.sha256)).toContain(newPackages[0]!.sha256);
    const referenced = new Set([...Object.values(delta.snapshots[0]!.packages), ...Object.values(delta.snapshots[0]!.metadata)]);
    expect(result.blobs_referenced).toBe(referenced.size);
    expect(result.blobs_included).toBe([...referenced].filter((sha) => !old.has(sha)).length);

    // Here every other blob is in the pool; an installation without the base has none of them.
    const here = await verify(out, "--trust-key", trusted, "--against");
    expect(here.stdout).toMatch(/further blobs are expected at the receiver: all here/);
    expect(here.code).toBe(0);
    const other = await createTestDatabase("exp");
    try {
      const otherConfig = makeConfigDir({ "config.yaml": `storage:\n  base_path: ${join(scratch, "other")}\ndatabase:\n  url: ${other.url}\n` });
      const there = await runCli(["--config-dir", otherConfig, "export", "verify", out, "--trust-key", trusted, "--against"], {
        env: { CHANTAL_LOG_LEVEL: "warn" },
      });
      expect(there.code).toBe(65);
      expect(there.stdout).toMatch(new RegExp(`a delta: \\d+ of the \\d+ blobs it expects at the receiver are not here .*: import export ${base} first`));
      rmSync(otherConfig, { recursive: true, force: true });
    } finally {
      await other.drop();
    }
    // --since a snapshot and --have an inventory cut the same delta
    const bySnapshot = JSON.parse(
      (await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s2", "--since", "r1/s1", "--output", join(scratch, "d2"), "--json")).stdout,
    );
    expect(bySnapshot).toMatchObject({ kind: "delta", base_export_id: null, base_description: "snapshot r1/s1", blobs_included: result.blobs_included });
    writeFileSync(
      join(scratch, "have.json"),
      JSON.stringify({
        format: "chantal-inventory",
        instance_id: "00000000-0000-4000-8000-000000000000",
        created_at: new Date().toISOString(),
        blobs: [...old],
      }),
    );
    const nothing = await env.cli("export", "create", "--env", "nowhere", "--output", join(scratch, "d4"));
    expect(nothing.stderr).toMatch(/environment nowhere serves nothing: promote a group snapshot there first/);
    const have = JSON.parse(
      (
        await env.cli(
          "export",
          "create",
          "--repo-id",
          "r1",
          "--snapshot",
          "s2",
          "--have",
          join(scratch, "have.json"),
          "--output",
          join(scratch, "d3"),
          "--json",
        )
      ).stdout,
    );
    expect(have).toMatchObject({ kind: "delta", base_description: "inventory have.json", blobs_included: result.blobs_included });
  });
});

describe("groups and environments", () => {
  it("exports a group snapshot and what an environment serves, with their group and environment rows", async () => {
    expect((await env.cli("snapshot", "create", "--group", "g", "--name", "g1")).code).toBe(0);
    expect((await env.cli("promote", "--group", "g", "--snapshot", "g1", "--to", "test")).code).toBe(0);
    const group = JSON.parse((await env.cli("export", "create", "--group", "g", "--snapshot", "g1", "--output", join(scratch, "group"), "--json")).stdout);
    expect(group).toMatchObject({ kind: "full", snapshots: ["r1/g1"] });
    const gm = JSON.parse(readFileSync(join(scratch, "group", "manifest.json"), "utf8"));
    expect(gm.group_snapshots).toMatchObject([{ group: "g", name: "g1", members: ["r1"] }]);
    expect(gm.environments).toEqual([]);
    const e = await env.cli("export", "create", "--env", "test", "--unsigned", "--format", "tar", "--output", join(scratch, "env"), "--json");
    expect(e.stderr).toBe("");
    expect(JSON.parse(e.stdout)).toMatchObject({ signed_by: null, snapshots: ["r1/g1"] });
    const em = JSON.parse(readFileSync(join(scratch, "env", "manifest.json"), "utf8"));
    expect(em.selection).toEqual({ kind: "environment", environment: "test" });
    expect(em.environments).toEqual([{ environment: "test", group: "g", snapshot: "g1" }]);
    expect(existsSync(join(scratch, "env", "manifest.json.asc"))).toBe(false);
    const unsigned = await verify(join(scratch, "env"), "--insecure-skip-signature");
    expect(unsigned.stdout).toMatch(/signature: NOT checked/);
    expect(unsigned.code).toBe(0);
    expect((await verify(join(scratch, "env"), "--trust-key", trusted)).code).toBe(65);
    // without --output: <export.dir>/<export id>, export.dir defaulting to <base_path>/exports
    const def = JSON.parse((await env.cli("export", "create", "--group", "g", "--snapshot", "g1", "--json")).stdout) as { export_id: string; path: string };
    expect(def.path).toBe(join(env.base, "exports", def.export_id));
    expect(def.export_id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    expect(existsSync(join(def.path, "manifest.json"))).toBe(true);
    const empty = await env.cli("export", "create", "--env", "prod", "--output", join(scratch, "prod"));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/environment prod serves nothing/);
  });
});

describe("a damaged pool", () => {
  it("stops the export naming the blob; nothing is left that looks like a bundle, nothing is recorded", async () => {
    const before = JSON.parse((await env.cli("export", "list", "--json")).stdout) as unknown[];
    const r = await env.pg.query(`SELECT sha256 FROM chantal.packages WHERE name = 'pkg000003'`);
    const sha = (r.rows[0].sha256 as string).trim();
    const file = join(env.base, "pool", sha.slice(0, 2), sha);
    const bytes = readFileSync(file);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(file, bytes);
    for (const format of ["dir", "tar"]) {
      const out = join(scratch, `from-damaged-${format}`);
      const e = await env.cli("export", "create", "--repo-id", "r1", "--snapshot", "s1", "--format", format, "--output", out);
      expect(e.code).toBe(1);
      expect(e.stderr).toContain(`pool blob ${sha}`);
      expect(e.stderr).toMatch(/the pool is damaged; run "pool verify --deep"/);
      expect(existsSync(out)).toBe(false);
      expect(partialsBeside(out)).toEqual([]);
    }
    expect(JSON.parse((await env.cli("export", "list", "--json")).stdout)).toHaveLength(before.length);
  });
});
