// backup.encrypt: the archive is encrypted (OpenPGP, openpgp.js) to the recipients' public keys and stored as the member
// payload.tar[.gz].pgp of a plain outer tar whose manifest.json (+ .asc) stays readable; streamed both ways.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { PassThrough, Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type * as openpgp from "openpgp";
import { ChantalError, ConfigError, errorMessage } from "../errors.js";
import { loadKeyring, pgp } from "../openpgp/signature.js";
import { readArchive, readSmall } from "./archive.js";
import { BackupInvalidError, MANIFEST_NAME, parseManifest, type Encryption, type Manifest } from "./manifest.js";
import { MAX_SIGNATURE_BYTES, SIGNATURE_NAME } from "./signing.js";

/** The default variable the identity's passphrase is read from (--identity-passphrase-env names another). */
export const IDENTITY_PASSPHRASE_ENV = "CHANTAL_BACKUP_IDENTITY_PASSPHRASE";

/** A backup that cannot be decrypted with the identity given (none, another key, locked, wrong passphrase). */
export class BackupIdentityError extends ChantalError {}

export interface Recipients {
  keys: openpgp.PublicKey[];
  fingerprints: string[];
}

/** The public keys of backup.encrypt.recipients; each must be able to encrypt now. Errors name the file and the key. */
export async function loadRecipients(files: string[], now: Date = new Date()): Promise<Recipients> {
  const keys: openpgp.PublicKey[] = [];
  const issues: ConfigError["issues"] = [];
  for (const [i, file] of files.entries()) {
    const path = `backup.encrypt.recipients[${i}]`;
    try {
      for (const key of (await loadKeyring(file)).keys) {
        await key.getEncryptionKey(undefined, now).catch((err: unknown) => {
          throw new Error(`key ${key.getFingerprint().toUpperCase()} cannot encrypt: ${errorMessage(err)}`);
        });
        keys.push(key);
      }
    } catch (err) {
      issues.push({
        file: "configuration",
        path,
        message: `${file}: ${errorMessage(err)}: give an OpenPGP public key that can encrypt (gpg --armor --export FINGERPRINT)`,
      });
    }
  }
  if (issues.length) throw new ConfigError(issues);
  return { keys, fingerprints: keys.map((k) => k.getFingerprint().toUpperCase()) };
}

export interface Identity {
  file: string;
  key: openpgp.PrivateKey;
  fingerprint: string;
  /** The key IDs of the primary key and every subkey (what a session-key packet names). */
  keyIds: string[];
}

/** The secret key of --identity, unlocked with the passphrase from `passphraseVar` when it is protected. */
export async function loadIdentity(file: string, env: NodeJS.ProcessEnv, passphraseVar = IDENTITY_PASSPHRASE_ENV): Promise<Identity> {
  const openpgp = await pgp();
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: await readFile(file, "utf8") });
  } catch (err) {
    throw new BackupIdentityError(`--identity ${file}: not a readable armored OpenPGP secret key (${errorMessage(err)}): give the secret key of a recipient`);
  }
  if (!key.isDecrypted()) {
    const passphrase = env[passphraseVar];
    if (!passphrase) throw new BackupIdentityError(`--identity ${file} is protected by a passphrase: set ${passphraseVar}`);
    key = await openpgp.decryptKey({ privateKey: key, passphrase }).catch((err: unknown) => {
      throw new BackupIdentityError(`cannot unlock --identity ${file} with ${passphraseVar}: ${errorMessage(err)}: check the passphrase`);
    });
  }
  return { file, key, fingerprint: key.getFingerprint().toUpperCase(), keyIds: key.getKeyIDs().map((k) => k.toHex()) };
}

/** Refuses at once an identity that is none of the recipients the manifest names. */
export function checkIdentityIsRecipient(identity: Identity, encryption: Encryption): void {
  if (!encryption.recipients.includes(identity.fingerprint))
    throw new BackupIdentityError(
      `the backup is encrypted to ${encryption.recipients.join(", ")}; --identity ${identity.file} is key ${identity.fingerprint}, not one of them: give the secret key of a recipient`,
    );
}

/** The OpenPGP message (binary, no compression: the archive is gzip'd already) of `plain`, as a stream. */
export async function encryptStream(plain: Readable, recipients: Recipients): Promise<Readable> {
  const openpgp = await pgp();
  const message = await openpgp.createMessage({ binary: Readable.toWeb(plain) as unknown as ReadableStream<Uint8Array>, format: "binary" });
  const encrypted = await openpgp.encrypt({ message, encryptionKeys: recipients.keys, format: "binary" });
  return Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>, { highWaterMark: 1 << 20 } as never);
}

/**
 * The plaintext of an OpenPGP message read from `input`. Integrity-protected data (SEIPDv1 with MDC, which gpg keys
 * ask for, or SEIPDv2/AEAD) is streamed: the stream errors at the end when the MDC or a tag is wrong, so a caller uses
 * nothing from it until it ended cleanly (restore loads inside one transaction, committed only after that).
 */
