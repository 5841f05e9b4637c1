// The client's-eye check of a tree before it goes live (publish gate): what both formats' checks share.
import { createHash } from "node:crypto";
import type { ChecksumAlgo } from "../checksum.js";
import type { Keyring } from "../openpgp/signature.js";
import { readBlob, type BlobStore } from "../storage/blob-store.js";
import type { Unsatisfied, FilterPackage } from "../filter/types.js";
import type { MetadataReadContext, VerifiedListing } from "./types.js";

/** A tree about to be published, as the gate sees it: paths and blobs, never the live tree on disk. */
export interface TreeUnderCheck {
  repoId: string;
  /** `latest` or `snapshots/<name>`, for messages. */
  name: string;
  /** The repository's upstream URL: metadata locations are resolved against it, as during the sync. */
  upstreamUrl: string;
  /** Every file of the tree: repository-relative path -> sha256. */
  entries: ReadonlyMap<string, string>;
  blobs: BlobStore;
  /** Sizes of the tree's blobs (from the catalog, read with the tree; absent: not a known blob). */
  sizes: ReadonlyMap<string, number>;
  /** The keys the tree's signature must verify with; undefined: no key is configured, the signature is not checked. */
  keyring?: Keyring;
  /** The tree must be signed (the mirror's key signs it: a filtered or resigned repository). */
  requireSignature: boolean;
  /** publish.gate: closure — every dependency of every package must be satisfied by the tree (or filter.dependency_repositories). */
  closure?: MetadataReadContext;
  /** The sync that committed this tree verified its package list (the gate compares it with the tree without parsing again). */
  verified?: VerifiedListing;
  signal?: AbortSignal;
}

/** Problems found, the first `max` kept in full and the rest counted. */
export class TreeProblems {
  readonly list: string[] = [];
  count = 0;
  constructor(private readonly max = 20) {}

  add(problem: string): void {
    this.count++;
    if (this.list.length < this.max) this.list.push(problem);
  }

  get ok(): boolean {
    return this.count === 0;
  }

  /** `p1; p2; ...` and `and N more`. */
  summary(): string {
    const more = this.count - this.list.length;
    return this.list.join("; ") + (more > 0 ? `; and ${more} more` : "");
  }
}

/** A small file of the tree (an index, a signature), or undefined when the tree lacks it; larger than maxBytes is a problem. */
export async function readTreeFile(tree: TreeUnderCheck, path: string, maxBytes: number): Promise<Buffer | undefined> {
  const sha = tree.entries.get(path);
  if (sha === undefined) return undefined;
  return readBlob(tree.blobs, sha, { maxBytes, label: path, ...(tree.signal ? { signal: tree.signal } : {}) });
}

/** The blob's digest in another algorithm than sha256 (streamed: an index can be hundreds of MB). */
async function digestOf(tree: TreeUnderCheck, sha256: string, algo: ChecksumAlgo): Promise<string> {
  const hash = createHash(algo);
  for await (const chunk of tree.blobs.openRead(sha256, tree.signal)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * An index file the tree's signed index lists: present, of the listed size and checksum. The pool is keyed by
 * sha256, so a sha256 is compared without reading; another algorithm is computed from the blob.
 */
export async function checkListedFile(
  tree: TreeUnderCheck,
  problems: TreeProblems,
  listedBy: string,
  path: string,
  expected: { algo: ChecksumAlgo; value: string; size?: number | undefined },
): Promise<void> {
  const sha = tree.entries.get(path);
  if (sha === undefined) {
    problems.add(`${listedBy} lists ${path}, which the tree lacks`);
    return;
  }
  const size = await tree.blobs.sizeOf(sha);
  if (size === undefined) {
    problems.add(`${path} is not in the pool (blob ${sha})`);
    return;
  }
  if (expected.size !== undefined && size !== expected.size) problems.add(`${path} is ${size} bytes, ${listedBy} says ${expected.size}`);
  const actual = expected.algo === "sha256" ? sha : await digestOf(tree, sha, expected.algo);
  if (actual !== expected.value.toLowerCase()) problems.add(`${path} has ${expected.algo} ${actual}, ${listedBy} says ${expected.value}`);
}

/** A package the metadata lists. `label` names it in a problem (a function: built only for one that has a problem). */
export interface ListedPackage {
  path: string;
  sha256?: string | undefined;
  size?: number | undefined;
  label: string | (() => string);
  /** The sync that committed the tree found the blob in the pool (VerifiedListing): not asked again. */
  inPool?: boolean;
}

/**
 * Packages the metadata lists, checked against the tree and the pool: present, same sha256, same size. Presence is
 * asked once for all of them (an S3 pool answers many by listing, once).
 */
export class ListedPackages {
  private batch: ListedPackage[] = [];
  checked = 0;

  constructor(
    private readonly tree: TreeUnderCheck,
    private readonly problems: TreeProblems,
  ) {}

  /**
   * `sha256` when the metadata declares one (else only presence and size are checked here; the sync verified the other
   * algorithm).
   */
  add(p: ListedPackage): void {
    this.batch.push(p);
  }

  /** One pass over the batch (100,000 packages on every publish of a large repository): each path looked up once. */
  async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    this.tree.signal?.throwIfAborted();
    const blobOf = batch.map((p) => this.tree.entries.get(p.path));
    const ask = new Set<string>();
    for (let i = 0; i < batch.length; i++) {
      const sha = blobOf[i];
      if (sha !== undefined && !batch[i]!.inPool) ask.add(sha);
    }
    const present = ask.size > 0 ? await this.tree.blobs.haveMany(ask) : new Set<string>();
    this.tree.signal?.throwIfAborted();
    const sizes = this.tree.sizes;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      this.checked++;
      const sha = blobOf[i];
      if (sha === undefined) {
        this.problems.add(`${labelOf(p)}: the metadata lists ${p.path}, which the tree lacks`);
        continue;
      }
      if (!p.inPool && !present.has(sha)) this.problems.add(`${labelOf(p)}: ${p.path} is not in the pool (blob ${sha})`);
      if (p.sha256 !== undefined && p.sha256.toLowerCase() !== sha)
        this.problems.add(`${labelOf(p)}: ${p.path} is blob ${sha}, the metadata says sha256 ${p.sha256}`);
      const size = sizes.get(sha);
      if (p.size !== undefined && size !== undefined && size !== p.size)
        this.problems.add(`${labelOf(p)}: ${p.path} is ${size} bytes, the metadata says ${p.size}`);
    }
  }
}

function labelOf(p: ListedPackage): string {
  return typeof p.label === "string" ? p.label : p.label();
}

/** The closure's unsatisfied dependencies as problems: `<package> needs <requirement>`. */
export function addUnsatisfied(
  problems: TreeProblems,
  packages: readonly FilterPackage[],
  unsatisfied: readonly Unsatisfied[],
  label: (p: FilterPackage) => string,
): void {
  for (const u of unsatisfied)
    problems.add(`${label(packages[u.neededBy]!)} needs ${u.requirement.text}, which nothing in the tree (nor filter.dependency_repositories) provides`);
}
