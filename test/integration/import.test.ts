// import through the real CLI between two installations (two databases, pools, published roots): full, delta, twice, read-only, bad input refused with nothing imported, kill -9 and resume.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireLock, importLockRequest, maintenanceLockRequest } from "../../core/db/locks.js";
import { generateSigningKey } from "../../core/openpgp/sign.js";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { listFiles, startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

let a: SyncEnvironment; // the connected side
let b: SyncEnvironment; // the disconnected side
let scratch: string;
let upstream: string;
let trusted: string;
let stranger: string;

const GROUPS = "groups:\n  - id: g\n    repositories: [r1]\nenvironments: [test, prod]\n";

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "chantal-import-"));
  upstream = join(scratch, "upstream");
  await generateRpmRepo(upstream, 8, 20_000, { version: "1.0" });
  a = await startSyncEnvironment({ upstream });
  b = await startSyncEnvironment({ upstream: join(scratch, "nothing-served") });
  const key = await generateSigningKey({ name: "Connected mirror", email: "mirror@example.invalid", algorithm: "ed25519" });
  const other = await generateSigningKey({ name: "Someone else", email: "other@example.invalid", algorithm: "ed25519" });
  writeFileSync(join(scratch, "export-key.asc"), key.armoredPrivateKey, { mode: 0o600 });
  trusted = join(scratch, "trusted.asc");
  stranger = join(scratch, "stranger.asc");
  writeFileSync(trusted, key.armoredPublicKey);
  writeFileSync(stranger, other.armoredPublicKey);
  expect((await b.cli("db", "migrate")).code).toBe(0);
  for (const env of [a, b]) mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
  writeFileSync(join(a.configDir, "conf.d", "export.yaml"), `export:\n  signing:\n    key_file: ${join(scratch, "export-key.asc")}\n`);
  writeFileSync(join(a.configDir, "conf.d", "groups.yaml"), GROUPS);
  writeFileSync(join(b.configDir, "conf.d", "groups.yaml"), GROUPS);
  expect((await a.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  expect((await a.cli("snapshot", "create", "--group", "g", "--name", "g1")).code).toBe(0);
}, 180_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  if (scratch) {
    execFileSync("chmod", ["-R", "u+w", scratch]);
    rmSync(scratch, { recursive: true, force: true });
  }
});

const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

async function exportOf(name: string, ...args: string[]): Promise<string> {
  const out = join(scratch, name);
  const r = await a.cli("export", "create", "--output", out, ...args);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return out;
}

/** A tree's files and their bytes, relative to its root. */
function treeOf(root: string): Map<string, string> {
  return new Map(listFiles(root).map((f) => [relative(root, f), readFileSync(f).toString("base64")]));
}

/** What the receiver's database holds, to show that a refused import wrote nothing. */
async function counts(): Promise<Record<string, number>> {
  const r = await b.pg.query(
    `SELECT (SELECT count(*) FROM chantal.snapshots)::int AS snapshots, (SELECT count(*) FROM chantal.packages)::int AS packages,
            (SELECT count(*) FROM chantal.imports)::int AS imports, (SELECT count(*) FROM chantal.group_snapshots)::int AS groups`,
  );
  return r.rows[0];
}

const importOf = (bundle: string, ...args: string[]) => b.cli("import", bundle, ...args);

