// backup.encrypt through the real CLI with keys made by openpgp.js: on disk and in S3 (s3rver) the archive's bytes hide
// the data, list/info read the manifest without a key, verify/restore with --identity restore into PostgreSQL, and no
// identity, another key, a wrong passphrase or a flipped ciphertext byte are refused (non-zero, nothing restored).
import { createHash } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as openpgp from "openpgp";
import S3rver from "s3rver";
import { create as createTar, extract as extractTar, list as listTar } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { runCli } from "../helpers/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_ACCESS_KEY_ID = "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
delete process.env.AWS_PROFILE;

let env: SyncEnvironment;
let upstream: string;
let work: string;
let s3dir: string;
let server: S3rver;
const PASSPHRASE = "correct horse battery";

async function makeKey(name: string, passphrase?: string): Promise<{ secret: string; public: string; fingerprint: string }> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: "ecc",
    curve: "curve25519Legacy",
    userIDs: [{ name, email: `${name}@test.invalid` }],
    format: "armored",
    ...(passphrase ? { passphrase } : {}),
  });
  const secret = join(work, `${name}.secret.asc`);
  const pub = join(work, `${name}.public.asc`);
  writeFileSync(secret, privateKey);
  writeFileSync(pub, publicKey);
  const fingerprint = (await openpgp.readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase();
  return { secret, public: pub, fingerprint };
}

/** The CLI with the identity's passphrase in the environment (or another value). */
function cli(args: string[], passphrase: string | null = PASSPHRASE) {
  return runCli(["--config-dir", env.configDir, ...args], {
    env: { CHANTAL_LOG_LEVEL: "warn", ...(passphrase !== null ? { CHANTAL_BACKUP_IDENTITY_PASSPHRASE: passphrase } : {}) },
  });
}

/** A table a restore removes with the rest of the schema it replaces: there, nothing was restored. */
async function plantProbe(): Promise<void> {
  await env.pg.query("CREATE TABLE IF NOT EXISTS chantal.restore_probe (v int)");
}
/** Dropped after a refusal: a later backup must not carry a table outside Chantal's schema. */
async function dropProbe(): Promise<void> {
  await env.pg.query("DROP TABLE IF EXISTS chantal.restore_probe");
}
async function probeThere(): Promise<boolean> {
  return (await env.pg.query("SELECT to_regclass('chantal.restore_probe') AS t")).rows[0].t !== null;
}

async function packageNames(): Promise<string[]> {
  return (await env.pg.query("SELECT name FROM chantal.packages ORDER BY name")).rows.map((r) => r.name as string);
}

