// The CLI's nouns, and which one a command line asks for (main.ts loads only that noun's verbs).

/** The nouns, in help order. */
export const NOUNS: Record<string, string> = {
  config: "validate and describe the configuration",
  repo: "repositories: list, show, sync, history, remove",
  snapshot: "freeze, compare, delete and prune snapshots of a repository",
  publish: "write or remove published trees: latest, or a snapshot",
  promote: "serve a group snapshot in an environment (dev, test, prod); history and rollback",
  environment: "what an environment serves, and its client configuration",
  proxy: "which proxy applies, and does it work",
  scheduler: "the local scheduler daemon",
  db: "database status, migrations, backup and restore",
  pool: "the content-addressed pool",
  signing: "the mirror's own OpenPGP key, which signs regenerated metadata",
  export: "air-gap bundles: write, verify and list signed exports of snapshots, groups and environments",
  import: "the other side of the air gap: import a bundle (import BUNDLE), list what arrived, write the inventory of blobs held here",
  storage: "disk use of the pool and its repositories",
  metrics: "Prometheus metrics: per repository freshness and last runs, backups, pool (the daemon serves them with --http)",
  notify: "notifications: send a sample to every webhook and e-mail target (notify test)",
  cloud: "the AWS deployment",
};

/**
 * The noun the arguments ask for, past the global options; undefined when there is none or it is unknown
 * (top-level help, a typo), and then every command is loaded.
 */
export function requestedNoun(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    // -c <dir>, --config-dir <dir>, and short flags clustered before c (-vc <dir>) take the next word.
    if (a === "--config-dir" || /^-[a-zA-Z]*c$/.test(a)) i++;
    else if (!a.startsWith("-")) return Object.hasOwn(NOUNS, a) ? a : undefined;
  }
  return undefined;
}
