// The type-specific fields of a PublishedTarget: an APT tree's apt block and Signed-By keys, an RPM tree's repomd.xml signature files.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import type { RepositoryConfig } from "../config/schema.js";
import type { PublishedTarget } from "./client-config.js";

/** A published tree's owner in the database: the current set of a repository row, or a snapshot row. */
export interface TreeOwner {
  owner: "repository" | "snapshot";
  id: number;
}

/** The fields of a PublishedTarget that only one repository type has. */
export type TypeTargetFields = Pick<PublishedTarget, "apt" | "signedBy" | "rpmSignature">;

const SIGNATURE_PATHS = { asc: "repodata/repomd.xml.asc", key: "repodata/repomd.xml.key" } as const;
/** What loadKeyring (core/openpgp/signature.ts) reads from a keyring directory. */
const KEY_FILE = /\.(gpg|asc|pgp)$/;

/** verify.keyring as apt's Signed-By wants it: the file, or the key files of a directory. */
async function keyFiles(keyring: string | undefined): Promise<string[] | undefined> {
  if (!keyring) return undefined;
  const info = await stat(keyring).catch(() => undefined);
  if (!info?.isDirectory()) return [keyring];
  return (await readdir(keyring))
    .filter((f) => KEY_FILE.test(f))
    .sort()
    .map((f) => join(keyring, f));
}

/** Which repomd.xml signature files a tree holds: the current set of the repository, or a snapshot's. */
async function rpmSignature(db: pg.Pool, tree: TreeOwner): Promise<{ asc: boolean; key: boolean }> {
  const sql =
    tree.owner === "repository"
      ? `SELECT path FROM chantal.repository_metadata WHERE repository_id = $1 AND path = ANY($2::text[])`
      : `SELECT path FROM chantal.snapshot_metadata WHERE snapshot_id = $1 AND path = ANY($2::text[])`;
  const r = await db.query(sql, [tree.id, Object.values(SIGNATURE_PATHS)]);
  const paths = new Set(r.rows.map((row) => row.path as string));
  return { asc: paths.has(SIGNATURE_PATHS.asc), key: paths.has(SIGNATURE_PATHS.key) };
}

/** An APT tree: the suite, components and architectures of its apt: block, and Signed-By from verify.keyring. */
export async function aptTargetFields(repo: RepositoryConfig): Promise<TypeTargetFields> {
  if (!repo.apt) return {};
  const fields: TypeTargetFields = {
    apt: {
      distribution: repo.apt.distribution,
      components: repo.apt.components,
      architectures: repo.apt.architectures,
      includeSources: repo.apt.include_sources,
    },
  };
  const signedBy = await keyFiles(repo.verify?.keyring);
  if (signedBy) fields.signedBy = signedBy;
  return fields;
}

/** An RPM tree with a base_url: which signature files of repomd.xml the .repo stanza can point clients to. */
export async function rpmTargetFields(db: pg.Pool, tree: TreeOwner, baseUrl: string | undefined): Promise<TypeTargetFields> {
  return baseUrl ? { rpmSignature: await rpmSignature(db, tree) } : {};
}
