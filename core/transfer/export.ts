// export create: collect the selection, plan the blobs (full or delta), write them, then manifest.json and its signature, rename the bundle into place, record it.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type pg from "pg";
import type { Config } from "../config/schema.js";
import { exportBlobShas, findExport, recordExport } from "../db/exports.js";
import { instanceId } from "../db/instance.js";
import { errorMessage, UsageError } from "../errors.js";
import { makeDirectory } from "../fs-dirs.js";
import { ownerTag, parseOwner, sweepLeftovers } from "../leftovers.js";
import { loadSigningKey, type SigningKey } from "../openpgp/sign.js";
import { chantalVersion } from "../package-info.js";
import { fsyncDirs, fsyncPath } from "../storage/durable.js";
import type { BlobStore } from "../storage/blob-store.js";
import { collectExport, snapshotBlobShas } from "./collect.js";
import { parseInventory } from "./inventory.js";
import {
  EXPORT_FORMAT,
  EXPORT_FORMAT_VERSION,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  parseManifest,
  serializeManifest,
  type Manifest,
  type Selection,
  type VolumeEntry,
} from "./manifest.js";
import { planExport, type Exclusion, type ExportPlan } from "./plan.js";
import { writeBlobDirectory, writeBlobVolumes } from "./bundle-write.js";

/** Where a killed export's directory lives until it is complete; never mistaken for a bundle. */
export const PARTIAL_SUFFIX = ".~partial";

const EXPORT_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

export interface ExportRequest {
  selection: Selection;
  /** The bundle directory; default <export.dir>/<export id>. */
  output?: string;
  format: "dir" | "tar";
  /** Tar form: the largest volume in bytes. */
  volumeSize?: number;
  /** A delta against an export (its id) or a snapshot (REPO/SNAPSHOT). */
  since?: string;
  /** A delta against the receiver's inventory (have.json). */
  have?: string;
  /** Write no manifest.json.asc (the receiver then needs --insecure-skip-signature). */
  unsigned?: boolean;
  now: Date;
  signal?: AbortSignal;
  onBlob?: (bytes: number) => void;
  /** Called once the plan is known (for a progress bar). */
  onPlan?: (plan: ExportPlan) => void;
}

export interface ExportOutcome {
  exportId: string;
  path: string;
  kind: "full" | "delta";
  baseExportId: string | null;
  baseDescription: string | null;
  snapshots: string[];
  blobsIncluded: number;
  blobsReferenced: number;
  bytesIncluded: number;
  bytesReferenced: number;
  volumes: VolumeEntry[];
  signedBy: string | null;
  manifestSha256: string;
}

/** <yyyymmddThhmmssZ>-<8 hex> (docs/export-format.md). */
export function newExportId(now: Date): string {
  return `${now
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/[-:]/g, "")}-${randomBytes(4).toString("hex")}`;
}

/** The key that signs bundles: export.signing, else the global signing: key; none is a usage error unless --unsigned. */
async function exportSigner(config: Config, unsigned: boolean | undefined, now: Date): Promise<SigningKey | null> {
  if (unsigned) return null;
  if (config.export?.signing) return loadSigningKey(config.export.signing, "export.signing", now);
  if (config.signing) return loadSigningKey(config.signing, "signing", now);
  throw new UsageError(
    'no key signs the bundle: set export.signing (key_file, passphrase) or the global signing: block ("signing generate-key" makes a key), or pass --unsigned (the receiver must then import with --insecure-skip-signature)',
  );
}

/** The delta's exclusion and its base in the manifest's words. */
async function deltaBase(pool: pg.Pool, req: ExportRequest): Promise<{ exclude?: Exclusion; baseExportId: string | null }> {
  if (req.since !== undefined && req.have !== undefined) throw new UsageError("--since and --have both name a delta's base: give one");
  if (req.have !== undefined) {
    const bytes = await readFile(req.have).catch((err: unknown) => {
      throw new UsageError(`cannot read --have ${req.have}: ${errorMessage(err)} (write it on the receiving side with "import inventory > have.json")`);
    });
    const inv = parseInventory(bytes, req.have);
    return { exclude: { description: `inventory ${basename(req.have)}`, sha256s: new Set(inv.blobs) }, baseExportId: null };
  }
  if (req.since === undefined) return { baseExportId: null };
  if (EXPORT_ID.test(req.since) || !req.since.includes("/")) {
    const base = await findExport(pool, req.since);
    if (!base) throw new UsageError(`--since ${req.since}: no such export here (see "export list"); a snapshot is written REPO/SNAPSHOT`);
    return { exclude: { description: `export ${base.exportId}`, sha256s: await exportBlobShas(pool, base.exportId) }, baseExportId: base.exportId };
  }
  const slash = req.since.indexOf("/");
  const repoId = req.since.slice(0, slash);
  const name = req.since.slice(slash + 1);
  return { exclude: { description: `snapshot ${repoId}/${name}`, sha256s: await snapshotBlobShas(pool, repoId, name) }, baseExportId: null };
}

