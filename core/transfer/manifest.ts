// manifest.json of an air-gap bundle (docs/export-format.md): what it holds, every blob's sha256 and size, the
// volumes' sha256; parsed as untrusted data with a size limit, and a newer format_version is refused by name.
import { z } from "zod";
import { ChantalError, ExitCode } from "../errors.js";

/** Bumped on an incompatible change of the layout; a reader reads every version up to its own. */
export const EXPORT_FORMAT_VERSION = 1;
export const EXPORT_FORMAT = "chantal-export";
export const MANIFEST_FILE = "manifest.json";
/** Armored detached OpenPGP signature of manifest.json's exact bytes. */
export const MANIFEST_SIGNATURE_FILE = "manifest.json.asc";
/** Directory form: blobs/<aa>/<sha256>, the first two hex digits fan out. */
export const BLOBS_DIR = "blobs";
/** A 100,000-package snapshot's manifest is ~30 MB; more than this is not one of ours. */
export const MAX_MANIFEST_BYTES = 512 * 1024 * 1024;

/** A bundle that is not what it claims: tampered, truncated, incomplete or from a newer Chantal. Nothing is imported. */
export class BundleInvalidError extends ChantalError {
  override readonly exitCode = ExitCode.dataError;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase sha256 hex digest");
const count = z.number().int().min(0);
const name = z.string().min(1).max(255);
const isoTime = z.iso.datetime({ offset: true });

/** What was asked for: `export create --repo-id X --snapshot N`, `--group G --snapshot N`, or `--env E [--group G]`. */
export const SelectionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("snapshot"), repo_id: name, snapshot: name }),
  z.strictObject({ kind: z.literal("group"), group: name, snapshot: name }),
  z.strictObject({ kind: z.literal("environment"), environment: name, group: name.optional() }),
]);

export const RepositoryEntrySchema = z.strictObject({
  repo_id: name,
  type: z.enum(["rpm", "apt"]),
  /** The exporter's upstream (informative: the receiver never contacts it). */
  upstream_url: z.string(),
});

/** A package row of the catalog (chantal.packages), so the receiver records it as the exporter did. */
export const PackageEntrySchema = z.strictObject({
  sha256: sha256Hex,
  size: count,
  type: z.enum(["rpm", "deb", "dsc", "file"]),
  name: z.string().min(1),
  epoch: z.number().int().min(0),
  version: z.string(),
  release: z.string(),
  arch: z.string(),
  /** Upstream's checksum, `algo:hex`. */
  checksum: z.string().min(1),
  metadata: z.record(z.string(), z.unknown()),
});

export const SnapshotEntrySchema = z.strictObject({
  repo_id: name,
  name,
  description: z.string().nullable(),
  created_at: isoTime,
  /** Location in the published tree → package sha256 (a PackageEntry). */
  packages: z.record(z.string().min(1), sha256Hex),
  /** Path in the published tree → metadata file sha256 (a blob; its size is in `blobs` or at the receiver). */
  metadata: z.record(z.string().min(1), sha256Hex),
});

export const GroupSnapshotEntrySchema = z.strictObject({
  group: name,
  name,
  description: z.string().nullable(),
  created_at: isoTime,
  /** The member repositories; each member's snapshot is the SnapshotEntry of the same name. */
  members: z.array(name).min(1),
});

/** What an environment served at export time: the receiver may promote the same (import --promote-to). */
export const EnvironmentEntrySchema = z.strictObject({ environment: name, group: name, snapshot: name });

export const BlobEntrySchema = z.strictObject({
  sha256: sha256Hex,
  size: count,
  /** Tar form: the volume (index into `volumes`) holding it as member blobs/<sha256>; directory form: null. */
  volume: count.nullable(),
});

export const VolumeEntrySchema = z.strictObject({ file: name, size: count, sha256: sha256Hex });

export const ManifestSchema = z.strictObject({
  format: z.literal(EXPORT_FORMAT),
  format_version: z.number().int().min(1),
  export_id: name,
  /** The exporting installation (chantal.instance). */
  instance_id: z.uuid(),
  chantal_version: z.string().min(1),
  created_at: isoTime,
  kind: z.enum(["full", "delta"]),
  /** A delta: the export the receiver must have imported, or null when it was cut against --have or a snapshot. */
  base_export_id: name.nullable(),
  /** A delta's reference, for messages: "export <id>", "snapshot <repo>/<name>", "inventory <file>". */
  base_description: z.string().nullable(),
  selection: SelectionSchema,
  repositories: z.array(RepositoryEntrySchema),
  packages: z.array(PackageEntrySchema),
  snapshots: z.array(SnapshotEntrySchema),
  group_snapshots: z.array(GroupSnapshotEntrySchema),
  environments: z.array(EnvironmentEntrySchema),
  /** The blobs IN this bundle; every other sha256 the snapshots reference must be at the receiver already (a delta). */
  blobs: z.array(BlobEntrySchema),
  /** Tar form: the volumes in order; directory form: []. */
  volumes: z.array(VolumeEntrySchema),
});

export type Manifest = z.output<typeof ManifestSchema>;
export type Selection = z.output<typeof SelectionSchema>;
export type SnapshotEntry = z.output<typeof SnapshotEntrySchema>;
export type PackageEntry = z.output<typeof PackageEntrySchema>;
export type BlobEntry = z.output<typeof BlobEntrySchema>;
export type VolumeEntry = z.output<typeof VolumeEntrySchema>;

