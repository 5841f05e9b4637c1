// Upstream's own timestamps of a repository's current set, read (bounded) from the index kept verbatim in the pool.
import { MAX_RELEASE_BYTES, parseRelease } from "../apt/release.js";
import { splitClearsigned } from "../openpgp/signature.js";
import { MAX_REPOMD_BYTES, parseRepomd } from "../rpm/repomd.js";
import { type BlobStore, readBlob } from "../storage/blob-store.js";

export interface UpstreamTimes {
  /** repomd.xml <revision> when it is a Unix time (createrepo's default), or the Release Date:. */
  upstreamTimestamp: Date | null;
  /** The raw repomd.xml <revision> (it may be any string). */
  revision: string | null;
  /** The Release Valid-Until (APT only). */
  validUntil: Date | null;
}

export const NO_UPSTREAM_TIMES: UpstreamTimes = { upstreamTimestamp: null, revision: null, validUntil: null };

/**
 * From the current set's index blobs (repositoryStatusRows().indexBlobs): repomd.xml, else InRelease, else Release.
 * A blob that is missing or unreadable gives no times (warn passes the reason on): freshness never fails for it.
 */
export async function upstreamTimes(
  blobs: BlobStore,
  repoId: string,
  indexBlobs: readonly { path: string; sha256: string }[],
  warn: (message: string) => void = () => {},
): Promise<UpstreamTimes> {
  const repomd = indexBlobs.find((b) => b.path === "repodata/repomd.xml");
  const release = indexBlobs.find((b) => b.path.endsWith("/InRelease")) ?? indexBlobs.find((b) => b.path.endsWith("/Release"));
  const chosen = repomd ?? release;
  if (!chosen) return NO_UPSTREAM_TIMES;
  const label = `the ${chosen.path} of repository ${repoId}`;
  try {
    if (repomd) {
      const revision = parseRepomd(await readBlob(blobs, repomd.sha256, { maxBytes: MAX_REPOMD_BYTES, label })).revision ?? null;
      const asUnix = revision !== null && /^[0-9]{9,11}$/.test(revision) ? new Date(Number(revision) * 1000) : null;
      return { upstreamTimestamp: asUnix, revision, validUntil: null };
    }
    const text = (await readBlob(blobs, chosen.sha256, { maxBytes: MAX_RELEASE_BYTES, label })).toString("utf8");
    const parsed = parseRelease(chosen.path.endsWith("/InRelease") ? splitClearsigned(text, label).payload : text, label);
    return { upstreamTimestamp: parsed.date ?? null, revision: null, validUntil: parsed.validUntil ?? null };
  } catch (err) {
    warn(`cannot read ${label}: ${(err as Error).message}`);
    return NO_UPSTREAM_TIMES;
  }
}
