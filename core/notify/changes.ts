// A sync's content diff for sync.changed: the repository's package versions (and, for RPM, its updateinfo.xml) read
// before the run (under its lock) and after it; packages compared in the type's version order (the snapshot diff's
// rules), advisories by id: those of the new updateinfo that the old one did not have.
import { compressionFromPath, decompressIterable } from "../compress/decompress.js";
import type { Queryable } from "../db/orm.js";
import { readAdvisories } from "../rpm/updateinfo-advisories.js";
import { diffPackageSets, type PackageVersion, repositoryMetadataMatching, repositoryPackageVersions, versionComparator } from "../snapshots/snapshots.js";
import type { BlobStore } from "../storage/blob-store.js";
import { changesJson, type AdvisoryJson, type ChangesJson } from "./events.js";

/** Most bytes an updateinfo.xml may decompress to here (RHEL's is well below). */
const MAX_UPDATEINFO_BYTES = 1024 * 1024 * 1024;

export interface ContentState {
  packages: PackageVersion[];
  /** RPM: the current updateinfo.xml, when upstream has one. */
  updateinfo: { path: string; sha256: string } | null;
}

/** What the repository holds now (read at the start of a run, and again after it). */
export async function contentState(q: Queryable, repositoryId: number, repositoryType: string): Promise<ContentState> {
  const updateinfo = repositoryType === "rpm" ? ((await repositoryMetadataMatching(q, repositoryId, "repodata/%updateinfo.xml%"))[0] ?? null) : null;
  return { packages: await repositoryPackageVersions(q, repositoryId), updateinfo };
}

async function advisoriesIn(blobs: BlobStore, file: { path: string; sha256: string }, signal?: AbortSignal) {
  const label = `${file.path} (pool ${file.sha256.slice(0, 12)}…)`;
  return readAdvisories(
    decompressIterable(blobs.openRead(file.sha256, signal), compressionFromPath(file.path), { maxOutputBytes: MAX_UPDATEINFO_BYTES, label }),
    label,
  );
}

/** The advisories of `after`'s updateinfo whose ids `before`'s did not have; undefined when updateinfo did not change. */
export async function newAdvisories(blobs: BlobStore, before: ContentState, after: ContentState, signal?: AbortSignal): Promise<AdvisoryJson[] | undefined> {
  if (!after.updateinfo || after.updateinfo.sha256 === before.updateinfo?.sha256) return undefined;
  const old = before.updateinfo ? new Set((await advisoriesIn(blobs, before.updateinfo, signal)).map((a) => a.id)) : new Set<string>();
  return (await advisoriesIn(blobs, after.updateinfo, signal)).filter((a) => !old.has(a.id));
}

/** The diff between two states as sync.changed carries it. */
export function contentChanges(before: ContentState, after: ContentState, repositoryType: string, advisories?: AdvisoryJson[]): ChangesJson {
  return changesJson(diffPackageSets(before.packages, after.packages, versionComparator(repositoryType)), advisories);
}
