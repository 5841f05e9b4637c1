// Repository groups and environments of the configuration: lookups that name the closest id on a typo.
import type { Config, GroupConfig, RepositoryConfig } from "../config/schema.js";
import { didYouMean } from "../closest.js";
import { UsageError } from "../errors.js";

/** The configured group, or a usage error naming the closest id. */
export function findGroup(config: Config, id: string): GroupConfig {
  const group = config.groups.find((g) => g.id === id);
  if (group) return group;
  const ids = config.groups.map((g) => g.id);
  const known = ids.length ? `configured: ${ids.join(", ")}` : 'none is configured (add "groups: [{ id: ..., repositories: [...] }]" to config.yaml)';
  const hint = didYouMean(ids, id);
  throw new UsageError(`unknown group "${id}"${hint ? `:${hint}` : ""} (${known})`);
}

/** The group's repositories, in the configured order (config validation proved each is configured). */
export function groupRepositories(config: Config, group: GroupConfig): RepositoryConfig[] {
  return group.repositories.map((id) => config.repositories.find((r) => r.id === id)!);
}

/** The environment's place in the promotion path, or a usage error naming the closest one. */
export function environmentIndex(config: Config, env: string): number {
  const i = config.environments.indexOf(env);
  if (i >= 0) return i;
  const known = config.environments.length
    ? `configured: ${config.environments.join(", ")}`
    : 'none is configured (add "environments: [dev, test, prod]" to config.yaml)';
  const hint = didYouMean(config.environments, env);
  throw new UsageError(`unknown environment "${env}"${hint ? `:${hint}` : ""} (${known})`);
}