async function decryptStream(input: Readable, identity: Identity): Promise<Readable> {
  const openpgp = await pgp();
  const message = await openpgp.readMessage({ binaryMessage: Readable.toWeb(input) as unknown as ReadableStream<Uint8Array> });
  const to = message.getEncryptionKeyIDs().map((k) => k.toHex());
  if (!to.some((id) => identity.keyIds.includes(id)))
    throw new BackupIdentityError(
      `the payload is encrypted to key IDs ${to.join(", ")}; --identity ${identity.file} (${identity.fingerprint}) is none of them: give the secret key of a recipient`,
    );
  const { data } = await openpgp.decrypt({
    message,
    decryptionKeys: identity.key,
    format: "binary",
    // Without it openpgp.js buffers a whole SEIPDv1 message in memory; the end-of-stream MDC check still throws.
    config: { allowUnauthenticatedStream: true },
  });
  return Readable.fromWeb(data as unknown as WebReadableStream<Uint8Array>);
}

/** Resolves when `out` can take more, or is gone. */
function writable(out: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      out.off("drain", go);
      out.off("close", go);
      resolve();
    };
    out.on("drain", go);
    out.on("close", go);
  });
}

export interface OpenedPayload {
  /** The decrypted archive; ends only after the whole ciphertext was read, authenticated and matched the manifest's sha256. */
  plain: Readable;
  /** Resolves once every byte of the ciphertext was read (also after a failure), with what was found. */
  finished: Promise<{ sha256: string; size: number; matches: boolean; decryptError?: unknown }>;
}

/**
 * Decrypt the payload member `body`. It is always read to its end, so that a modified ciphertext is named as such (its
 * sha256 differs from the manifest's) rather than by whatever garbage the decryption made of it.
 */
export function openPayload(body: Readable, encryption: Encryption, identity: Identity): OpenedPayload {
  const plain = new PassThrough({ highWaterMark: 1 << 20 });
  // Its reader may be gone already when the outcome is known: the outcome is also `finished`'s.
  plain.on("error", () => undefined);
  const feed = new PassThrough({ highWaterMark: 1 << 20 });
  const hash = createHash("sha256");
  let size = 0;
  let decryptError: unknown;
  const decrypting = (async () => {
    const decrypted = await decryptStream(feed, identity);
    for await (const chunk of decrypted) {
      // A reader that stopped (the decrypted archive is bad) still lets the MDC or tag be checked: that names tampering.
      if (plain.destroyed) continue;
      if (!plain.write(chunk)) await writable(plain);
    }
  })().catch((err: unknown) => {
    decryptError = err;
    feed.destroy();
  });
  const finished = (async () => {
    for await (const chunk of body) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (decryptError === undefined && !feed.destroyed && !feed.write(chunk)) {
        await Promise.race([new Promise<void>((r) => feed.once("drain", () => r())), decrypting]);
      }
    }
    feed.end();
    await decrypting;
    const sha256 = hash.digest("hex");
    const matches = sha256 === encryption.payload_sha256 && size === encryption.payload_size;
    return { sha256, size, matches, ...(decryptError !== undefined ? { decryptError } : {}) };
  })();
  finished.then(
    (r) => {
      if (!r.matches) plain.destroy(payloadModified(encryption, r));
      else if (r.decryptError !== undefined) plain.destroy(decryptionFailed(encryption, r.decryptError));
      else plain.end();
    },
    (err: unknown) => plain.destroy(err as Error),
  );
  return { plain, finished };
}

export function payloadModified(encryption: Encryption, got: { sha256: string; size: number }): BackupInvalidError {
  return new BackupInvalidError(
    `${encryption.payload} has sha256 ${got.sha256} (${got.size} bytes), the manifest says ${encryption.payload_sha256} (${encryption.payload_size} bytes): the ciphertext was modified or truncated; refused`,
  );
}

export function decryptionFailed(encryption: Encryption, err: unknown): ChantalError {
  if (err instanceof ChantalError) return err;
  return new BackupInvalidError(`${encryption.payload} does not decrypt: ${errorMessage(err)}; refused`);
}

/**
 * The archive to load from an opened backup: itself, or for an encrypted one the decrypted payload, which ends (and so
 * lets a restore commit) only after the outer archive was read to its end with nothing unexpected in it.
 */
export function plainArchive(input: Readable, manifest: Manifest, identity: Identity | undefined, signal?: AbortSignal): Readable {
  const enc = manifest.encryption;
  if (!enc) return input;
  if (!identity) throw new BackupIdentityError(`the backup is encrypted to ${enc.recipients.join(", ")}: give --identity FILE, the secret key of one of them`);
  checkIdentityIsRecipient(identity, enc);
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const expected = JSON.stringify(manifest);
  let sawPayload = false;
  readArchive(
    input,
    async (m) => {
      if (m.path === MANIFEST_NAME) {
        const again = JSON.stringify(parseManifest(await readSmall(m.body, 16 << 20, MANIFEST_NAME)));
        if (again !== expected) throw new BackupInvalidError("manifest.json changed since the archive was verified: refused");
        return;
      }
      if (m.path === SIGNATURE_NAME) return void (await readSmall(m.body, MAX_SIGNATURE_BYTES, SIGNATURE_NAME));
      if (m.path !== enc.payload || sawPayload) throw new BackupInvalidError(`archive member "${m.path}" is not in the manifest: refused`);
      sawPayload = true;
      const opened = openPayload(m.body, enc, identity);
      for await (const chunk of opened.plain) if (!out.write(chunk)) await writable(out);
      await opened.finished;
    },
    signal ? { signal } : {},
  ).then(
    () => (sawPayload ? out.end() : out.destroy(new BackupInvalidError(`${enc.payload} is missing from the archive: refused`))),
    (err: unknown) => out.destroy(err as Error),
  );
  return out;
}
