// The client configuration of an environment: each member's .repo stanza or sources.list lines at its stable URL <base_url><env>/<repo-id>/.
import { join } from "node:path";
import type pg from "pg";
import type { Config } from "../config/schema.js";
import { ChantalError } from "../errors.js";
import { environmentIndex, findGroup } from "../groups/groups.js";
import { publishedUrl, type ClientConfig, type PublishedTarget } from "../publish/client-config.js";
import { baseUrlOf, clientConfig } from "../publish/targets.js";
import { REPOSITORY_TYPES } from "../repository-types.js";
import { currentPromotion } from "./promotions.js";
import { blobStoreOf } from "../storage/backend.js";
import { S3BlobStore } from "../storage/s3-blob-store.js";
import { environmentTreePrefix } from "./s3-plan.js";

/** Where a member is served on this host: <published>/<env>/<repo-id>, or its prefix in the bucket. */
function memberLocation(config: Config, environment: string, repoId: string): string {
  const store = blobStoreOf(config);
  if (store instanceof S3BlobStore) return store.bucket.url(environmentTreePrefix(store.bucket.settings.prefix, environment, repoId));
  return join(config.storage.published_path!, environment, repoId);
}

export interface EnvironmentMemberConfig {
  repoId: string;
  snapshotName: string;
  client: ClientConfig;
}

/** The snippets of every member the group serves in the environment; the stable URL never names the snapshot, so clients keep it across promotions. */
export async function environmentClientConfigs(
  db: pg.Pool,
  config: Config,
  groupId: string,
  environment: string,
): Promise<{ snapshotName: string; members: EnvironmentMemberConfig[] }> {
  const group = findGroup(config, groupId);
  environmentIndex(config, environment);
  const current = await currentPromotion(db, group.id, environment);
  if (!current)
    throw new ChantalError(`group ${group.id} was never promoted to ${environment}: run "promote --group ${group.id} --snapshot NAME --to ${environment}"`);
  const members: EnvironmentMemberConfig[] = [];
  for (const m of current.members) {
    const repo = config.repositories.find((r) => r.id === m.repoId);
    if (!repo) continue; // left the configuration: its client settings are gone
    const baseUrl = baseUrlOf(config, repo);
    // The target is named after the environment: the dnf id and file stem are then <repo-id>-<env>, stable across promotions.
    const target: PublishedTarget = {
      repoId: repo.id,
      type: repo.type,
      name: environment,
      path: memberLocation(config, environment, repo.id),
      ...(repo.description ? { description: repo.description } : {}),
      ...(m.snapshotId !== null ? await REPOSITORY_TYPES[repo.type].targetFields(db, repo, { owner: "snapshot", id: m.snapshotId }, baseUrl) : {}),
    };
    if (!baseUrl) {
      members.push({ repoId: repo.id, snapshotName: m.snapshotName, client: clientConfig(target) });
      continue;
    }
    // <base_url><env>/<repo-id>/: the environment is a directory of <published> as a repository is.
    const url = publishedUrl(baseUrl, environment, repo.id);
    members.push({
      repoId: repo.id,
      snapshotName: m.snapshotName,
      client: { url, path: target.path, snippets: REPOSITORY_TYPES[repo.type].clientSnippets(target, url) },
    });
  }
  return { snapshotName: current.snapshotName, members };
}
