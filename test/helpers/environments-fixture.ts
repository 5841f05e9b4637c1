// The upstream and configuration the lifecycle-environment end-to-end tests share: rpm1, rpm2 and a signed APT
// repository "deb", grouped as "el" (all three) and "solo" (rpm1), with the environments test and prod.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { buildDeb, writeAptRepo, type GpgKey } from "./apt-fixtures.js";

export const ENVIRONMENTS_DIST = "stable";

/** rpm1 (2 packages) at `version`, rpm2 with `rpm2Packages`, deb with alpha at `version`-1, signed by `key`. */
export async function writeEnvironmentsUpstream(upstream: string, key: GpgKey, version: string, rpm2Packages: number): Promise<void> {
  for (const d of ["rpm1", "rpm2"]) rmSync(join(upstream, d), { recursive: true, force: true });
  await generateRpmRepo(join(upstream, "rpm1"), 2, 256, { version });
  await generateRpmRepo(join(upstream, "rpm2"), rpm2Packages, 256, { seedName: "other" });
  const deb = join(upstream, "deb");
  rmSync(join(deb, "pool"), { recursive: true, force: true });
  await buildDeb(deb, { name: "alpha", version: `${version}-1` });
  await writeAptRepo(deb, { dist: ENVIRONMENTS_DIST, components: ["main"], signer: key });
}

/** The repositories, groups and environments block (startSyncEnvironment's repoYaml) with publish.base_url. */
export function environmentsRepoYaml(upstreamUrl: string, keyring: string, baseUrl: string): string {
  return [
    "  - id: rpm1",
    "    type: rpm",
    `    upstream_url: ${upstreamUrl}/rpm1/`,
    "  - id: rpm2",
    "    type: rpm",
    `    upstream_url: ${upstreamUrl}/rpm2/`,
    "  - id: deb",
    "    type: apt",
    `    upstream_url: ${upstreamUrl}/deb/`,
    "    apt:",
    `      distribution: ${ENVIRONMENTS_DIST}`,
    "      components: [main]",
    "      architectures: [amd64]",
    "    verify:",
    `      keyring: ${keyring}`,
    "groups:",
    "  - id: el",
    "    repositories: [rpm1, rpm2, deb]",
    "  - id: solo",
    "    repositories: [rpm1]",
    "environments: [test, prod]",
    "publish:",
    `  base_url: ${baseUrl}`,
    "",
  ].join("\n");
}