describe("bad input is refused with exit 65 and nothing imported", () => {
  let full: string;
  beforeAll(async () => {
    full = await exportOf("bad-src", "--group", "g", "--snapshot", "g1");
  }, 60_000);
  const copy = (name: string) => {
    const out = join(scratch, name);
    cpSync(full, out, { recursive: true });
    return out;
  };

  it("without a key, with another key, a changed manifest, a tampered blob, a newer format", async () => {
    const before = await counts();
    const none = await importOf(full);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--trust-key FILE .* or --insecure-skip-signature/);

    const wrong = await importOf(full, "--trust-key", stranger);
    expect(wrong.code).toBe(65);
    expect(wrong.stderr).toMatch(/not signed by a trusted key/);

    const changed = copy("bad-manifest");
    const m = readFileSync(join(changed, "manifest.json"), "utf8");
    writeFileSync(join(changed, "manifest.json"), m.replace('"description": null', '"description": "mine"'));
    const c = await importOf(changed, "--trust-key", trusted);
    expect(c.code).toBe(65);

    const tampered = copy("bad-blob");
    const manifest = JSON.parse(m) as { blobs: { sha256: string }[]; format_version: number };
    const victim = manifest.blobs.at(-1)!.sha256;
    const file = join(tampered, "blobs", victim.slice(0, 2), victim);
    const bytes = readFileSync(file);
    bytes[0] = bytes[0]! ^ 0xff;
    writeFileSync(file, bytes);
    const t = await importOf(tampered, "--trust-key", trusted);
    expect(t.code).toBe(65);
    expect(t.stderr).toContain(victim);

    const newer = copy("bad-newer");
    writeFileSync(join(newer, "manifest.json"), JSON.stringify({ ...JSON.parse(m), format_version: 99 }));
    const n = await importOf(newer, "--insecure-skip-signature");
    expect(n.code).toBe(65);
    expect(n.stderr).toMatch(/99/);
    expect(await counts()).toEqual(before);
  }, 120_000);

  it("a missing and a truncated volume of a tar bundle", async () => {
    const tar = await exportOf("bad-tar", "--group", "g", "--snapshot", "g1", "--volume-size", "48K");
    const before = await counts();
    const vols = readdirSync(tar).filter((f) => f.startsWith("volume-"));
    expect(vols.length).toBeGreaterThan(2);
    const missing = join(scratch, "bad-tar-missing");
    cpSync(tar, missing, { recursive: true });
    rmSync(join(missing, vols.at(-1)!));
    const r1 = await importOf(missing, "--trust-key", trusted);
    expect(r1.code).toBe(65);
    expect(r1.stderr).toContain(vols.at(-1)!);
    truncateSync(join(tar, vols[1]!), 1000);
    const r2 = await importOf(tar, "--trust-key", trusted);
    expect(r2.code).toBe(65);
    expect(r2.stderr).toMatch(/truncated/);
    expect(await counts()).toEqual(before);
  }, 120_000);

  it("while pool gc runs on the receiver: exit 75 naming it, nothing copied or recorded", async () => {
    const bundle = await exportOf("while-gc", "--group", "g", "--snapshot", "g1");
    const gc = await acquireLock(b.db.url, maintenanceLockRequest("exclusive", "pool gc"));
    try {
      const r = await b.cli("import", bundle, "--trust-key", trusted);
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(/pool gc is running \(.*\): import of .*while-gc not started/);
      expect((await b.pg.query(`SELECT count(*)::int AS n FROM chantal.imports`)).rows[0].n).toBe(0);
    } finally {
      await gc.release();
    }
  });

  it("while another import runs: exit 75 naming it, nothing copied or recorded", async () => {
    const bundle = await exportOf("while-import", "--group", "g", "--snapshot", "g1");
    const pooled = b.poolFiles().length;
    const other = await acquireLock(b.db.url, importLockRequest("import /media/other"));
    try {
      const r = await b.cli("import", bundle, "--trust-key", trusted);
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(/another import is running \(.* pid \d+ since .*\): import of .*while-import not started/);
      expect((await b.pg.query(`SELECT count(*)::int AS n FROM chantal.imports`)).rows[0].n).toBe(0);
      expect(b.poolFiles().length).toBe(pooled);
    } finally {
      await other.release();
    }
  });

  it("a repository the receiver does not configure: exit 78, naming it with the YAML to add", async () => {
    const other = await startSyncEnvironment({
      upstream: join(scratch, "nothing"),
      repoYaml: (u) => `  - id: elsewhere\n    type: rpm\n    upstream_url: ${u}/\n`,
    });
    try {
      const r = await other.cli("import", full, "--trust-key", trusted);
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/not configured here \(nothing was imported\)/);
      expect(r.stderr).toMatch(/- id: r1\n.*type: rpm/);
    } finally {
      await other.close();
    }
  }, 60_000);
});

