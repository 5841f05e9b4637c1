// Which files a configuration directory holds: config.yaml, then conf.d/*.yaml and *.yml in sorted order, hidden ones skipped.
import { readdir } from "node:fs/promises";
import { join } from "node:path";

export const MAIN_CONFIG_FILE = "config.yaml";
export const CONF_D = "conf.d";

/** A name in conf.d/ that is read: *.yaml or *.yml, not hidden (editor lock files, macOS `._` copies). */
export function isConfDFileName(name: string): boolean {
  return !name.startsWith(".") && !name.includes("/") && (name.endsWith(".yaml") || name.endsWith(".yml"));
}

/** A path relative to the configuration directory that the loader reads (for listings such as an S3 prefix's). */
export function isConfigFilePath(rel: string): boolean {
  if (rel === MAIN_CONFIG_FILE) return true;
  return rel.startsWith(`${CONF_D}/`) && isConfDFileName(rel.slice(CONF_D.length + 1));
}

/**
 * The configuration files of `dir`, relative to it, in merge order: config.yaml (listed whether or not it exists:
 * the caller says what its absence means), then conf.d's files sorted by name. A missing conf.d holds none.
 */
export async function configFiles(dir: string): Promise<string[]> {
  let names: string[] = [];
  try {
    names = await readdir(join(dir, CONF_D));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return [
    MAIN_CONFIG_FILE,
    ...names
      .filter(isConfDFileName)
      .sort()
      .map((n) => `${CONF_D}/${n}`),
  ];
}
