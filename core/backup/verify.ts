// backup-verify: read the whole archive once and check every member against the manifest; writes nothing.
import { type Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { errorMessage } from "../errors.js";
import { countingStream, digestingStream, readArchive, readSmall } from "./archive.js";
import { DUMP_END } from "./dump.js";
import { BackupIdentityError, checkIdentityIsRecipient, decryptionFailed, openPayload, payloadModified, type Identity } from "./encryption.js";
import { BackupInvalidError, CONFIG_PREFIX, dumpByteLimit, innerManifest, MANIFEST_NAME, parseManifest, type Manifest, type MemberDigest } from "./manifest.js";
import type { Keyring } from "../openpgp/signature.js";
import { checkManifestSignature, MAX_SIGNATURE_BYTES, SIGNATURE_NAME } from "./signing.js";
import type { BackupStore } from "./store.js";

export interface VerifyCheck {
  ok: boolean;
  label: string;
  detail?: string;
}

export interface VerifyReport {
  ok: boolean;
  location: string;
  archiveBytes: number;
  checks: VerifyCheck[];
  manifest?: Manifest;
}

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const END_MARKER = Buffer.from(`${DUMP_END}\n`);

/** A sink that keeps the last bytes of what it is given, to see that a dump ends with its end marker, and counts them. */
export function tailKeeper(keep = END_MARKER.length): { sink: Writable; endsWithMarker(): boolean; bytes(): number } {
  let tail = Buffer.alloc(0);
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      tail = Buffer.concat([tail.subarray(-keep), chunk.subarray(-keep)]).subarray(-keep);
      cb();
    },
  });
  return { sink, endsWithMarker: () => tail.equals(END_MARKER), bytes: () => bytes };
}

class DumpTooLargeError extends Error {}

/**
 * A sink for the stored dump that decompresses it (when gzip) and checks its end marker and size: decompression stops
 * as soon as it passes `maxBytes` (a bomb). It never fails itself, so the member is always read to its end and its
 * sha256 is computed over all of it; the outcome is a check.
 */
export function dumpChecker(gzip: boolean, limits: { maxBytes: number; declared?: number }): { sink: Writable; result(): Promise<VerifyCheck> } {
  const tail = tailKeeper();
  const gunzip = gzip ? createGunzip() : undefined;
  let error: Error | undefined;
  const bounded = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (tail.bytes() + chunk.length > limits.maxBytes)
        return cb(
          new DumpTooLargeError(
            `it decompresses to more than ${limits.maxBytes} bytes${limits.declared !== undefined ? " (the manifest's database_uncompressed_bytes)" : ""}: a decompression bomb?`,
          ),
        );
      cb(null, chunk);
    },
  });
  const decoded = (gunzip ? pipeline(gunzip, bounded, tail.sink) : pipeline(bounded, tail.sink)).catch((err: Error) => {
    error ??= err;
  });
  const target: Writable = gunzip ?? bounded;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (error || target.destroyed) return cb();
      if (target.write(chunk)) cb();
      else {
        const go = () => {
          target.off("drain", go);
          target.off("close", go);
          cb();
        };
        target.on("drain", go);
        target.on("close", go);
      }
    },
    final(cb) {
      if (!target.destroyed) target.end();
      decoded.then(() => cb(), cb);
    },
  });
  return {
    sink,
    async result() {
      await decoded;
      if (error instanceof DumpTooLargeError) return { ok: false, label: "database dump size", detail: error.message };
      if (error) return { ok: false, label: "database dump decompresses", detail: errorMessage(error) };
      if (limits.declared !== undefined && tail.bytes() !== limits.declared) {
        return { ok: false, label: "database dump size", detail: `it decompresses to ${tail.bytes()} bytes, the manifest says ${limits.declared}` };
      }
      return tail.endsWithMarker()
        ? { ok: true, label: "database dump decompresses and is complete", detail: `${tail.bytes()} bytes` }
        : { ok: false, label: "database dump is complete", detail: "it does not end with the dump's final COMMIT (truncated when written?)" };
    },
  };
}

