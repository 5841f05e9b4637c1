// The table of repository types: how each syncs, orders versions, names its first index and is configured on clients.
import type pg from "pg";
import type { RepositoryConfig } from "./config/schema.js";
import { upstreamFileUrl } from "./http/url.js";
import type { RepoSyncContext, RepoSyncResult } from "./mirror/types.js";
import type { VersionParts } from "./version-parts.js";
import { aptDeb822, aptSourcesList, rpmRepoStanza, type ClientSnippet, type PublishedTarget } from "./publish/client-config.js";
import { aptTargetFields, rpmTargetFields, type TreeOwner, type TypeTargetFields } from "./publish/target-fields.js";
import { compareEvr } from "./rpm/evr.js";
import { compareDebianParts } from "./apt/version.js";
import type { TreeProblems, TreeUnderCheck } from "./mirror/tree-check.js";

export type RepoType = RepositoryConfig["type"];

export type { VersionParts } from "./version-parts.js";

export interface RepositoryType {
  /** Mirror the upstream into the pool and the database (the orchestration around it is functions/sync-repository.ts). */
  sync(ctx: RepoSyncContext): Promise<RepoSyncResult>;
  /** Its sync honours ctx.dryRun (plans, returns the report, downloads and commits nothing): `repo sync --dry-run` is refused otherwise. */
  dryRun: boolean;
  /** The type's version order: negative, zero or positive. */
  compareVersions(a: VersionParts, b: VersionParts): number;
  /** The file a sync reads first (what `proxy explain --test` fetches). */
  indexUrl(repo: RepositoryConfig): string;
  /** The fields of a published tree's client configuration that only this type has. */
  targetFields(db: pg.Pool, repo: RepositoryConfig, tree: TreeOwner, baseUrl: string | undefined): Promise<TypeTargetFields>;
  /** The client configuration snippets of a published tree served at `url`. */
  clientSnippets(t: PublishedTarget, url: string): ClientSnippet[];
  /** The publish gate's check of a tree as a client reads it (core/publish/gate.ts): problems go into `problems`. */
  checkTree(tree: TreeUnderCheck, problems: TreeProblems, repo: RepositoryConfig): Promise<void>;
  /** Loads the modules of sync and checkTree now (they load on first use otherwise): a sync loads them while its database starts. */
  preload(): Promise<void>;
}

// The sync and the tree check (most of a command's modules) load on first use: a command that lists or shows loads neither.
const rpmSync = () => import("./rpm/sync.js");
const rpmTreeCheck = () => import("./rpm/tree-check.js");
const aptSync = () => import("./apt/sync.js");
const aptTreeCheck = () => import("./apt/tree-check.js");

function rpmIndexUrl(repo: RepositoryConfig): string {
  return upstreamFileUrl(repo.upstream_url, "repodata/repomd.xml");
}

export const REPOSITORY_TYPES = {
  rpm: {
    sync: async (ctx) => (await rpmSync()).syncRpm(ctx),
    dryRun: true,
    compareVersions: compareEvr,
    indexUrl: rpmIndexUrl,
    targetFields: (db, _repo, tree, baseUrl) => rpmTargetFields(db, tree, baseUrl),
    clientSnippets: (t, url) => [rpmRepoStanza(t, url)],
    checkTree: async (tree, problems) => (await rpmTreeCheck()).checkRpmTree(tree, problems),
    preload: async () => void (await Promise.all([rpmSync(), rpmTreeCheck()])),
  },
  apt: {
    sync: async (ctx) => (await aptSync()).syncApt(ctx),
    dryRun: true,
    compareVersions: compareDebianParts,
    indexUrl: (repo) => {
      // Config validation requires the apt: block; without one there is no suite to name.
      if (!repo.apt) return rpmIndexUrl(repo);
      const dist = repo.apt.distribution;
      return upstreamFileUrl(repo.upstream_url, dist.endsWith("/") ? `${dist.replace(/^\.\//, "")}InRelease` : `dists/${dist}/InRelease`);
    },
    targetFields: (_db, repo) => aptTargetFields(repo),
    clientSnippets: (t, url) => [aptSourcesList(t, url), aptDeb822(t, url)],
    // Config validation requires the apt: block; the sync refused a repository without one.
    checkTree: async (tree, problems, repo) => (repo.apt ? (await aptTreeCheck()).checkAptTree(tree, problems, repo.apt) : undefined),
    preload: async () => void (await Promise.all([aptSync(), aptTreeCheck()])),
  },
} satisfies Record<RepoType, RepositoryType>;

/** The entry of a type named by the configuration or the database, or undefined for one this version does not know. */
export function repositoryTypeOf(type: string): RepositoryType | undefined {
  return Object.hasOwn(REPOSITORY_TYPES, type) ? REPOSITORY_TYPES[type as RepoType] : undefined;
}
