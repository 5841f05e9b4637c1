// core/openpgp/sign.ts against GnuPG: what openpgp.js signs, gpgv verifies (detached and clearsigned, RSA 4096 and
// ed25519, keys made by openpgp.js or by gpg), apt-get accepts an armored Release.gpg and keys as .gpg or .asc, and
// every unusable key is refused with a configuration error (exit 78) naming the file and the fix.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as openpgp from "openpgp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ExitCode } from "../../core/errors.js";
import { generateSigningKey, loadSigner, loadSigningKey, SigningKeyError, type KeyAlgorithm } from "../../core/openpgp/sign.js";
import { splitClearsigned } from "../../core/openpgp/signature.js";
import { APT_TOOLS, aptClient, buildDeb, writeAptRepo } from "../helpers/apt-fixtures.js";
import { describeWithTools } from "../helpers/tools.js";

let work: string;
const homes: string[] = [];

function write(name: string, data: string | Uint8Array): string {
  const path = join(work, name);
  writeFileSync(path, data);
  return path;
}

/** gpgv with `keyring` (binary) over a detached signature, or over a clearsigned file when `data` is undefined. */
function gpgv(keyring: string, signature: string, data?: string): { ok: boolean; output: string } {
  const r = spawnSync("gpgv", ["--keyring", keyring, signature, ...(data ? [data] : [])], { encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

function gpgHome(): string {
  const home = mkdtempSync(join(tmpdir(), "ct-sign-gpg-"));
  homes.push(home);
  return home;
}

function gpgIn(home: string, passphrase: string, ...args: string[]): Buffer {
  return execFileSync("gpg", ["--homedir", home, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", passphrase, ...args]);
}

const signing = (key_file: string, passphrase?: string) => ({
  key_file,
  resign: false,
  public_key_name: "chantal-mirror",
  ...(passphrase ? { passphrase } : {}),
});

async function refusal(p: Promise<unknown>): Promise<SigningKeyError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SigningKeyError);
  expect((err as SigningKeyError).exitCode).toBe(ExitCode.config);
  return err as SigningKeyError;
}

describeWithTools(["gpg", "gpgv"], "signing with openpgp.js, verified by GnuPG", () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "chantal-sign-"));
  });
  afterAll(() => {
    for (const h of homes) spawnSync("gpgconf", ["--homedir", h, "--kill", "gpg-agent"]);
    for (const d of [work, ...homes]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it.each(["rsa4096", "ed25519"] as KeyAlgorithm[])(
    "a %s key made by generateSigningKey signs what gpgv verifies: detached and clearsigned, SHA512",
    async (algorithm) => {
      const made = await generateSigningKey({ name: "Mirror", email: "mirror@test.invalid", algorithm, passphrase: "s3cret" });
      const keyFile = write(`${algorithm}.secret.asc`, made.armoredPrivateKey);
      const signer = await loadSigner(signing(keyFile, "s3cret"), "signing");
      expect(signer.fingerprint).toBe(made.fingerprint);
      const keyring = write(`${algorithm}.gpg`, signer.publicKeyBinary());
      // gpg reads the armored and the binary public key alike, with the same fingerprint.
      const shown = execFileSync("gpg", ["--with-colons", "--show-keys", write(`${algorithm}.pub.asc`, signer.publicKeyArmored())], { encoding: "utf8" });
      expect(shown).toContain(`fpr:::::::::${made.fingerprint}:`);
      expect(shown).toMatch(algorithm === "rsa4096" ? /^pub:[^:]*:4096:1:/m : /^pub:[^:]*:255:22:/m);

      const data = Buffer.from("<?xml version='1.0'?>\n<repomd>\n  - a dash line\n</repomd>\n");
      const dataFile = write(`${algorithm}.repomd.xml`, data);
      const detached = await signer.signDetached(data);
      expect(detached).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
      expect(gpgv(keyring, write(`${algorithm}.repomd.xml.asc`, detached), dataFile)).toMatchObject({ ok: true });
      // The signature covers exactly these bytes.
      expect(gpgv(keyring, join(work, `${algorithm}.repomd.xml.asc`), write(`${algorithm}.other.xml`, Buffer.concat([data, Buffer.from(" ")]))).ok).toBe(false);

      const release = "Origin: Chantal\nSuite: stable\n-Leading: dash\nSHA256:\n abc 12 main/binary-amd64/Packages\n";
      const inRelease = await signer.clearsign(release);
      expect(inRelease).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n/);
      const v = gpgv(keyring, write(`${algorithm}.InRelease`, inRelease));
      expect(v.ok, v.output).toBe(true);
      // LF line ends, the dash line escaped, and the text apt reads back is the Release we signed.
      expect(inRelease).not.toContain("\r");
      expect(inRelease).toContain("\n- -Leading: dash\n");
      expect(splitClearsigned(inRelease, "InRelease").payload).toBe(release);
    },
  );

  it("a key made and exported by gpg (passphrase-protected) loads and signs what gpgv verifies", async () => {
    const home = gpgHome();
    gpgIn(home, "correct horse", "--quick-gen-key", "GnuPG made <gpg@test.invalid>", "rsa3072", "sign", "never");
    const keyFile = write("gpg-made.secret.asc", gpgIn(home, "correct horse", "--armor", "--export-secret-keys"));
    const keyring = write("gpg-made.gpg", gpgIn(home, "", "--export"));
    const signer = await loadSigner(signing(keyFile, "correct horse"), "repositories[r1].signing");
    const data = Buffer.from("Release text\n");
    expect(gpgv(keyring, write("gpg-made.sig", await signer.signDetached(data)), write("gpg-made.data", data)).ok).toBe(true);
    expect(gpgv(keyring, write("gpg-made.InRelease", await signer.clearsign("Suite: x\n"))).ok).toBe(true);
  });

  it("refuses a missing file, a public key, a file that is no key, naming the file and the fix (exit 78)", async () => {
    const missing = await refusal(loadSigningKey({ key_file: join(work, "nope.asc") }, "signing"));
    expect(missing.message).toMatch(/^configuration: signing\.key_file: cannot read the OpenPGP secret key .*nope\.asc: .*ENOENT.*signing generate-key/);

    const made = await generateSigningKey({ name: "Pub", email: "pub@test.invalid", algorithm: "ed25519" });
    const pub = await refusal(loadSigningKey({ key_file: write("public.asc", made.armoredPublicKey) }, "repositories[r1].signing"));
    expect(pub.message).toMatch(/repositories\[r1\]\.signing\.key_file: .*public\.asc holds a public key, not the secret key .*--export-secret-keys/);

    const junk = await refusal(loadSigningKey({ key_file: write("junk.asc", "hello\n") }, "signing"));
    expect(junk.message).toMatch(/junk\.asc is not an armored OpenPGP secret key/);
  });

  it("refuses a protected key without a passphrase, and a wrong passphrase, naming signing.passphrase", async () => {
    const made = await generateSigningKey({ name: "Locked", email: "l@test.invalid", algorithm: "ed25519", passphrase: "right" });
    const keyFile = write("locked.asc", made.armoredPrivateKey);
    const none = await refusal(loadSigningKey({ key_file: keyFile }, "signing"));
    expect(none.message).toMatch(
      /signing\.passphrase: .*locked\.asc is protected by a passphrase: set signing\.passphrase \(e\.g\. "\$\{CHANTAL_SIGNING_PASSPHRASE\}"/,
    );
    const wrong = await refusal(loadSigningKey({ key_file: keyFile, passphrase: "wrong" }, "signing"));
    expect(wrong.message).toMatch(/signing\.passphrase: cannot unlock .*locked\.asc: .*check the passphrase/);
    // The right one unlocks it; an unprotected key needs none.
    await expect(loadSigningKey({ key_file: keyFile, passphrase: "right" }, "signing")).resolves.toMatchObject({ fingerprint: made.fingerprint });
  });

  it("refuses a key that cannot sign: expired, revoked, or without a signing (sub)key", async () => {
    const old = await generateSigningKey({ name: "Old", email: "o@test.invalid", algorithm: "ed25519", expiresDays: 1, now: new Date("2020-01-01T00:00:00Z") });
    expect(old.expiresAt).toEqual(new Date("2020-01-02T00:00:00Z"));
    const expired = await refusal(loadSigningKey({ key_file: write("expired.asc", old.armoredPrivateKey) }, "signing"));
    expect(expired.message).toMatch(/expired\.asc \(key [0-9A-F]{40}\) cannot sign: .*gpg --quick-set-expire/);
    // Before its expiry it signs, and says when it stops.
    await expect(loadSigningKey({ key_file: join(work, "expired.asc") }, "signing", new Date("2020-01-01T12:00:00Z"))).resolves.toMatchObject({
      expiresAt: new Date("2020-01-02T00:00:00Z"),
    });

    const live = await openpgp.readPrivateKey({
      armoredKey: (await generateSigningKey({ name: "Rev", email: "r@test.invalid", algorithm: "ed25519" })).armoredPrivateKey,
    });
    const { privateKey: revoked } = await openpgp.revokeKey({ key: live, format: "armored" });
    const rev = await refusal(loadSigningKey({ key_file: write("revoked.asc", revoked) }, "signing"));
    expect(rev.message).toMatch(/revoked\.asc \(key [0-9A-F]{40}\) cannot sign/);

    // A certify-only primary key with an encryption subkey: nothing can make a data signature.
    const home = gpgHome();
    gpgIn(home, "", "--quick-gen-key", "Encrypt only <e@test.invalid>", "ed25519", "cert", "never");
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpgIn(home, "", "--with-colons", "--list-keys").toString())![1]!;
    gpgIn(home, "", "--quick-add-key", fpr, "cv25519", "encr", "never");
    const enc = await refusal(loadSigningKey({ key_file: write("encrypt-only.asc", gpgIn(home, "", "--armor", "--export-secret-keys")) }, "signing"));
    expect(enc.message).toMatch(/encrypt-only\.asc \(key [0-9A-F]{40}\) cannot sign/);
  });
});

