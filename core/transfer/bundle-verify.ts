// Verification of a bundle without importing it: the signature of manifest.json first, then the manifest, the layout, every volume and blob (export verify; import runs the same first steps).
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { SignatureError, verifyDetached, type Keyring } from "../openpgp/signature.js";
import { errCode, SHA256_HEX } from "../storage/blob-store.js";
import { readBlobs } from "./bundle-read.js";
import {
  BLOBS_DIR,
  BundleInvalidError,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  MAX_MANIFEST_BYTES,
  parseManifest,
  referencedBlobs,
  volumeFileName,
  type Manifest,
} from "./manifest.js";

/** How the manifest is trusted: a keyring its signature must verify with, or explicitly not at all. */
export type BundleTrust = { keyring: Keyring } | { insecure: true };

export interface OpenedBundle {
  manifest: Manifest;
  /** sha256 of manifest.json's bytes (imports and exports record it). */
  manifestSha256: string;
  /** The key that signed it; null with { insecure: true }. */
  signedBy: string | null;
}

async function readLimited(path: string, max: number, what: string, dir: string): Promise<Buffer> {
  const info = await stat(path).catch((err: unknown) => {
    if (errCode(err) === "ENOENT") throw new BundleInvalidError(`${dir} is not a complete bundle: it has no ${what}`);
    throw new BundleInvalidError(`${dir}: cannot read ${what}: ${errorMessage(err)}`);
  });
  if (!info.isFile()) throw new BundleInvalidError(`${dir}: ${what} is not a file`);
  if (info.size > max) throw new BundleInvalidError(`${dir}: ${what} is ${info.size} bytes, more than the ${max} it may have`);
  return readFile(path);
}

/**
 * Check manifest.json's signature against the trusted keys (before anything in it is read), then parse it. Throws
 * BundleInvalidError (exit 65) for a missing or bad signature, a newer format or an inconsistent manifest.
 */
export async function openBundle(dir: string, trust: BundleTrust, now: Date = new Date()): Promise<OpenedBundle> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory())
    throw new BundleInvalidError(`${dir} is not a bundle directory (copy the whole directory: manifest.json, its .asc and blobs/ or the volumes)`);
  const bytes = await readLimited(join(dir, MANIFEST_FILE), MAX_MANIFEST_BYTES, MANIFEST_FILE, dir);
  let signedBy: string | null = null;
  if (!("insecure" in trust)) {
    const sig = await readFile(join(dir, MANIFEST_SIGNATURE_FILE)).catch((err: unknown) => {
      if (errCode(err) === "ENOENT")
        throw new BundleInvalidError(
          `${dir} is unsigned (no ${MANIFEST_SIGNATURE_FILE}): refused; import an unsigned bundle only with --insecure-skip-signature, when you trust the medium`,
        );
      throw err;
    });
    if (sig.length > 1024 * 1024) throw new BundleInvalidError(`${dir}: ${MANIFEST_SIGNATURE_FILE} is ${sig.length} bytes: not a signature`);
    try {
      await verifyDetached(bytes, sig, trust.keyring, `${dir}/${MANIFEST_FILE}`, now);
    } catch (err) {
      if (err instanceof SignatureError)
        throw new BundleInvalidError(
          `${err.message} (trusted keys: ${trust.keyring.path}): the bundle was not signed by a trusted key, or manifest.json was changed`,
        );
      throw err;
    }
    signedBy = trust.keyring.keys.map((k) => k.getFingerprint().toUpperCase()).join(", ");
  }
  const manifest = parseManifest(bytes, dir);
  return { manifest, manifestSha256: createHash("sha256").update(bytes).digest("hex"), signedBy };
}

export interface VerifyOptions {
  signal?: AbortSignal;
  now?: Date;
  /** Blobs that are referenced but not in the bundle (a delta) are checked here: which of them the receiver lacks. */
  against?: (shas: string[]) => Promise<Set<string>>;
}

export interface VerifyResult extends OpenedBundle {
  /** Every problem found, in the order found; empty: the bundle is complete and intact. */
  problems: string[];
  /** Referenced blobs not in the bundle (a delta), and how many of them `against` found missing (null: not checked). */
  external: { referenced: number; missing: number | null } | null;
}

/** Files of blobs/ that are not <aa>/<sha256> of a listed blob (a directory-form bundle holds exactly its blobs). */
async function strayFiles(dir: string, manifest: Manifest): Promise<string[]> {
  const listed = new Set(manifest.blobs.map((b) => b.sha256));
  const out: string[] = [];
  const top = await readdir(join(dir, BLOBS_DIR), { withFileTypes: true }).catch(() => []);
  for (const d of top) {
    if (!d.isDirectory() || !/^[0-9a-f]{2}$/.test(d.name)) {
      out.push(`${BLOBS_DIR}/${d.name}`);
      continue;
    }
    for (const f of await readdir(join(dir, BLOBS_DIR, d.name)))
      if (!SHA256_HEX.test(f) || !f.startsWith(d.name) || !listed.has(f)) out.push(`${BLOBS_DIR}/${d.name}/${f}`);
  }
  return out;
}

/**
 * The whole check of `export verify`: the signature (openBundle), the layout (directory or tar form, nothing extra),
 * every volume's size and sha256 and every blob's; with `against`, a delta's referenced blobs must be at the receiver.
 */
export async function verifyBundle(dir: string, trust: BundleTrust, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const opened = await openBundle(dir, trust, opts.now);
  const { manifest } = opened;
  const problems: string[] = [];
  const entries = await readdir(dir);
  const volumeFiles = new Set(manifest.volumes.map((v) => v.file));
  manifest.volumes.forEach((v, i) => {
    if (v.file !== volumeFileName(i)) problems.push(`${dir}: volume ${i + 1} is named ${v.file}, not ${volumeFileName(i)}`);
  });
  if (manifest.volumes.length > 0 && entries.includes(BLOBS_DIR)) problems.push(`${dir}: a tar-form bundle has a ${BLOBS_DIR}/ directory`);
  for (const e of entries)
    if (/^volume-\d+\.tar$/.test(e) && !volumeFiles.has(e)) problems.push(`${dir}: ${e} is not a volume the manifest lists (a volume of another bundle?)`);
  if (manifest.volumes.length === 0) for (const f of await strayFiles(dir, manifest)) problems.push(`${dir}: ${f} is not a blob the manifest lists`);
  await readBlobs(dir, manifest, { onProblem: (p) => problems.push(p), ...(opts.signal ? { signal: opts.signal } : {}) });
  let external: VerifyResult["external"] = null;
  const inBundle = new Set(manifest.blobs.map((b) => b.sha256));
  const outside = [...referencedBlobs(manifest)].filter((s) => !inBundle.has(s)).sort();
  if (opts.against && outside.length > 0) {
    const missing = await opts.against(outside);
    external = { referenced: outside.length, missing: missing.size };
    if (missing.size > 0) {
      const need = manifest.base_export_id
        ? `import export ${manifest.base_export_id} first`
        : `this delta was cut against ${manifest.base_description ?? "an unknown base"}`;
      problems.push(
        `${dir}: a delta: ${missing.size} of the ${outside.length} blobs it expects at the receiver are not here (first ${[...missing].sort()[0]}): ${need}, or export a full bundle`,
      );
    }
  } else if (outside.length > 0) external = { referenced: outside.length, missing: null };
  return { ...opened, problems, external };
}
