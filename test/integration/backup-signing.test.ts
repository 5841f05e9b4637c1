// backup.signing through the real CLI: backups are signed with a gpg-made key; verify and restore check the signature
// before reading any other member, so a crafted archive with recomputed checksums, an unsigned one, or one signed by
// another key is refused; on a bare host --keyring is enough.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { list as listTar } from "tar";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { runCli } from "../helpers/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";
import { recraftArchive } from "../unit/backup/craft-archive.js";

let env: SyncEnvironment;
let upstream: string;
let work: string;
const homes: string[] = [];

/** A gpg key as an administrator makes one: the secret key exported armored and passphrase-protected. */
function makeKey(name: string, passphrase: string): { secret: string; public: string } {
  const home = mkdtempSync(join(tmpdir(), "ct-bkey-"));
  homes.push(home);
  const gpg = (...args: string[]) => execFileSync("gpg", ["--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase, ...args]);
  gpg("--quick-gen-key", `${name} <backup@test.invalid>`, "ed25519", "sign", "never");
  const secret = join(env.configDir, `${name}.secret.asc`);
  const pub = join(work, `${name}.public.asc`);
  writeFileSync(secret, gpg("--armor", "--export-secret-keys"));
  writeFileSync(pub, gpg("--armor", "--export"));
  return { secret, public: pub };
}

const tools = ["gpg"];
describeWithTools(tools, "signed backups", () => {
  let key: { secret: string; public: string };
  let signed: string;

  beforeAll(async () => {
    upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
    work = mkdtempSync(join(tmpdir(), "chantal-signing-"));
    await generateRpmRepo(upstream, 4, 1_024, { version: "1.0" });
    env = await startSyncEnvironment({ upstream });
    key = makeKey("chantal-backups", "correct horse");
    mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
    writeFileSync(join(env.configDir, "conf.d", "backup.yaml"), `backup:\n  signing:\n    key_file: ${key.secret}\n    passphrase: "correct horse"\n`);
    expect((await env.cli("repo", "sync", "--repo-id", "r1")).code).toBe(0);
  });
  afterAll(async () => {
    await env?.close();
    for (const d of [upstream, work, ...homes]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("signs every backup: manifest.json.asc right after manifest.json, and verify says it is valid", async () => {
    const b = await env.cli("db", "backup", "--output", join(work, "signed.tar"), "--no-compress", "--json");
    expect(b.code, b.stderr).toBe(0);
    signed = join(work, "signed.tar");
    const members: string[] = [];
    await listTar({ file: signed, onReadEntry: (e) => void members.push(e.path) });
    expect(members.slice(0, 2)).toEqual(["manifest.json", "manifest.json.asc"]);
    // the signing key lives in the configuration directory, but never in a backup
    expect(readFileSync(signed, "utf8")).not.toContain("PRIVATE KEY BLOCK");
    expect(members).toContain("config/conf.d/backup.yaml");
    const v = await env.cli("db", "backup-verify", signed, "--deep");
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`✓ manifest.json signature — valid, by a key of ${key.secret}`));
    expect(v.stdout).toMatch(/✓ scratch restore rolled back/);
  });

  it("refuses a crafted archive with recomputed checksums, an unsigned one, and one signed by another key, before reading the dump", async () => {
    const original = await readSignature(signed);
    const crafted: [string, Buffer, RegExp][] = [
      [
        "recomputed.tar",
        await recraftArchive(signed, (d) => d.replace("\nSELECT pg_catalog.setval", "\nDROP TABLE x;\nSELECT pg_catalog.setval"), { signature: original }),
        /manifest.json is not validly signed by a key of/,
      ],
      ["unsigned.tar", await recraftArchive(signed, (d) => d), /the backup is not signed \(no manifest.json.asc after manifest.json\)/],
    ];
    const other = makeKey("someone-else", "x");
    const otherSigned = await recraftArchive(signed, (d) => d, { signature: Buffer.from("placeholder") });
    writeFileSync(join(work, "other.tar"), otherSigned);
    crafted.push(["other.tar", await signWith(other.secret, "x", otherSigned), /not validly signed by a key of/]);
    for (const [file, data] of crafted) writeFileSync(join(work, file), data);
    for (const [file, , message] of crafted) {
      const v = await env.cli("db", "backup-verify", join(work, file), "--deep");
      expect(v.code, `${file}: ${v.stdout}`).toBe(1);
      expect(v.stdout).toMatch(new RegExp(`✗ manifest.json signature — .*${message.source}`));
      // nothing after the signature was read: no check of the dump at all
      expect(v.stdout).not.toMatch(/database dump|database.sql sha256/);
      const r = await env.cli("db", "restore", join(work, file), "--yes", "--no-restore-config");
      expect(r.code, `${file}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it("on a bare host, --keyring with the public key verifies it; without a keyring the signature is reported as not checked", async () => {
    const bare = join(work, "no-such-config");
    const ok = await runCli(["--config-dir", bare, "db", "backup-verify", signed, "--keyring", key.public], { env: { CHANTAL_LOG_LEVEL: "warn" } });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/✓ manifest.json signature — valid, by a key of .*public.asc/);
    const unchecked = await runCli(["--config-dir", bare, "db", "backup-verify", signed], { env: { CHANTAL_LOG_LEVEL: "warn" } });
    expect(unchecked.code).toBe(0);
    expect(unchecked.stdout).toMatch(/✓ manifest.json signature — present, not checked/);
  });

  it("a wrong passphrase fails the backup before anything is dumped, naming the key (exit 78)", async () => {
    writeFileSync(join(env.configDir, "conf.d", "backup.yaml"), `backup:\n  signing:\n    key_file: ${key.secret}\n    passphrase: "wrong"\n`);
    try {
      const b = await env.cli("db", "backup", "--target", join(work, "never"));
      expect(b.code, b.stderr).toBe(78);
      expect(b.stderr).toMatch(/backup.signing.passphrase: cannot unlock .*chantal-backups.secret.asc/);
    } finally {
      writeFileSync(join(env.configDir, "conf.d", "backup.yaml"), `backup:\n  signing:\n    key_file: ${key.secret}\n    passphrase: "correct horse"\n`);
    }
  });
});

async function readSignature(archive: string): Promise<Buffer> {
  let sig: Buffer | undefined;
  await listTar({
    file: archive,
    onReadEntry: (e) => {
      if (e.path !== "manifest.json.asc") return e.resume();
      const chunks: Buffer[] = [];
      e.on("data", (c: Buffer) => chunks.push(c));
      e.on("end", () => (sig = Buffer.concat(chunks)));
    },
  });
  if (!sig) throw new Error("no signature");
  return sig;
}

/** The archive with its manifest signed by another key (gpg --detach-sign), as an attacker with their own key would. */
async function signWith(secretKey: string, passphrase: string, archive: Buffer): Promise<Buffer> {
  const dir = mkdtempSync(join(work, "resign-"));
  const home = mkdtempSync(join(tmpdir(), "ct-bkey-"));
  homes.push(home);
  const gpg = (...args: string[]) => execFileSync("gpg", ["--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase, ...args]);
  gpg("--import", secretKey);
  const tarPath = join(dir, "a.tar");
  writeFileSync(tarPath, archive);
  const { x } = await import("tar");
  await x({ file: tarPath, cwd: dir });
  const manifest = readFileSync(join(dir, "manifest.json"));
  writeFileSync(join(dir, "m.json"), manifest);
  gpg("--armor", "--output", join(dir, "m.json.asc"), "--detach-sign", join(dir, "m.json"));
  const { rawTar } = await import("../unit/backup/craft-archive.js");
  const dump = readFileSync(join(dir, "database.sql"));
  return rawTar([
    { path: "manifest.json", data: manifest },
    { path: "manifest.json.asc", data: readFileSync(join(dir, "m.json.asc")) },
    { path: "database.sql", data: dump },
  ]);
}