describeWithTools(APT_TOOLS, "apt-get and the mirror's signatures", () => {
  let scratch: string;
  let root: string;
  let signer: Awaited<ReturnType<typeof loadSigner>>;
  const dist = join("dists", "stable");

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-sign-apt-"));
    root = join(scratch, "repo");
    await buildDeb(root, { name: "alpha", version: "1.0-1" });
    await writeAptRepo(root, { dist: "stable" });
    const made = await generateSigningKey({ name: "Mirror", email: "mirror@test.invalid", algorithm: "rsa4096" });
    await writeFile(join(scratch, "key.asc"), made.armoredPrivateKey);
    signer = await loadSigner(signing(join(scratch, "key.asc")), "signing");
    await writeFile(join(scratch, "mirror.gpg"), signer.publicKeyBinary());
    await writeFile(join(scratch, "mirror.asc"), signer.publicKeyArmored());
  }, 120_000);
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  async function update(keyFile: string): Promise<string[]> {
    const apt = await aptClient(scratch, { uri: `file:${root}`, dist: "stable", components: ["main"], keyring: keyFile });
    await apt.update();
    return apt.available();
  }

  it("accepts an InRelease clearsigned by openpgp.js, with the key as a binary .gpg and as an armored .asc", async () => {
    const release = await readFile(join(root, dist, "Release"), "utf8");
    await writeFile(join(root, dist, "InRelease"), await signer.clearsign(release));
    await rm(join(root, dist, "Release.gpg"), { force: true });
    expect(await update(join(scratch, "mirror.gpg"))).toEqual(["alpha=1.0-1"]);
    expect(await update(join(scratch, "mirror.asc"))).toEqual(["alpha=1.0-1"]);
  });

  it("accepts an armored detached Release.gpg (no InRelease), and refuses it when Release changed", async () => {
    const release = await readFile(join(root, dist, "Release"));
    await rm(join(root, dist, "InRelease"), { force: true });
    await writeFile(join(root, dist, "Release.gpg"), await signer.signDetached(release));
    expect(await update(join(scratch, "mirror.gpg"))).toEqual(["alpha=1.0-1"]);
    await writeFile(join(root, dist, "Release"), Buffer.concat([release, Buffer.from("Description: tampered\n")]));
    await expect(update(join(scratch, "mirror.gpg"))).rejects.toThrow(/BADSIG|not signed|signature/i);
    await writeFile(join(root, dist, "Release"), release);
  });
});
