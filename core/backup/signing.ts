// backup.signing: manifest.json (which holds the sha256 of every other member) is signed with the instance's OpenPGP
// key as manifest.json.asc, and checked before any other member is read, so recomputed checksums are not enough.
import { readFile } from "node:fs/promises";
import type * as openpgp from "openpgp";
import type { Config } from "../config/schema.js";
import { ConfigError, errorMessage } from "../errors.js";
import { loadKeyring, pgp, SignatureError, verifyDetached, type Keyring } from "../openpgp/signature.js";
import { BackupInvalidError } from "./manifest.js";

export const SIGNATURE_NAME = "manifest.json.asc";
/** An armored detached signature is well under 1 KiB; anything this large is not one. */
export const MAX_SIGNATURE_BYTES = 64 * 1024;

export interface BackupSigner {
  key: openpgp.PrivateKey;
  fingerprint: string;
}

type Signing = NonNullable<Config["backup"]["signing"]>;

function keyIssue(path: string, message: string): ConfigError {
  return new ConfigError([{ file: "configuration", path, message }]);
}

/** The secret key that signs new backups, unlocked; undefined when backup.signing has no key_file. */
export async function loadSigner(signing: Signing | undefined): Promise<BackupSigner | undefined> {
  if (!signing?.key_file) return undefined;
  const openpgp = await pgp();
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: await readFile(signing.key_file, "utf8") });
  } catch (err) {
    throw keyIssue("backup.signing.key_file", `cannot read the OpenPGP secret key ${signing.key_file}: ${errorMessage(err)}`);
  }
  if (!key.isDecrypted()) {
    if (!signing.passphrase)
      throw keyIssue(
        "backup.signing.passphrase",
        `${signing.key_file} is protected by a passphrase: set backup.signing.passphrase (e.g. "\${CHANTAL_BACKUP_KEY_PASSPHRASE}")`,
      );
    key = await openpgp.decryptKey({ privateKey: key, passphrase: signing.passphrase }).catch((err: unknown) => {
      throw keyIssue("backup.signing.passphrase", `cannot unlock ${signing.key_file}: ${errorMessage(err)}`);
    });
  }
  return { key, fingerprint: key.getFingerprint().toUpperCase() };
}

/**
 * The public keys a backup's signature must verify against: --keyring, else backup.signing.keyring, else key_file's
 * public key; undefined when none is configured (signatures are then not checked).
 */
export async function loadVerifier(signing: Signing | undefined, keyringFlag?: string): Promise<Keyring | undefined> {
  const path = keyringFlag ?? signing?.keyring;
  if (path) return loadKeyring(path);
  const signer = await loadSigner(signing);
  return signer ? { path: signing!.key_file!, keys: [signer.key.toPublic()] } : undefined;
}

/** An armored detached signature of exactly `manifest` (the bytes stored in the archive). */
export async function signManifest(signer: BackupSigner, manifest: Buffer): Promise<string> {
  const openpgp = await pgp();
  const message = await openpgp.createMessage({ binary: new Uint8Array(manifest.buffer, manifest.byteOffset, manifest.byteLength) });
  return (await openpgp.sign({ message, signingKeys: signer.key, detached: true, format: "armored" })) as string;
}

/** Throws BackupInvalidError unless `signature` is a valid signature of `manifest` by a key of `keyring`. */
export async function checkManifestSignature(manifest: Buffer, signature: Buffer, keyring: Keyring): Promise<void> {
  try {
    await verifyDetached(manifest, signature, keyring, "manifest.json");
  } catch (err) {
    if (err instanceof SignatureError) throw new BackupInvalidError(`${errorMessage(err)}: the archive was modified or signed by another key; refused`);
    throw err;
  }
}
