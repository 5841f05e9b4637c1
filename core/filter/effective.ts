// Which filter and signing key apply to a repository: its own block replaces the global one whole.
import type { Config, FilterConfig, RepositoryConfig, SigningConfig } from "../config/schema.js";

/** A filter that changes what is mirrored; a repository without one is mirrored verbatim (byte-identical to upstream). */
export type ActiveFilter = FilterConfig;

/** True when the filter can leave something out: an empty block (or only allow_empty) keeps every package. */
export function filterIsActive(f: FilterConfig | undefined): f is ActiveFilter {
  if (!f) return false;
  return f.include !== undefined || f.exclude.length > 0 || f.architectures !== undefined || f.retain_versions > 0 || !f.sources;
}

/** The repository's filter, else the global one; undefined when the repository is mirrored verbatim. */
export function effectiveFilter(config: Config, repo: RepositoryConfig): ActiveFilter | undefined {
  const f = repo.filter ?? config.filter;
  return filterIsActive(f) ? f : undefined;
}

/** The repository's signing block, else the global one. */
export function effectiveSigning(config: Config, repo: RepositoryConfig): SigningConfig | undefined {
  return repo.signing ?? config.signing;
}
