// backup-verify: read the whole archive once and check every member against the manifest; writes nothing.
import { Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { errorMessage } from "../errors.js";
import { countingStream, digestingStream, readArchive, readSmall } from "./archive.js";
import { DUMP_END } from "./dump.js";
import { BackupInvalidError, CONFIG_PREFIX, dumpByteLimit, MANIFEST_NAME, parseManifest, type Manifest, type MemberDigest } from "./manifest.js";
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

/**
 * Verify one stored backup: tar readable, manifest valid, its signature (with a keyring: required, and checked before
 * any other member is read), every member present with its sha256, dump complete, config present.
 */
export async function verifyBackup(store: BackupStore, name: string, opts: { signal?: AbortSignal; keyring?: Keyring } = {}): Promise<VerifyReport> {
  const location = store.describe(name);
  const checks: VerifyCheck[] = [];
  const digests = new Map<string, MemberDigest>();
  const dumpChecks: VerifyCheck[] = [];
  let manifest: Manifest | undefined;
  let manifestError: string | undefined;
  let manifestText: string | undefined;
  let signature: VerifyCheck | undefined;
  let sawManifest = false;
  const counter = countingStream();
  let readError: unknown;
  try {
    const input = await store.openRead(name, opts.signal);
    await readArchive(
      input.pipe(counter.stream),
      async (m) => {
        if (m.path === MANIFEST_NAME) {
          sawManifest = true;
          try {
            manifestText = await readSmall(m.body, MAX_MANIFEST_BYTES, MANIFEST_NAME);
            manifest = parseManifest(manifestText);
          } catch (err) {
            manifestError = errorMessage(err);
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
    if (!(err instanceof SignatureRefused)) readError = err;
  }
  if (signature && !signature.ok) {
    checks.push(signature);
    return { ok: false, location, archiveBytes: counter.bytes(), checks, ...(manifest ? { manifest } : {}) };
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
  if (manifest) {
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
  return { ok: checks.every((c) => c.ok), location, archiveBytes: counter.bytes(), checks, ...(manifest ? { manifest } : {}) };
}

/** The first failed check as an error, for callers that must refuse an invalid backup. */
export function assertVerified(report: VerifyReport): Manifest {
  const bad = report.checks.find((c) => !c.ok);
  if (bad || !report.manifest)
    throw new BackupInvalidError(`backup ${report.location} is not valid: ${bad ? `${bad.label}: ${bad.detail ?? "failed"}` : "no manifest"}`);
  return report.manifest;
}
