// OpenPGP verification (clearsigned, as InRelease; detached, as Release.gpg and a backup's manifest.json.asc) with
// openpgp.js: pure JavaScript, so the same code runs on a RHEL host, in a container and on Debian, without gpgv.
// The bytes that are parsed afterwards are exactly the bytes whose signature was checked.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type * as openpgp from "openpgp";
import { ChantalError, errorMessage } from "../errors.js";

/** openpgp.js is loaded on first use: a CLI command that verifies nothing does not pay for it. */
let loaded: Promise<typeof openpgp> | undefined;
export function pgp(): Promise<typeof openpgp> {
  loaded ??= import("openpgp");
  return loaded;
}

/** A signature that is missing, malformed, or not made by a key of the configured keyring. */
export class SignatureError extends ChantalError {}

/** The configured keyring cannot be read or holds no usable key. */
export class KeyringError extends ChantalError {}

export interface Keyring {
  path: string;
  keys: openpgp.PublicKey[];
}

const ARMORED_KEY = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g;
const KEY_FILE = /\.(gpg|asc|pgp)$/;

/** GnuPG's keybox format ("KBXf" at offset 8): apt can use it, OpenPGP libraries cannot. */
function isKeybox(data: Buffer): boolean {
  return data.length >= 12 && data.subarray(8, 12).toString("latin1") === "KBXf";
}