export async function createExport(pool: pg.Pool, blobs: BlobStore, config: Config, req: ExportRequest): Promise<ExportOutcome> {
  const signer = await exportSigner(config, req.unsigned, req.now);
  const exportId = newExportId(req.now);
  const output = resolve(req.output ?? join(config.export?.dir ?? join(config.storage.base_path, "exports"), exportId));
  if (existsSync(output)) throw new UsageError(`${output} exists already: a bundle is written into a new directory; choose another --output or remove it`);
  const collected = await collectExport(pool, req.selection);
  const { exclude, baseExportId } = await deltaBase(pool, req);
  const plan = planExport(collected.referenced, {
    format: req.format,
    ...(exclude ? { exclude } : {}),
    ...(req.volumeSize !== undefined ? { volumeSize: req.volumeSize } : {}),
  });
  req.onPlan?.(plan);
  // Owned (host, pid): what a killed export left beside it is swept, another running export's is not.
  const partial = `${output}${ownerTag()}${PARTIAL_SUFFIX}`;
  await makeDirectory(dirname(output));
  await sweepLeftovers(dirname(output), (name) => name.endsWith(PARTIAL_SUFFIX) && parseOwner(name) !== null);
  await makeDirectory(partial);
  try {
    const writeOpts = {
      mtime: Math.floor(req.now.getTime() / 1000),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.onBlob ? { onBlob: req.onBlob } : {}),
    };
    let volumes: VolumeEntry[] = [];
    if (req.format === "dir") await writeBlobDirectory(blobs, partial, plan, writeOpts);
    else volumes = await writeBlobVolumes(blobs, partial, plan, writeOpts);
    const kind = exclude ? "delta" : "full";
    const manifest: Manifest = {
      format: EXPORT_FORMAT,
      format_version: EXPORT_FORMAT_VERSION,
      export_id: exportId,
      instance_id: await instanceId(pool),
      chantal_version: chantalVersion,
      created_at: req.now.toISOString(),
      kind,
      base_export_id: baseExportId,
      base_description: exclude?.description ?? null,
      selection: req.selection,
      repositories: collected.repositories,
      packages: collected.packages,
      snapshots: collected.snapshots,
      group_snapshots: collected.group_snapshots,
      environments: collected.environments,
      blobs: plan.included.map((b) => ({ sha256: b.sha256, size: b.size, volume: b.volume })),
      volumes,
    };
    const bytes = serializeManifest(manifest);
    // What we write must be what a reader accepts.
    parseManifest(bytes, partial);
    await writeFile(join(partial, MANIFEST_FILE), bytes, { mode: 0o644 });
    await fsyncPath(join(partial, MANIFEST_FILE));
    if (signer) {
      await writeFile(join(partial, MANIFEST_SIGNATURE_FILE), await signer.signDetached(bytes), { mode: 0o644 });
      await fsyncPath(join(partial, MANIFEST_SIGNATURE_FILE));
    }
    await fsyncDirs([partial]);
    req.signal?.throwIfAborted();
    if (existsSync(output)) throw new UsageError(`${output} appeared while the export ran: the bundle stays in ${partial}`);
    await rename(partial, output);
    await fsyncDirs([dirname(output)]);
    const manifestSha256 = createHash("sha256").update(bytes).digest("hex");
    await recordExport(
      pool,
      {
        exportId,
        kind,
        baseExportId,
        selection: req.selection as Record<string, unknown>,
        path: output,
        manifestSha256,
        blobCount: plan.included.length,
        blobBytes: plan.includedBytes,
        volumeCount: volumes.length,
        createdAt: req.now,
      },
      plan.referenced.map((b) => b.sha256),
    );
    return {
      exportId,
      path: output,
      kind,
      baseExportId,
      baseDescription: exclude?.description ?? null,
      snapshots: collected.snapshots.map((s) => `${s.repo_id}/${s.name}`),
      blobsIncluded: plan.included.length,
      blobsReferenced: plan.referenced.length,
      bytesIncluded: plan.includedBytes,
      bytesReferenced: plan.referencedBytes,
      volumes,
      signedBy: signer?.fingerprint ?? null,
      manifestSha256,
    };
  } catch (err) {
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}
