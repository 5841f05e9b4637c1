// Builds a PublishedTarget (client-config.ts) from the configuration, the database and verify.keyring on disk.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import type { Config, RepositoryConfig } from "../config/schema.js";
import { blobStoreOf } from "../storage/backend.js";
import { S3BlobStore } from "../storage/s3-blob-store.js";
import { treeKeyPrefix } from "../storage/s3-layout.js";
import { clientConfig, type ClientConfig, type PublishedTarget } from "./client-config.js";

const SIGNATURE_PATHS = { asc: "repodata/repomd.xml.asc", key: "repodata/repomd.xml.key" } as const;
/** What loadKeyring (core/openpgp/signature.ts) reads from a keyring directory. */
const KEY_FILE = /\.(gpg|asc|pgp)$/;

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

/** verify.keyring as apt's Signed-By wants it: the file, or the key files of a directory. */
async function keyFiles(keyring: string | undefined): Promise<string[] | undefined> {
  if (!keyring) return undefined;
  const info = await stat(keyring).catch(() => undefined);
  if (!info?.isDirectory()) return [keyring];
  return (await readdir(keyring)).filter((f) => KEY_FILE.test(f)).sort().map((f) => join(keyring, f));
}

/** Which repomd.xml signature files a tree holds: the current set of the repository, or a snapshot's. */
async function rpmSignature(db: pg.Pool, tree: { owner: "repository" | "snapshot"; id: number }): Promise<{ asc: boolean; key: boolean }> {
  const sql = tree.owner === "repository"
    ? `SELECT path FROM chantal.repository_metadata WHERE repository_id = $1 AND path = ANY($2::text[])`
    : `SELECT path FROM chantal.snapshot_metadata WHERE snapshot_id = $1 AND path = ANY($2::text[])`;
  const r = await db.query(sql, [tree.id, Object.values(SIGNATURE_PATHS)]);
  const paths = new Set(r.rows.map((row) => row.path as string));
  return { asc: paths.has(SIGNATURE_PATHS.asc), key: paths.has(SIGNATURE_PATHS.key) };
}

/** The client configuration of one published tree ("latest" of a repository row, or "snapshots/<name>" of a snapshot row). */
export async function clientConfigOf(db: pg.Pool, config: Config, repo: RepositoryConfig, name: string, tree: { owner: "repository" | "snapshot"; id: number }): Promise<ClientConfig> {
  const baseUrl = baseUrlOf(config, repo);
  const target: PublishedTarget = {
    repoId: repo.id,
    type: repo.type,
    name,
    path: publishedLocation(config, repo.id, name),
    ...(repo.description ? { description: repo.description } : {}),
    ...(baseUrl ? { baseUrl } : {}),
  };
  if (repo.type === "apt" && repo.apt) {
    target.apt = { distribution: repo.apt.distribution, components: repo.apt.components, architectures: repo.apt.architectures, includeSources: repo.apt.include_sources };
    const signedBy = await keyFiles(repo.verify?.keyring);
    if (signedBy) target.signedBy = signedBy;
  }
  if (repo.type === "rpm" && baseUrl) target.rpmSignature = await rpmSignature(db, tree);
  return clientConfig(target);
}