async function keysOfFile(path: string): Promise<openpgp.PublicKey[]> {
  const data = await readFile(path);
  if (isKeybox(data)) {
    throw new KeyringError(
      `${path} is a GnuPG keybox, not an OpenPGP keyring: export it with "gpg --no-default-keyring --keyring ${path} --export > keyring.gpg" and configure that file`,
    );
  }
  const text = data.subarray(0, 64).toString("latin1");
  if (text.includes("-----BEGIN PGP")) {
    const blocks = data.toString("utf8").match(ARMORED_KEY) ?? [];
    if (blocks.length === 0) throw new KeyringError(`${path}: an armored file without a PGP PUBLIC KEY BLOCK`);
    const out: openpgp.PublicKey[] = [];
    for (const armoredKeys of blocks) out.push(...(await (await pgp()).readKeys({ armoredKeys })));
    return out;
  }
  return (await pgp()).readKeys({ binaryKeys: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
}

/**
 * Reads the public keys of `path`: a binary keyring (gpg --export, /usr/share/keyrings/*.gpg), an
 * armored key file (.asc, several blocks allowed), or a directory of such files (like trusted.gpg.d).
 */
export async function loadKeyring(path: string): Promise<Keyring> {
  const info = await stat(path).catch((err: unknown) => {
    throw new KeyringError(`cannot read keyring ${path}: ${errorMessage(err)}`);
  });
  const files = info.isDirectory()
    ? (await readdir(path))
        .filter((f) => KEY_FILE.test(f))
        .sort()
        .map((f) => join(path, f))
    : [path];
  const keys: openpgp.PublicKey[] = [];
  for (const file of files) {
    try {
      keys.push(...(await keysOfFile(file)));
    } catch (err) {
      if (err instanceof KeyringError) throw err;
      throw new KeyringError(`cannot read keyring ${file}: ${errorMessage(err)}`);
    }
  }
  if (keys.length === 0) throw new KeyringError(`keyring ${path} holds no public key`);
  return { path, keys };
}

export interface ClearsignedParts {
  /** The signed text with dash-escaping removed, lines joined by "\n" (no newline before the signature). */
  payload: string;
  /** The "-----BEGIN PGP SIGNATURE-----" block. */
  signature: string;
}

const BEGIN_SIGNED = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE = "-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE = "-----END PGP SIGNATURE-----";

/**
 * Splits a clearsigned document as strictly as apt does: blank lines, then one signed message and its
 * signature, then only whitespace. Anything else (text before or after, a second message, an unescaped
 * dash line) is refused, so no unsigned text can ride along with the signed one.
 */
export function splitClearsigned(text: string, label: string): ClearsignedParts {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === "") i++;
  if (lines[i]?.trimEnd() !== BEGIN_SIGNED) throw new SignatureError(`${label} is not a clearsigned document (no "${BEGIN_SIGNED}" at its start)`);
  i++;
  // Armor headers ("Hash: SHA512") up to the first empty line.
  for (; i < lines.length && lines[i]!.trim() !== ""; i++) {
    if (!/^[A-Za-z][A-Za-z0-9-]*: /.test(lines[i]!)) throw new SignatureError(`${label}: malformed armor header ${JSON.stringify(lines[i]!.slice(0, 80))}`);
  }
  if (i >= lines.length) throw new SignatureError(`${label}: the signed message has no body`);
  i++;
  const body: string[] = [];
  for (; i < lines.length && lines[i]!.trimEnd() !== BEGIN_SIGNATURE; i++) {
    const line = lines[i]!;
    if (line.startsWith("- ")) body.push(line.slice(2));
    else if (line.startsWith("-")) throw new SignatureError(`${label}: unexpected line ${JSON.stringify(line.slice(0, 80))} inside the signed text`);
    else body.push(line);
  }
  if (i >= lines.length) throw new SignatureError(`${label}: the signed message has no signature`);
  const sigStart = i;
  for (; i < lines.length && lines[i]!.trimEnd() !== END_SIGNATURE; i++) {
    if (lines[i]!.startsWith(BEGIN_SIGNED)) throw new SignatureError(`${label}: a second signed message inside the signature`);
  }
  if (i >= lines.length) throw new SignatureError(`${label}: the signature block is not terminated`);
  const signature = lines.slice(sigStart, i + 1).join("\n");
  for (i++; i < lines.length; i++) {
    if (lines[i]!.trim() !== "") throw new SignatureError(`${label}: data after the signature (${JSON.stringify(lines[i]!.slice(0, 80))}) is refused`);
  }
  return { payload: body.join("\n"), signature };
}

/** Accepts when at least one signature verifies with a key of the keyring; otherwise says why each failed. */
async function requireValidSignature(signatures: openpgp.VerifyMessageResult["signatures"], keyring: Keyring, label: string): Promise<void> {
  if (signatures.length === 0) throw new SignatureError(`${label} carries no signature`);
  const problems: string[] = [];
  for (const s of signatures) {
    try {
      if (await s.verified) return;
      problems.push(`key ${s.keyID.toHex().toUpperCase()}: not verified`);
    } catch (err) {
      problems.push(`key ${s.keyID.toHex().toUpperCase()}: ${errorMessage(err)}`);
    }
  }
  throw new SignatureError(`${label} is not validly signed by a key of ${keyring.path} (${problems.join("; ")})`);
}

/** Verifies a clearsigned InRelease and returns the signed text (what must be parsed, and nothing else). */
export async function verifyClearsigned(data: Buffer, keyring: Keyring, label: string, now: Date = new Date()): Promise<string> {
  const text = data.toString("utf8");
  splitClearsigned(text, label);
  const openpgp = await pgp();
  let message: openpgp.CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: text });
  } catch (err) {
    throw new SignatureError(`${label}: unreadable signature: ${errorMessage(err)}`);
  }
  const result = await openpgp.verify({ message, verificationKeys: keyring.keys, date: now });
  await requireValidSignature(result.signatures, keyring, label);
  return message.getText();
}

async function readDetachedSignature(signature: Buffer, label: string): Promise<openpgp.Signature> {
  const openpgp = await pgp();
  try {
    if (signature.subarray(0, 64).toString("latin1").includes("-----BEGIN PGP"))
      return await openpgp.readSignature({ armoredSignature: signature.toString("utf8") });
    return await openpgp.readSignature({ binarySignature: new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength) });
  } catch (err) {
    throw new SignatureError(`${label}: unreadable signature: ${errorMessage(err)}`);
  }
}

/** Verifies Release against its detached Release.gpg; the caller then parses exactly `data`. */
export async function verifyDetached(data: Buffer, signature: Buffer, keyring: Keyring, label: string, now: Date = new Date()): Promise<void> {
  const sig = await readDetachedSignature(signature, label);
  const openpgp = await pgp();
  const message = await openpgp.createMessage({ binary: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  const result = await openpgp.verify({ message, signature: sig, verificationKeys: keyring.keys, date: now });
  await requireValidSignature(result.signatures, keyring, label);
}
