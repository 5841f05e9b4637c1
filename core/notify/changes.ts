// A sync's content diff for sync.changed: the repository's package versions read before the run (under its lock) and
// after it, compared in the repository type's version order (the snapshot diff's rules).
import type { Queryable } from "../db/orm.js";
import { diffPackageSets, type PackageVersion, repositoryPackageVersions, versionComparator } from "../snapshots/snapshots.js";
import { changesJson, type AdvisoryJson, type ChangesJson } from "./events.js";

export interface ContentState {
  packages: PackageVersion[];
}

/** What the repository holds now (read at the start of a run, and again after it). */
export async function contentState(q: Queryable, repositoryId: number): Promise<ContentState> {
  return { packages: await repositoryPackageVersions(q, repositoryId) };
}

/** The diff between two states as sync.changed carries it. */
export function contentChanges(before: ContentState, after: ContentState, repositoryType: string, advisories?: AdvisoryJson[]): ChangesJson {
  return changesJson(diffPackageSets(before.packages, after.packages, versionComparator(repositoryType)), advisories);
}