describe("full, then delta, between two installations", () => {
  let full: string;
  let fullId: string;

  it("imports a full group export from a read-only directory, publishes it byte-identical to the connected side", async () => {
    full = await exportOf("full", "--group", "g", "--snapshot", "g1");
    fullId = JSON.parse(readFileSync(join(full, "manifest.json"), "utf8")).export_id;
    execFileSync("chmod", ["-R", "a-w", full]);
    const r = await importOf(full, "--trust-key", trusted, "--publish", "--promote-to", "test", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    expect(out).toMatchObject({ already_imported: false, snapshots_created: ["r1/g1"], group_snapshots_created: ["g/g1"], published: ["r1/g1"] });
    // the refused tampered import above left the blobs before the bad one in the pool (unrecorded): not copied again
    const blobCount = JSON.parse(readFileSync(join(full, "manifest.json"), "utf8")).blobs.length;
    expect(Number(out.blobs_copied) + Number(out.blobs_present)).toBe(blobCount);
    expect(out.blobs_copied).toBeGreaterThan(0);
    expect((await a.cli("publish", "snapshot", "r1", "--name", "g1")).code).toBe(0);
    const mine = treeOf(a.published("r1", "snapshots/g1"));
    expect(mine.size).toBeGreaterThan(8);
    expect(treeOf(b.published("r1", "snapshots/g1"))).toEqual(mine);
    // the environment serves it
    expect(statSync(join(b.base, "published", "test", "r1")).isDirectory()).toBe(true);
    const list = JSON.parse((await b.cli("import", "list", "--json")).stdout) as Record<string, unknown>[];
    expect(list).toMatchObject([{ export_id: fullId, kind: "full", status: "complete", base_export_id: null }]);
  }, 120_000);

  it("importing the same bundle again changes nothing", async () => {
    const before = await counts();
    const r = await importOf(full, "--trust-key", trusted, "--json");
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ already_imported: true, blobs_copied: 0 });
    expect(await counts()).toEqual(before);
  }, 60_000);

  it("a delta after an upstream change: refused without its base elsewhere, imported here; clients see the change", async () => {
    await generateRpmRepo(upstream, 9, 20_000, { version: "1.0" });
    expect((await a.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    expect((await a.cli("snapshot", "create", "--group", "g", "--name", "g2")).code).toBe(0);
    const delta = await exportOf("delta", "--group", "g", "--snapshot", "g2", "--since", fullId);
    const manifest = JSON.parse(readFileSync(join(delta, "manifest.json"), "utf8"));
    expect(manifest.kind).toBe("delta");

    const fresh = await startSyncEnvironment({ upstream: join(scratch, "nothing") });
    try {
      mkdirSync(join(fresh.configDir, "conf.d"));
      writeFileSync(join(fresh.configDir, "conf.d", "groups.yaml"), GROUPS);
      const r = await fresh.cli("import", delta, "--trust-key", trusted);
      expect(r.code).toBe(65);
      expect(r.stderr).toContain(`import ${fullId} first`);
      expect((await fresh.pg.query("SELECT count(*)::int AS n FROM chantal.imports")).rows[0].n).toBe(0);
    } finally {
      await fresh.close();
    }

    const r = await importOf(delta, "--trust-key", trusted, "--publish", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(json(r.stdout).blobs_copied).toBe(manifest.blobs.length);
    expect(manifest.blobs.length).toBeLessThan(8);
    expect((await a.cli("publish", "snapshot", "r1", "--name", "g2")).code).toBe(0);
    expect(treeOf(b.published("r1", "snapshots/g2"))).toEqual(treeOf(a.published("r1", "snapshots/g2")));
    const list = JSON.parse((await b.cli("import", "list", "--json")).stdout) as Record<string, unknown>[];
    expect(list[0]).toMatchObject({ kind: "delta", base_export_id: fullId, status: "complete" });
  }, 180_000);

  it("a snapshot of the same name with other content is refused, and so is another manifest under an imported export id", async () => {
    const before = await counts();
    const m = JSON.parse(readFileSync(join(scratch, "delta", "manifest.json"), "utf8"));
    const snap = m.snapshots[0];
    const first = Object.keys(snap.metadata).sort()[0]!;
    snap.metadata[`${first}.renamed`] = snap.metadata[first];
    delete snap.metadata[first];
    const other = join(scratch, "conflict");
    cpSync(join(scratch, "delta"), other, { recursive: true });
    rmSync(join(other, "manifest.json.asc"));
    writeFileSync(join(other, "manifest.json"), JSON.stringify(m));
    const same = await importOf(other, "--insecure-skip-signature");
    expect(same.code).toBe(65);
    expect(same.stderr).toMatch(/imported before with another manifest/);
    m.export_id = `${m.export_id.slice(0, -8)}ffffffff`;
    writeFileSync(join(other, "manifest.json"), JSON.stringify(m));
    const r = await importOf(other, "--insecure-skip-signature");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/snapshot r1\/g2 exists here with other content/);
    expect(await counts()).toEqual(before);
  }, 60_000);

  it("import inventory lists every blob the receiver records", async () => {
    const r = await b.cli("import", "inventory");
    expect(r.code).toBe(0);
    const inv = JSON.parse(r.stdout) as { format: string; blobs: string[] };
    expect(inv.format).toBe("chantal-inventory");
    const n = (await b.pg.query("SELECT (SELECT count(*) FROM chantal.packages) + (SELECT count(*) FROM chantal.metadata_files) AS n")).rows[0].n;
    expect(inv.blobs.length).toBe(Number(n));
  }, 60_000);
});