/** Compare the members read with the manifest: one check per member, and one for members the manifest does not list. */
export function memberChecks(manifest: Manifest, digests: Map<string, MemberDigest>): VerifyCheck[] {
  const checks: VerifyCheck[] = [];
  for (const [name, want] of Object.entries(manifest.members)) {
    const got = digests.get(name);
    if (!got) checks.push({ ok: false, label: `${name} present`, detail: "missing from the archive" });
    else if (got.size < want.size && got.sha256 !== want.sha256) {
      checks.push({ ok: false, label: `${name} complete`, detail: `only ${got.size} of ${want.size} bytes: the archive is truncated` });
    } else if (got.sha256 !== want.sha256 || got.size !== want.size) {
      checks.push({
        ok: false,
        label: `${name} sha256`,
        detail: `is ${got.sha256} (${got.size} bytes), the manifest says ${want.sha256} (${want.size} bytes): the member was modified`,
      });
    } else checks.push({ ok: true, label: `${name} sha256`, detail: `${want.size} bytes` });
  }
  const unexpected = [...digests.keys()].filter((n) => !manifest.members[n]);
  if (unexpected.length > 0) checks.push({ ok: false, label: "no members beyond the manifest", detail: `unexpected: ${unexpected.join(", ")}` });
  return checks;
}

/** Thrown by the visitor to stop reading an archive whose signature failed: nothing after it is read. */
class SignatureRefused extends Error {}

/** The check of manifest.json.asc: valid by a key of the keyring, or not checked when no keyring is configured. */
async function signatureCheck(manifestText: string | undefined, armored: string, keyring: Keyring | undefined): Promise<VerifyCheck> {
  const label = "manifest.json signature";
  if (manifestText === undefined) return { ok: false, label, detail: `${SIGNATURE_NAME} comes before manifest.json: not a Chantal backup` };
  if (!keyring) return { ok: true, label, detail: "present, not checked (no backup.signing key or keyring configured, no --keyring)" };
  try {
    await checkManifestSignature(Buffer.from(manifestText), Buffer.from(armored), keyring);
    return { ok: true, label, detail: `valid, by a key of ${keyring.path}` };
  } catch (err) {
    return { ok: false, label, detail: errorMessage(err) };
  }
}

export interface VerifyOptions {
  signal?: AbortSignal;
  keyring?: Keyring;
  /** The secret key that decrypts an encrypted backup; without it only the outer layer is checked. */
  identity?: Identity;
  /** An encrypted backup fails without an identity (backup-verify, restore); else its outer layer is enough (prune, backup). */
  requireContents?: boolean;
}

interface ArchiveReport {
  checks: VerifyCheck[];
  archiveBytes: number;
  manifest?: Manifest;
}

/**
 * Verify one stored backup: tar readable, manifest valid, its signature (with a keyring: required, and checked before
 * any other member is read), every member present with its sha256, dump complete, config present. An encrypted one:
 * the ciphertext's sha256, then (with an identity) the same checks of the archive it decrypts to.
 */
export async function verifyBackup(store: BackupStore, name: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const location = store.describe(name);
  let report: ArchiveReport;
  try {
    report = await verifyArchive(await store.openRead(name, opts.signal), opts, undefined);
  } catch (err) {
    if (err instanceof BackupIdentityError) report = { checks: [{ ok: false, label: "decrypts with --identity", detail: errorMessage(err) }], archiveBytes: 0 };
    else throw err;
  }
  return {
    ok: report.checks.every((c) => c.ok),
    location,
    archiveBytes: report.archiveBytes,
    checks: report.checks,
    ...(report.manifest ? { manifest: report.manifest } : {}),
  };
}