/** The bytes of manifest.json: sorted keys, two-space indent, a final newline; the same manifest gives the same bytes. */
export function serializeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(sortKeys(manifest), null, 2)}\n`);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

/** Parse manifest.json and check its own consistency; `where` names the bundle in errors. Throws BundleInvalidError. */
export function parseManifest(bytes: Buffer, where: string): Manifest {
  if (bytes.length > MAX_MANIFEST_BYTES)
    throw new BundleInvalidError(`${where}: ${MANIFEST_FILE} is ${bytes.length} bytes, more than the ${MAX_MANIFEST_BYTES} a bundle's manifest may have`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new BundleInvalidError(`${where}: ${MANIFEST_FILE} is not valid JSON: ${(err as Error).message}`);
  }
  const head = raw as { format?: unknown; format_version?: unknown } | null;
  if (head?.format !== EXPORT_FORMAT)
    throw new BundleInvalidError(`${where}: ${MANIFEST_FILE} is not a Chantal export manifest (format is not "${EXPORT_FORMAT}")`);
  if (typeof head.format_version === "number" && head.format_version > EXPORT_FORMAT_VERSION) {
    throw new BundleInvalidError(
      `${where}: the bundle has format_version ${head.format_version}; this Chantal reads up to ${EXPORT_FORMAT_VERSION}: upgrade Chantal on this side to import it`,
    );
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BundleInvalidError(`${where}: ${MANIFEST_FILE} is invalid at ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  checkConsistency(parsed.data, where);
  return parsed.data;
}

/** Cross-references a schema cannot say: every snapshot's repository, package and group member exists; blobs and volumes agree. */
function checkConsistency(m: Manifest, where: string): void {
  const fail = (message: string): never => {
    throw new BundleInvalidError(`${where}: ${MANIFEST_FILE}: ${message}`);
  };
  const repos = new Set(m.repositories.map((r) => r.repo_id));
  if (repos.size !== m.repositories.length) fail("a repository is listed twice");
  const packages = new Set(m.packages.map((p) => p.sha256));
  const snapshots = new Set<string>();
  for (const s of m.snapshots) {
    if (!repos.has(s.repo_id)) fail(`snapshot ${s.repo_id}/${s.name} names repository ${s.repo_id}, which the manifest does not list`);
    const key = `${s.repo_id}/${s.name}`;
    if (snapshots.has(key)) fail(`snapshot ${key} is listed twice`);
    snapshots.add(key);
    for (const [location, sha] of Object.entries(s.packages)) {
      if (!packages.has(sha)) fail(`snapshot ${key} lists ${location} (${sha}), which is not among the packages`);
    }
  }
  for (const g of m.group_snapshots) {
    for (const member of g.members)
      if (!snapshots.has(`${member}/${g.name}`))
        fail(`group snapshot ${g.group}/${g.name} names member ${member}, whose snapshot ${g.name} is not in the bundle`);
  }
  for (const e of m.environments) {
    if (!m.group_snapshots.some((g) => g.group === e.group && g.name === e.snapshot))
      fail(`environment ${e.environment} serves ${e.group}/${e.snapshot}, which is not in the bundle`);
  }
  const blobs = new Set<string>();
  for (const b of m.blobs) {
    if (blobs.has(b.sha256)) fail(`blob ${b.sha256} is listed twice`);
    blobs.add(b.sha256);
    if (m.volumes.length === 0 ? b.volume !== null : b.volume === null || b.volume >= m.volumes.length) {
      fail(`blob ${b.sha256} names volume ${b.volume}, but the bundle has ${m.volumes.length} volumes`);
    }
  }
  if (m.kind === "full") {
    for (const sha of referencedBlobs(m)) if (!blobs.has(sha)) fail(`a full export must hold every blob it references; ${sha} is missing`);
  }
  if (m.kind === "full" && (m.base_export_id !== null || m.base_description !== null)) fail("a full export has no base");
}

/** Every sha256 the bundle's snapshots reference (packages and metadata files): what the receiver holds after the import. */
export function referencedBlobs(m: Pick<Manifest, "snapshots">): Set<string> {
  const out = new Set<string>();
  for (const s of m.snapshots) {
    for (const sha of Object.values(s.packages)) out.add(sha);
    for (const sha of Object.values(s.metadata)) out.add(sha);
  }
  return out;
}

/** Directory form: where a blob is inside the bundle. */
export function blobPath(sha256: string): string {
  return `${BLOBS_DIR}/${sha256.slice(0, 2)}/${sha256}`;
}

/** Tar form: the member name of a blob inside its volume. */
export function volumeMemberName(sha256: string): string {
  return `${BLOBS_DIR}/${sha256}`;
}

/** Tar form: the file name of volume `index` (0-based) of export `exportId`: volume-0001.tar, … */
export function volumeFileName(index: number): string {
  return `volume-${String(index + 1).padStart(4, "0")}.tar`;
}

/** A selection in words, for lists and messages: "snapshot r1/s1", "group el9/el9-1", "environment prod (group el9)". */
export function describeSelection(selection: Record<string, unknown>): string {
  const parsed = SelectionSchema.safeParse(selection);
  if (!parsed.success) return JSON.stringify(selection);
  const s = parsed.data;
  if (s.kind === "snapshot") return `snapshot ${s.repo_id}/${s.snapshot}`;
  if (s.kind === "group") return `group ${s.group}/${s.snapshot}`;
  return `environment ${s.environment}${s.group ? ` (group ${s.group})` : ""}`;
}
