// The publish gate: a tree is checked as a client would read it before it replaces the live one (docs/DESIGN.md, "Publish gate").
import type pg from "pg";
import type { RepositoryConfig } from "../config/schema.js";
import { treeWithSizes } from "../db/package-sets.js";
import { ChantalError } from "../errors.js";
import { TreeProblems, type TreeUnderCheck } from "../mirror/tree-check.js";
import type { VerifiedListing } from "../mirror/types.js";
import type { Keyring } from "../openpgp/signature.js";
import type { MetadataReadContext } from "../mirror/types.js";
import { repositoryTypeOf } from "../repository-types.js";
import type { BlobStore } from "../storage/blob-store.js";

export class PublishGateError extends ChantalError {}

export interface GateOptions {
  /** Keys the tree's signature must verify with (verify.keyring, the mirror's own key); none: not checked. */
  keyring?: Keyring;
  /** The mirror's key signs this tree: a missing signature is a problem. */
  requireSignature?: boolean;
  /** publish.gate: closure — what reading the dependency repositories needs. */
  closure?: MetadataReadContext;
  /** What the sync that committed the tree verified (core/mirror/tree-check.ts VerifiedListing). */
  verified?: VerifiedListing;
  signal?: AbortSignal;
}

/**
 * Checks the tree of `owner` (the repository's current set, or a snapshot) and throws with every problem found (the
 * first 20 in full). Returns the tree it checked (path -> sha256): the publish builds exactly that one.
 */
export async function gateTree(
  db: pg.Pool,
  blobs: BlobStore,
  repo: RepositoryConfig,
  name: string,
  tree: { owner: "repository" | "snapshot"; id: number },
  opts: GateOptions,
): Promise<ReadonlyMap<string, string> | undefined> {
  const type = repositoryTypeOf(repo.type);
  if (!type) return undefined;
  const { entries, sizes } = await treeWithSizes(db, tree.owner, tree.id, opts.signal);
  const view: TreeUnderCheck = {
    repoId: repo.id,
    name,
    upstreamUrl: repo.upstream_url,
    entries,
    blobs,
    sizes,
    requireSignature: opts.requireSignature ?? false,
    ...(opts.keyring ? { keyring: opts.keyring } : {}),
    ...(opts.closure ? { closure: opts.closure } : {}),
    ...(opts.verified ? { verified: opts.verified } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const problems = new TreeProblems();
  await type.checkTree(view, problems, repo);
  if (problems.ok) return entries;
  throw new PublishGateError(
    `repository ${repo.id}: the tree for ${name} fails the client check (${problems.count} problem${problems.count === 1 ? "" : "s"}), so the published ${name} stays as it was: ${problems.summary()}`,
  );
}