/** The checks of the encrypted payload member: its sha256, and with an identity the archive it decrypts to. */
async function payloadChecks(body: Readable, manifest: Manifest, opts: VerifyOptions): Promise<VerifyCheck[]> {
  const enc = manifest.encryption!;
  const label = `${enc.payload} sha256`;
  const shaCheck = (got: { sha256: string; size: number; matches: boolean }): VerifyCheck =>
    got.matches
      ? { ok: true, label, detail: `${got.size} bytes, encrypted to ${enc.recipients.join(", ")}` }
      : { ok: false, label, detail: payloadModified(enc, got).message };
  if (!opts.identity) {
    const d = digestingStream();
    await pipeline(body, d.stream, new Writable({ write: (_c, _e, cb) => cb() }));
    const got = d.digest();
    const checks = [shaCheck({ ...got, matches: got.sha256 === enc.payload_sha256 && got.size === enc.payload_size })];
    checks.push(
      opts.requireContents
        ? {
            ok: false,
            label: "contents decrypted",
            detail: `the backup is encrypted to ${enc.recipients.join(", ")}: give --identity FILE, the secret key of one of them`,
          }
        : { ok: true, label: "contents not decrypted", detail: "no identity given: only the ciphertext's sha256 was checked" },
    );
    return checks;
  }
  checkIdentityIsRecipient(opts.identity, enc);
  const opened = openPayload(body, enc, opts.identity);
  const inner = await verifyArchive(opened.plain, opts, innerManifest(manifest)).catch((err: unknown) => ({
    checks: [{ ok: false, label: "decrypted archive", detail: errorMessage(err) }],
    archiveBytes: 0,
  }));
  const got = await opened.finished;
  if (!got.matches) return [shaCheck(got)];
  if (got.decryptError !== undefined)
    return [shaCheck(got), { ok: false, label: "decrypts with --identity", detail: decryptionFailed(enc, got.decryptError).message }];
  return [
    shaCheck(got),
    { ok: true, label: "decrypts with --identity", detail: `${opts.identity.file} (${opts.identity.fingerprint}), ${inner.archiveBytes} bytes` },
    ...inner.checks,
  ];
}

