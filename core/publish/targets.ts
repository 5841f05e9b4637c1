// Builds a PublishedTarget (client-config.ts) from the configuration and the database, and its client configuration.
import { join } from "node:path";
import type pg from "pg";
import type { Config, RepositoryConfig } from "../config/schema.js";
import { blobStoreOf } from "../storage/backend.js";
import { S3BlobStore } from "../storage/s3-blob-store.js";
import { treeKeyPrefix } from "../storage/s3-layout.js";
import { REPOSITORY_TYPES } from "../repository-types.js";
import { publishedUrl, type ClientConfig, type PublishedTarget } from "./client-config.js";
import type { TreeOwner } from "./target-fields.js";
import { mirrorKeyOf, rewrittenUnsigned } from "./mirror-key.js";

/** The repository's publish.base_url, else the global one. */
export function baseUrlOf(config: Config, repo: RepositoryConfig): string | undefined {
  return repo.publish?.base_url ?? config.publish?.base_url;
}

/** Where a tree is on this host: a directory under published_path, or its prefix in the bucket. */
export function publishedLocation(config: Config, repoId: string, name: string): string {
  const store = blobStoreOf(config);
  if (store instanceof S3BlobStore) return `s3://${config.storage.s3!.bucket}/${treeKeyPrefix(config.storage.s3!.prefix, repoId, name)}`;
  return join(config.storage.published_path!, repoId, name);
}

/** The client configuration of one published tree ("latest" of a repository row, or "snapshots/<name>" of a snapshot row). */
export async function clientConfigOf(db: pg.Pool, config: Config, repo: RepositoryConfig, name: string, tree: TreeOwner): Promise<ClientConfig> {
  const baseUrl = baseUrlOf(config, repo);
  const mirrorKey = mirrorKeyOf(config, repo);
  const target: PublishedTarget = {
    repoId: repo.id,
    type: repo.type,
    name,
    path: publishedLocation(config, repo.id, name),
    ...(repo.description ? { description: repo.description } : {}),
    ...(baseUrl ? { baseUrl } : {}),
    ...(mirrorKey ? { mirrorKey } : {}),
    ...(rewrittenUnsigned(config, repo) ? { unsignedRewrite: true } : {}),
    ...(await REPOSITORY_TYPES[repo.type].targetFields(db, repo, tree, baseUrl)),
  };
  return clientConfig(target);
}

/** The URL and snippets of a published tree; without base_url, its path and how to set base_url. */
export function clientConfig(t: PublishedTarget): ClientConfig {
  if (!t.baseUrl) {
    return {
      path: t.path,
      snippets: [],
      hint: `set publish.base_url (e.g. "publish: { base_url: http://mirror.internal/ }" in config.yaml) to the URL at which your web server serves the published directory, and the client configuration is printed here; see "Serving the mirror" in the README`,
    };
  }
  const url = publishedUrl(t.baseUrl, t.repoId, t.name);
  return { url, path: t.path, snippets: REPOSITORY_TYPES[t.type].clientSnippets(t, url) };
}
