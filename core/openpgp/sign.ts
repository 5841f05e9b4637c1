// The one way an OpenPGP secret key is loaded and used to sign (a mirror's regenerated metadata, a backup's manifest),
// and how `signing generate-key` makes one; signatures are checked by GnuPG's gpgv in the tests, as apt and dnf check them.
import { readFile } from "node:fs/promises";
import type * as openpgp from "openpgp";
import type { SigningConfig } from "../config/schema.js";
import { ConfigError, errorMessage } from "../errors.js";
import type { MetadataSigner } from "../mirror/types.js";
import { pgp } from "./signature.js";

/** A signing key that cannot be used: unreadable, not a secret key, locked, or unable to sign. Exit 78, as any configuration error. */
export class SigningKeyError extends ConfigError {
  constructor(path: string, message: string) {
    super([{ file: "configuration", path, message }]);
  }
}

/** Where a secret key comes from: signing: of a repository, or backup.signing. */
export interface SecretKeySource {
  key_file: string;
  passphrase?: string | undefined;
}

/** An armored secret key is a few KiB; a file this large is not one. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;
const PRIVATE_BLOCK = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
const PUBLIC_BLOCK = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/** An unlocked secret key that signs; what both a MetadataSigner and a backup use. */
export class SigningKey {
  readonly fingerprint: string;

  constructor(
    readonly key: openpgp.PrivateKey,
    /** The file it was read from (messages name it). */
    readonly keyFile: string,
    /** When the key stops signing; null: never. */
    readonly expiresAt: Date | null,
  ) {
    this.fingerprint = key.getFingerprint().toUpperCase();
  }