/** The checks of one archive read from `input`; `outer` is the manifest the decrypted archive inside an encrypted one must have. */
async function verifyArchive(input: Readable, opts: VerifyOptions, outer: Manifest | undefined): Promise<ArchiveReport> {
  const checks: VerifyCheck[] = [];
  const digests = new Map<string, MemberDigest>();
  const dumpChecks: VerifyCheck[] = [];
  const payload: VerifyCheck[] = [];
  let manifest: Manifest | undefined;
  let manifestError: string | undefined;
  let manifestText: string | undefined;
  let signature: VerifyCheck | undefined;
  let sawManifest = false;
  const counter = countingStream();
  let readError: unknown;
  input.on("error", (err) => counter.stream.destroy(err));
  try {
    await readArchive(
      input.pipe(counter.stream),
      async (m) => {
        if (m.path === MANIFEST_NAME) {
          sawManifest = true;
          try {
            manifestText = await readSmall(m.body, MAX_MANIFEST_BYTES, MANIFEST_NAME);
            manifest = parseManifest(manifestText);
            if (outer && JSON.stringify(manifest) !== JSON.stringify(outer))
              throw new BackupInvalidError("the decrypted archive's manifest.json differs from the outer one: refused");
            if (outer && manifest.encryption) throw new BackupInvalidError("the decrypted archive is encrypted again: not a Chantal backup");
          } catch (err) {
            manifestError = errorMessage(err);
            manifest = undefined;
            m.body.resume();
          }
          return;
        }
        if (m.path === SIGNATURE_NAME) {
          signature = await signatureCheck(manifestText, await readSmall(m.body, MAX_SIGNATURE_BYTES, SIGNATURE_NAME), opts.keyring);
          if (!signature.ok) throw new SignatureRefused();
          return;
        }
        // With a keyring, nothing is read before the signature has been checked (it comes right after the manifest).
        if (opts.keyring && !signature) {
          signature = {
            ok: false,
            label: "manifest.json signature",
            detail: `the backup is not signed (no ${SIGNATURE_NAME} after manifest.json), and a signature by a key of ${opts.keyring.path} is required`,
          };
          throw new SignatureRefused();
        }
        if (manifest?.encryption && m.path === manifest.encryption.payload && payload.length === 0) {
          payload.push(...(await payloadChecks(m.body, manifest, opts)));
          return;
        }
        const d = digestingStream();
        const isDump = m.path === "database.sql.gz" || m.path === "database.sql";
        if (isDump) {
          const gzip = m.path.endsWith(".gz");
          const checker = dumpChecker(gzip, {
            maxBytes: dumpByteLimit(manifest, m.size, gzip),
            ...(manifest?.database_uncompressed_bytes !== undefined ? { declared: manifest.database_uncompressed_bytes } : {}),
          });
          await pipeline(m.body, d.stream, checker.sink);
          dumpChecks.push(await checker.result());
        } else await pipeline(m.body, d.stream, new Writable({ write: (_c, _e, cb) => cb() }));
        digests.set(m.path, d.digest());
      },
      opts,
    );
  } catch (err) {
    if (err instanceof BackupIdentityError) throw err;
    if (!(err instanceof SignatureRefused)) readError = err;
  }
  const report = (): ArchiveReport => ({ checks, archiveBytes: counter.bytes(), ...(manifest ? { manifest } : {}) });
  if (signature && !signature.ok) {
    checks.push(signature);
    return report();
  }
  if (signature) checks.push(signature);
  checks.push(
    readError
      ? { ok: false, label: "archive is a readable tar", detail: errorMessage(readError) }
      : { ok: true, label: "archive is a readable tar", detail: `${digests.size + (sawManifest ? 1 : 0)} members, ${counter.bytes()} bytes` },
  );
  if (!sawManifest)
    checks.push({ ok: false, label: "manifest.json present", detail: readError ? "not reached" : "the archive has no manifest.json: not a Chantal backup" });
  else if (!manifest) checks.push({ ok: false, label: "manifest.json valid", detail: manifestError ?? "unreadable" });
  else
    checks.push({
      ok: true,
      label: "manifest.json present and valid",
      detail: `backup version ${manifest.backup_version}, schema version ${manifest.database_version}, made by Chantal ${manifest.chantal_version}`,
    });
  if (manifest?.encryption) {
    if (payload.length === 0)
      checks.push({ ok: false, label: `${manifest.encryption.payload} present`, detail: readError ? "not reached" : "missing from the archive" });
    checks.push(...payload);
    if (digests.size > 0)
      checks.push({ ok: false, label: "no members beyond the manifest", detail: `unexpected beside the encrypted payload: ${[...digests.keys()].join(", ")}` });
  } else if (manifest) {
    checks.push(...memberChecks(manifest, digests));
    checks.push(...dumpChecks);
    if (dumpChecks.length === 0) checks.push({ ok: false, label: "database dump decompresses", detail: `${manifest.database_file} not found` });
    if (manifest.includes_config) {
      const present = manifest.config_files.filter((f) => digests.has(CONFIG_PREFIX + f)).length;
      checks.push({
        ok: present === manifest.config_files.length,
        label: "configuration present",
        detail: `${present} of ${manifest.config_files.length} files`,
      });
    }
  }
  return report();
}

/** The first failed check as an error, for callers that must refuse an invalid backup. */
export function assertVerified(report: VerifyReport): Manifest {
  const bad = report.checks.find((c) => !c.ok);
  if (bad || !report.manifest)
    throw new BackupInvalidError(`backup ${report.location} is not valid: ${bad ? `${bad.label}: ${bad.detail ?? "failed"}` : "no manifest"}`);
  return report.manifest;
}
