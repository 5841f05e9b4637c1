// openpgp.js verification of what real gpg signs: clearsigned InRelease and detached Release.gpg, with
// binary, armored and directory keyrings, several signatures, and the failures a mirror must refuse.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SignatureError, KeyringError, loadKeyring, verifyClearsigned, verifyDetached } from "../../core/openpgp/signature.js";
import { clearsign, createGpgKey, detachSign, runWithInput, type GpgKey } from "../helpers/apt-fixtures.js";
import { describeWithTools } from "../helpers/tools.js";

let scratch: string;
let ed: GpgKey;
let rsa: GpgKey;
const RELEASE = Buffer.from(
  `Origin: Chantal\nSuite: stable\nDate: Sat, 10 Jun 2023 08:48:49 UTC\nSHA256:\n ${"a".repeat(64)} 10 main/binary-amd64/Packages.xz\n`,
);

describeWithTools(["gpg"], "APT signatures (openpgp.js against gpg)", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-sig-"));
    ed = await createGpgKey(join(scratch, "keys"), { name: "Ed Key" });
    rsa = await createGpgKey(join(scratch, "keys"), { name: "Rsa Key", algo: "rsa2048" });
  }, 120_000);

  afterAll(async () => {
    await ed?.dispose();
    await rsa?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("verifies a clearsigned InRelease with a binary, an armored and a directory keyring, returning the signed text", async () => {
    const inRelease = await clearsign(ed, RELEASE);
    for (const path of [ed.keyring, ed.armored]) {
      const text = await verifyClearsigned(inRelease, await loadKeyring(path), "InRelease");
      expect(text).toBe(RELEASE.toString().trimEnd());
    }
    const dir = join(scratch, "trusted.gpg.d");
    mkdirSync(dir, { recursive: true });
    copyFileSync(rsa.keyring, join(dir, "rsa.gpg"));
    copyFileSync(ed.armored, join(dir, "ed.asc"));
    writeFileSync(join(dir, "README"), "not a key");
    const both = await loadKeyring(dir);
    expect(both.keys).toHaveLength(2);
    await expect(verifyClearsigned(inRelease, both, "InRelease")).resolves.toContain("Suite: stable");
    await expect(verifyClearsigned(await clearsign(rsa, RELEASE), both, "InRelease")).resolves.toContain("Suite: stable");
  });

  it("accepts a document signed by several keys when one of them is trusted (Debian signs with two)", async () => {
    const secret = await runWithInput("gpg", [
      "--homedir",
      rsa.home,
      "--batch",
      "--pinentry-mode",
      "loopback",
      "--passphrase",
      "",
      "--export-secret-keys",
      rsa.fingerprint,
    ]);
    await runWithInput("gpg", ["--homedir", ed.home, "--batch", "--import"], secret);
    const twice = await runWithInput(
      "gpg",
      ["--homedir", ed.home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "-u", ed.fingerprint, "-u", rsa.fingerprint, "--clearsign"],
      RELEASE,
    );
    await expect(verifyClearsigned(twice, await loadKeyring(rsa.keyring), "InRelease")).resolves.toContain("Suite: stable");
    await expect(verifyClearsigned(twice, await loadKeyring(ed.armored), "InRelease")).resolves.toContain("Suite: stable");
  });

  it("refuses another key's signature, naming the key and the keyring", async () => {
    const inRelease = await clearsign(rsa, RELEASE);
    const keyId = rsa.fingerprint.slice(-16);
    await expect(verifyClearsigned(inRelease, await loadKeyring(ed.keyring), "dists/x/InRelease")).rejects.toThrow(
      new RegExp(`dists/x/InRelease is not validly signed by a key of .*ed-key\\.gpg \\(key ${keyId}: .*\\)`),
    );
  });

  it("refuses a changed signed text, and one with unsigned text around it", async () => {
    const inRelease = (await clearsign(ed, RELEASE)).toString();
    const keyring = await loadKeyring(ed.keyring);
    await expect(verifyClearsigned(Buffer.from(inRelease.replace("10 main", "11 main")), keyring, "InRelease")).rejects.toThrow(SignatureError);
    await expect(verifyClearsigned(Buffer.from(`Suite: evil\n${inRelease}`), keyring, "InRelease")).rejects.toThrow(/not a clearsigned document/);
    await expect(verifyClearsigned(Buffer.from(`${inRelease}Suite: evil\n`), keyring, "InRelease")).rejects.toThrow(/data after the signature/);
  });

  it("verifies Release against an armored or binary Release.gpg, and refuses a changed Release", async () => {
    const keyring = await loadKeyring(rsa.armored);
    const armored = await detachSign(rsa, RELEASE);
    await expect(verifyDetached(RELEASE, armored, keyring, "Release")).resolves.toBeUndefined();
    const binary = await runWithInput(
      "gpg",
      ["--homedir", rsa.home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "-u", rsa.fingerprint, "--detach-sign"],
      RELEASE,
    );
    await expect(verifyDetached(RELEASE, binary, keyring, "Release")).resolves.toBeUndefined();
    const changed = Buffer.from(RELEASE.toString().replace("stable", "stablf"));
    await expect(verifyDetached(changed, armored, keyring, "dists/x/Release")).rejects.toThrow(/dists\/x\/Release is not validly signed/);
    await expect(verifyDetached(RELEASE, Buffer.from("garbage"), keyring, "Release")).rejects.toThrow(/Release: unreadable signature/);
  });

  it("explains keyrings it cannot use: missing, empty, not a key, a GnuPG keybox", async () => {
    await expect(loadKeyring(join(scratch, "nope.gpg"))).rejects.toThrow(/cannot read keyring .*nope\.gpg: ENOENT/);
    const empty = join(scratch, "empty-dir");
    mkdirSync(empty, { recursive: true });
    await expect(loadKeyring(empty)).rejects.toThrow(/holds no public key/);
    writeFileSync(join(scratch, "garbage.gpg"), "hello");
    await expect(loadKeyring(join(scratch, "garbage.gpg"))).rejects.toThrow(KeyringError);
    const kbx = join(scratch, "pubring.kbx");
    await runWithInput("gpg", ["--homedir", ed.home, "--batch", "--no-default-keyring", "--keyring", kbx, "--import", ed.armored]);
    expect(readFileSync(kbx).subarray(8, 12).toString()).toBe("KBXf");
    await expect(loadKeyring(kbx)).rejects.toThrow(
      /is a GnuPG keybox, not an OpenPGP keyring: export it with "gpg --no-default-keyring --keyring .* --export > keyring\.gpg"/,
    );
  });
});