  /** An armored detached signature of exactly `data` (repomd.xml.asc, Release.gpg, manifest.json.asc). */
  async signDetached(data: Uint8Array): Promise<string> {
    const openpgp = await pgp();
    const message = await openpgp.createMessage({ binary: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return (await openpgp.sign({ message, signingKeys: this.key, detached: true, format: "armored", config: signConfig(openpgp) })) as string;
  }

  /** A clearsigned document of `text` (InRelease); its "Hash:" header is SHA512 or SHA256. */
  async clearsign(text: string): Promise<string> {
    const openpgp = await pgp();
    const message = await openpgp.createCleartextMessage({ text });
    const armored = (await openpgp.sign({ message, signingKeys: this.key, format: "armored", config: signConfig(openpgp) })) as string;
    return withUnixLineEnds(armored);
  }

  publicKey(): openpgp.PublicKey {
    return this.key.toPublic();
  }

  publicKeyArmored(): string {
    return this.key.toPublic().armor();
  }

  /** The binary public key: what apt's signed-by= and /etc/apt/keyrings/*.gpg take. */
  publicKeyBinary(): Uint8Array {
    return this.key.toPublic().write();
  }
}

/**
 * openpgp.js writes the signed text in its canonical form, lines ending in CRLF; Debian's InRelease files end lines in
 * LF, as does the Release they repeat. The signature is over the canonical form either way, so it stays valid.
 */
function withUnixLineEnds(armored: string): string {
  const bodyStart = armored.indexOf("\n\n") + 2;
  const bodyEnd = armored.indexOf("\n-----BEGIN PGP SIGNATURE-----", bodyStart);
  return armored.slice(0, bodyStart) + armored.slice(bodyStart, bodyEnd).replace(/\r\n/g, "\n") + armored.slice(bodyEnd);
}

/** SHA512 (apt wants SHA256 or better since 1.2.7, RHEL 9's crypto policy refuses SHA1), unless the key's preferences name another strong hash. */
function signConfig(openpgp: typeof import("openpgp")): openpgp.PartialConfig {
  return { preferredHashAlgorithm: openpgp.enums.hash.sha512 };
}

function generateHint(): string {
  return '"chantal-run signing generate-key --name NAME --email EMAIL --out FILE" makes one';
}

async function readKeyText(source: SecretKeySource, label: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(source.key_file);
  } catch (err) {
    throw new SigningKeyError(
      `${label}.key_file`,
      `cannot read the OpenPGP secret key ${source.key_file}: ${errorMessage(err)}: fix the path or its permissions (${generateHint()})`,
    );
  }
  if (data.length > MAX_KEY_FILE_BYTES)
    throw new SigningKeyError(`${label}.key_file`, `${source.key_file} is ${data.length} bytes: not an armored OpenPGP secret key`);
  const text = data.toString("utf8");
  if (!text.includes(PRIVATE_BLOCK)) {
    if (text.includes(PUBLIC_BLOCK))
      throw new SigningKeyError(
        `${label}.key_file`,
        `${source.key_file} holds a public key, not the secret key that signs: export the secret key with "gpg --armor --export-secret-keys FINGERPRINT > FILE" (${generateHint()})`,
      );
    throw new SigningKeyError(
      `${label}.key_file`,
      `${source.key_file} is not an armored OpenPGP secret key (no "${PRIVATE_BLOCK}"): export it with "gpg --armor --export-secret-keys FINGERPRINT > FILE"`,
    );
  }
  return text;
}

/** The secret key of `key_file`, still locked when it is protected. */
async function readSecretKey(source: SecretKeySource, label: string): Promise<openpgp.PrivateKey> {
  const text = await readKeyText(source, label);
  try {
    return await (await pgp()).readPrivateKey({ armoredKey: text });
  } catch (err) {
    throw new SigningKeyError(`${label}.key_file`, `cannot read the OpenPGP secret key ${source.key_file}: ${errorMessage(err)}`);
  }
}

/** The public half of `key_file`, armored and binary, without unlocking it (what a publish puts beside the trees). */
export async function publicKeyOf(
  source: SecretKeySource,
  label: string,
): Promise<{ key: openpgp.PublicKey; armored: string; binary: Uint8Array; fingerprint: string }> {
  const key = (await readSecretKey(source, label)).toPublic();
  return { key, armored: key.armor(), binary: key.write(), fingerprint: key.getFingerprint().toUpperCase() };
}

/** The date after which the key can no longer sign, from its signing (sub)key and its primary key. */
async function expiryOf(key: openpgp.PrivateKey, signing: openpgp.PrivateKey | openpgp.Subkey): Promise<Date | null> {
  const dates = [await key.getExpirationTime(), signing === key ? null : await (signing as openpgp.Subkey).getExpirationTime()];
  const finite = dates.filter((d): d is Date => d instanceof Date);
  return finite.length === 0 ? null : new Date(Math.min(...finite.map((d) => d.getTime())));
}

/**
 * Reads `key_file` (an armored secret key), unlocks it with `passphrase`, and checks that it can sign at `now`.
 * `label` is the configuration path of the block ("signing", "backup.signing"): each error names it, the file and the fix.
 */
export async function loadSigningKey(source: SecretKeySource, label: string, now: Date = new Date()): Promise<SigningKey> {
  const openpgp = await pgp();
  let key = await readSecretKey(source, label);
  if (!key.isDecrypted()) {
    if (!source.passphrase)
      throw new SigningKeyError(
        `${label}.passphrase`,
        `${source.key_file} is protected by a passphrase: set ${label}.passphrase (e.g. "\${${label.startsWith("backup") ? "CHANTAL_BACKUP_KEY_PASSPHRASE" : "CHANTAL_SIGNING_PASSPHRASE"}}", read from the environment)`,
      );
    key = await openpgp.decryptKey({ privateKey: key, passphrase: source.passphrase }).catch((err: unknown) => {
      throw new SigningKeyError(`${label}.passphrase`, `cannot unlock ${source.key_file}: ${errorMessage(err)}: check the passphrase`);
    });
  }
  let signing: openpgp.PrivateKey | openpgp.Subkey;
  try {
    signing = await key.getSigningKey(undefined, now);
  } catch (err) {
    throw new SigningKeyError(
      `${label}.key_file`,
      `${source.key_file} (key ${key.getFingerprint().toUpperCase()}) cannot sign: ${errorMessage(err)}: extend its expiry ("gpg --quick-set-expire"), or make a new key (${generateHint()}) and publish it to the clients`,
    );
  }
  return new SigningKey(key, source.key_file, await expiryOf(key, signing));
}

/** The configuration path of a repository's effective signing block: its own, else the global one. */
export function signingLabel(repo: { id: string; signing?: SigningConfig | undefined }): string {
  return repo.signing ? `repositories[${repo.id}].signing` : "signing";
}

/** The mirror's signer of a repository (RepoSyncContext.signer): the key of `signing`, with its resign and public key name. */
export async function loadSigner(signing: SigningConfig, label: string, now: Date = new Date()): Promise<MetadataSigner & { readonly key: SigningKey }> {
  const key = await loadSigningKey(signing, label, now);
  return {
    key,
    resign: signing.resign,
    publicKeyName: signing.public_key_name,
    fingerprint: key.fingerprint,
    signDetached: (data) => key.signDetached(data),
    clearsign: (text) => key.clearsign(text),
    publicKeyArmored: () => key.publicKeyArmored(),
    publicKeyBinary: () => key.publicKeyBinary(),
  };
}

// ------------------------------------------------------------------------------------------------ generation

export const KEY_ALGORITHMS = ["rsa4096", "ed25519"] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export interface NewKeyRequest {
  name: string;
  email: string;
  algorithm: KeyAlgorithm;
  /** Encrypts the secret key; undefined: written unencrypted (protect the file instead). */
  passphrase?: string;
  /** Days until the key expires; undefined or 0: never. */
  expiresDays?: number;
  now?: Date;
}

export interface NewKey {
  fingerprint: string;
  armoredPrivateKey: string;
  armoredPublicKey: string;
  expiresAt: Date | null;
}

/**
 * A new signing key. RSA 4096 (the default) is accepted by every client we serve (apt with gpgv or sqv, dnf on
 * EL8/EL9/EL10 with gpgme or rpm-sequoia, FIPS mode); ed25519 is the legacy EdDSA form GnuPG 2.2 reads too.
 */
export async function generateSigningKey(req: NewKeyRequest): Promise<NewKey> {
  const openpgp = await pgp();
  const date = req.now ?? new Date();
  const keyExpirationTime = req.expiresDays ? req.expiresDays * 86400 : 0;
  const common = {
    userIDs: [{ name: req.name, email: req.email }],
    keyExpirationTime,
    date,
    format: "object" as const,
    ...(req.passphrase ? { passphrase: req.passphrase } : {}),
  };
  const { privateKey } =
    req.algorithm === "rsa4096"
      ? await openpgp.generateKey({ ...common, type: "rsa", rsaBits: 4096 })
      : await openpgp.generateKey({ ...common, type: "ecc", curve: "ed25519Legacy" });
  return {
    fingerprint: privateKey.getFingerprint().toUpperCase(),
    armoredPrivateKey: privateKey.armor(),
    armoredPublicKey: privateKey.toPublic().armor(),
    expiresAt: keyExpirationTime ? new Date(date.getTime() + keyExpirationTime * 1000) : null,
  };
}
