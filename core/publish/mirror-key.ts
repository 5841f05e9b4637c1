// The mirror's own key for clients and for the publish gate: published beside the trees, and which trees it signs.
import { join } from "node:path";
import type { Config, RepositoryConfig } from "../config/schema.js";
import { effectiveFilter, effectiveSigning } from "../filter/effective.js";
import { publicKeyOf, signingLabel } from "../openpgp/sign.js";
import type { Keyring } from "../openpgp/signature.js";
import { blobStoreOf } from "../storage/backend.js";
import { publishRepoFile } from "../storage/publish.js";
import { S3BlobStore } from "../storage/s3-blob-store.js";
import { publishS3RepoFile } from "../storage/s3-publish.js";
import type { PublishedTarget } from "./client-config.js";

/** The mirror's key signs the repository's metadata: always when a filter regenerates it, else only with signing.resign. */
export function mirrorKeyOf(config: Config, repo: RepositoryConfig): PublishedTarget["mirrorKey"] {
  const signing = effectiveSigning(config, repo);
  if (!signing || (!signing.resign && !effectiveFilter(config, repo))) return undefined;
  return { name: signing.public_key_name };
}

/** A filter rewrites the repository's metadata and no signing: block applies: it is published unsigned (the format warns). */
export function rewrittenUnsigned(config: Config, repo: RepositoryConfig): boolean {
  return !effectiveSigning(config, repo) && effectiveFilter(config, repo) !== undefined;
}

/** The mirror's public key as a keyring, when the mirror signs the repository's trees (mirrorKeyOf); else undefined. */
export async function mirrorKeyring(config: Config, repo: RepositoryConfig): Promise<Keyring | undefined> {
  const signing = effectiveSigning(config, repo);
  if (!signing || !mirrorKeyOf(config, repo)) return undefined;
  return { path: signing.key_file, keys: [(await publicKeyOf(signing, signingLabel(repo))).key] };
}

/**
 * The mirror's public key as <repo-id>/<public_key_name>.asc (armored, for dnf's gpgkey=) and .gpg (binary, for apt's
 * signed-by=), when the repository signs; written before any tree, so a client never sees a signature without its key.
 * Returns the file names written (unchanged files are not rewritten).
 */
export async function publishMirrorKey(config: Config, repoId: string): Promise<string[]> {
  const repo = config.repositories.find((r) => r.id === repoId);
  const signing = repo ? effectiveSigning(config, repo) : undefined;
  if (!repo || !signing) return [];
  const key = await publicKeyOf(signing, signingLabel(repo));
  const files: [string, Uint8Array][] = [
    [`${signing.public_key_name}.asc`, Buffer.from(key.armored)],
    [`${signing.public_key_name}.gpg`, key.binary],
  ];
  const store = blobStoreOf(config);
  const written: string[] = [];
  for (const [name, data] of files) {
    const changed =
      store instanceof S3BlobStore
        ? await publishS3RepoFile(store, repoId, name, data, "application/pgp-keys")
        : await publishRepoFile(join(config.storage.published_path!, repoId), name, data);
    if (changed) written.push(name);
  }
  return written;
}