describe("encrypted backups", () => {
  let ours: Awaited<ReturnType<typeof makeKey>>;
  let other: Awaited<ReturnType<typeof makeKey>>;
  let endpoint: string;
  let names: string[];

  beforeAll(async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    work = mkdtempSync(join(tmpdir(), "chantal-enc-"));
    s3dir = mkdtempSync(join(tmpdir(), "chantal-s3rver-"));
    server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: s3dir, configureBuckets: [{ name: "backups" }] });
    endpoint = `http://127.0.0.1:${(await server.run()).port}`;
    await generateRpmRepo(upstream, 4, 1_024, { version: "1.0" });
    env = await startSyncEnvironment({ upstream });
    ours = await makeKey("chantal-restore", PASSPHRASE);
    other = await makeKey("someone-else");
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    appendFileSync(
      join(env.configDir, "config.yaml"),
      `backup:\n  encrypt:\n    recipients: [${ours.public}]\n  s3:\n    endpoint: ${endpoint}\n    region: us-east-1\n    force_path_style: true\n`,
    );
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
    names = await packageNames();
    expect(names.length).toBe(4);
  });
  afterAll(async () => {
    await env?.close();
    await server?.close();
    for (const d of [upstream, work, s3dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("config validate refuses backup.encrypt without recipients, naming the file and the key", async () => {
    const bad = join(env.configDir, "conf.d", "enc.yaml");
    for (const [yaml, message] of [
      ["backup:\n  encrypt: {}\n", /backup\.encrypt\.recipients.*needs recipients/],
      ["backup:\n  encrypt:\n    recipients: []\n", /backup\.encrypt\.recipients.*at least one recipient/],
    ] as const) {
      writeFileSync(bad, yaml);
      const r = await env.cli("config", "validate");
      expect(r.code, r.stdout + r.stderr).toBe(78);
      expect(r.stdout + r.stderr).toMatch(/conf\.d\/enc\.yaml/);
      expect(r.stdout + r.stderr).toMatch(message);
    }
    rmSync(bad);
    expect((await env.cli("config", "validate")).code).toBe(0);
  });

  it("on disk: the bytes hide the data, list/info need no key, verify and restore with --identity restore the database", async () => {
    const file = join(work, "enc.encrypted.tar");
    const b = await env.cli("db", "backup", "--output", file, "--json");
    expect(b.code, b.stderr).toBe(0);
    const bytes = readFileSync(file);
    for (const n of names) expect(bytes.includes(Buffer.from(n))).toBe(false);
    expect(bytes.includes(Buffer.from("COPY"))).toBe(false);
    const members: string[] = [];
    await listTar({ file, onReadEntry: (e) => void members.push(e.path) });
    expect(members).toEqual(["manifest.json", "payload.tar.gz.pgp"]);

    const info = await env.cli("db", "backup-info", file);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(new RegExp(`encryption: +OpenPGP, to ${ours.fingerprint}`));
    expect(info.stdout).toMatch(/contents: +1 repositories, 4 packages/);
    const list = await env.cli("db", "backup-list", "--target", work, "--json");
    expect(JSON.parse(list.stdout)).toMatchObject([{ name: "enc.encrypted.tar", valid: true, packages: 4, encrypted_to: [ours.fingerprint] }]);

    const noIdentity = await env.cli("db", "backup-verify", file);
    expect(noIdentity.code).toBe(1);
    expect(noIdentity.stdout).toMatch(/✓ payload.tar.gz.pgp sha256/);
    expect(noIdentity.stdout).toMatch(/✗ contents decrypted — the backup is encrypted to .*: give --identity FILE/);

    const v = await cli(["db", "backup-verify", file, "--identity", ours.secret, "--deep"]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/✓ decrypts with --identity/);
    expect(v.stdout).toMatch(/✓ database.sql.gz sha256/);
    expect(v.stdout).toMatch(/✓ scratch restore rolled back/);

    await plantProbe();
    const r = await cli(["db", "restore", file, "--yes", "--no-restore-config", "--identity", ours.secret]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await packageNames()).toEqual(names);
    expect(await probeThere()).toBe(false);
  });

  it("refuses no identity, another key, a wrong passphrase and a flipped ciphertext byte: non-zero, nothing restored", async () => {
    const file = join(work, "refuse.encrypted.tar");
    expect((await env.cli("db", "backup", "--output", file)).code).toBe(0);
    const tampered = join(work, "tampered.encrypted.tar");
    const bytes = readFileSync(file);
    const flip = Math.floor(bytes.length / 2);
    bytes[flip] = bytes[flip]! ^ 0xff;
    writeFileSync(tampered, bytes);
    await plantProbe();

    const cases: [string, string[], string | null, RegExp][] = [
      ["no identity", ["db", "restore", file, "--yes", "--no-restore-config"], null, /encrypted to .*give --identity FILE/],
      [
        "another key",
        ["db", "restore", file, "--yes", "--no-restore-config", "--identity", other.secret],
        null,
        new RegExp(`is key ${other.fingerprint}, not one of them`),
      ],
      [
        "wrong passphrase",
        ["db", "restore", file, "--yes", "--no-restore-config", "--identity", ours.secret],
        "wrong",
        /cannot unlock --identity .* with CHANTAL_BACKUP_IDENTITY_PASSPHRASE/,
      ],
      [
        "no passphrase",
        ["db", "restore", file, "--yes", "--no-restore-config", "--identity", ours.secret],
        null,
        /protected by a passphrase: set CHANTAL_BACKUP_IDENTITY_PASSPHRASE/,
      ],
      [
        "tampered",
        ["db", "restore", tampered, "--yes", "--no-restore-config", "--identity", ours.secret],
        PASSPHRASE,
        /the ciphertext was modified or truncated; refused/,
      ],
      [
        "tampered verify",
        ["db", "backup-verify", tampered, "--identity", ours.secret],
        PASSPHRASE,
        /✗ payload.tar.gz.pgp sha256 .*the ciphertext was modified/,
      ],
    ];
    for (const [what, args, passphrase, message] of cases) {
      const r = await cli(args, passphrase);
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).not.toBe(0);
      expect(r.stdout + r.stderr, what).toMatch(message);
    }
    expect(await probeThere()).toBe(true);
    await dropProbe();
  });

  it("a flipped ciphertext byte with the manifest's sha256 recomputed (no signing) is caught by the OpenPGP integrity check", async () => {
    const file = join(work, "recomputed-src.encrypted.tar");
    expect((await env.cli("db", "backup", "--output", file)).code).toBe(0);
    const dir = mkdtempSync(join(work, "x-"));
    await extractTar({ file, cwd: dir });
    const payload = readFileSync(join(dir, "payload.tar.gz.pgp"));
    const flip = Math.floor(payload.length / 2);
    payload[flip] = payload[flip]! ^ 0x01;
    writeFileSync(join(dir, "payload.tar.gz.pgp"), payload);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    manifest.encryption.payload_sha256 = createHash("sha256").update(payload).digest("hex");
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    const crafted = join(work, "recomputed.encrypted.tar");
    await createTar({ file: crafted, cwd: dir, portable: true }, ["manifest.json", "payload.tar.gz.pgp"]);
    await plantProbe();
    const v = await cli(["db", "backup-verify", crafted, "--identity", ours.secret]);
    expect(v.code, v.stdout).toBe(1);
    expect(v.stdout).toMatch(/✓ payload.tar.gz.pgp sha256/);
    expect(v.stdout).toMatch(/✗ decrypts with --identity — payload.tar.gz.pgp does not decrypt: .*Modification detected/);
    const r = await cli(["db", "restore", crafted, "--yes", "--no-restore-config", "--identity", ours.secret]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Modification detected/);
    expect(await probeThere()).toBe(true);
    await dropProbe();
  });

  it("in S3: the object hides the data, list works without a key, restore from the URL with --identity", async () => {
    const b = await env.cli("db", "backup", "--target", "s3://backups/enc", "--json");
    expect(b.code, b.stderr).toBe(0);
    const location = JSON.parse(b.stdout).location as string;
    expect(location).toMatch(/^s3:\/\/backups\/enc\/chantal-backup-\d{8}-\d{6}\.encrypted\.tar$/);
    const res = await fetch(`${endpoint}/backups/enc/${location.split("/").at(-1)}`);
    const object = Buffer.from(await res.arrayBuffer());
    expect(object.length).toBeGreaterThan(1000);
    for (const n of names) expect(object.includes(Buffer.from(n))).toBe(false);
    const list = await env.cli("db", "backup-list", "--target", "s3://backups/enc");
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/ok \(encrypted\)/);
    await plantProbe();
    const r = await cli(["db", "restore", location, "--yes", "--no-restore-config", "--identity", ours.secret]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await packageNames()).toEqual(names);
    expect(await probeThere()).toBe(false);
  });
});
