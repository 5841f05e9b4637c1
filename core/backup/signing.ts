// backup.signing: manifest.json (which holds the sha256 of every other member) is signed with the instance's OpenPGP
// key as manifest.json.asc, and checked before any other member is read, so recomputed checksums are not enough.
import type { Config } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import { loadSigningKey, type SigningKey } from "../openpgp/sign.js";
import { loadKeyring, SignatureError, verifyDetached, type Keyring } from "../openpgp/signature.js";
import { BackupInvalidError } from "./manifest.js";

export const SIGNATURE_NAME = "manifest.json.asc";
/** An armored detached signature is well under 1 KiB; anything this large is not one. */
export const MAX_SIGNATURE_BYTES = 64 * 1024;

export type BackupSigner = SigningKey;

type Signing = NonNullable<Config["backup"]["signing"]>;

/** The secret key that signs new backups, unlocked (core/openpgp/sign.ts); undefined when backup.signing has no key_file. */
export async function loadSigner(signing: Signing | undefined): Promise<BackupSigner | undefined> {
  if (!signing?.key_file) return undefined;
  return loadSigningKey({ key_file: signing.key_file, passphrase: signing.passphrase }, "backup.signing");
}

/**
 * The public keys a backup's signature must verify against: --keyring, else backup.signing.keyring, else key_file's
 * public key; undefined when none is configured (signatures are then not checked).
 */
export async function loadVerifier(signing: Signing | undefined, keyringFlag?: string): Promise<Keyring | undefined> {
  const path = keyringFlag ?? signing?.keyring;
  if (path) return loadKeyring(path);
  const signer = await loadSigner(signing);
  return signer ? { path: signer.keyFile, keys: [signer.publicKey()] } : undefined;
}

/** An armored detached signature of exactly `manifest` (the bytes stored in the archive). */
export function signManifest(signer: BackupSigner, manifest: Buffer): Promise<string> {
  return signer.signDetached(manifest);
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
