// A MetadataSigner for tests backed by the real gpg: a fresh key in a private GNUPGHOME, no passphrase.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MetadataSigner } from "../../core/mirror/types.js";
import { run, runWithInput } from "./rpm-fixtures.js";

export interface GpgTestKey {
  home: string;
  /** The armored public key, written to a file dnf can import (gpgkey=file://...). */
  publicKeyFile: string;
  signer(opts?: { resign?: boolean }): MetadataSigner;
}

export async function createGpgTestKey(scratch: string, uid = "Chantal Test Mirror <mirror@example.invalid>"): Promise<GpgTestKey> {
  const home = mkdtempSync(join(tmpdir(), "chantal-gpg-"));
  const gpg = (...args: string[]) => run("gpg", ["--homedir", home, "--batch", "--quiet", ...args]);
  await gpg("--passphrase", "", "--quick-generate-key", uid, "rsa2048", "sign", "never");
  const colons = await gpg("--with-colons", "--list-secret-keys");
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  const armored = await gpg("--armor", "--export", fingerprint);
  const binary = execFileSync("gpg", ["--homedir", home, "--batch", "--export", fingerprint]);
  const publicKeyFile = join(scratch, "mirror-key.asc");
  writeFileSync(publicKeyFile, armored);
  const withInput = async (args: string[], data: Buffer) =>
    Buffer.from(await runWithInput("gpg", ["--homedir", home, "--batch", "--yes", "--local-user", fingerprint, ...args], data)).toString("utf8");
  return {
    home,
    publicKeyFile,
    signer: (opts = {}) => ({
      resign: opts.resign ?? false,
      publicKeyName: "mirror-key",
      fingerprint,
      signDetached: (data) => withInput(["--armor", "--detach-sign"], data),
      clearsign: (text) => withInput(["--clearsign"], Buffer.from(text, "utf8")),
      publicKeyArmored: () => armored,
      publicKeyBinary: () => new Uint8Array(binary),
    }),
  };
}
