// The real dnf against a repository URL (file:// or http://), with private cache and no system repositories.
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { run } from "./rpm-fixtures.js";

export function dnfClient(scratch: string, repoName = "mirror") {
  async function dnf(url: string, ...args: string[]): Promise<string> {
    const cache = mkdtempSync(join(scratch, "dnf-cache-"));
    const reposdir = join(scratch, "no-repos");
    mkdirSync(reposdir, { recursive: true });
    return run("dnf", [
      "-q",
      "-y",
      "--releasever=9",
      "--nogpgcheck",
      `--setopt=cachedir=${cache}`,
      `--setopt=reposdir=${reposdir}`,
      "--setopt=skip_if_unavailable=False",
      `--repofrompath=${repoName},${url}`,
      `--repo=${repoName}`,
      ...args,
    ]);
  }
  /** Available packages as printed by --qf (default name-epoch:version-release.arch), sorted. */
  async function available(url: string, qf = "%{name}-%{epoch}:%{version}-%{release}.%{arch}"): Promise<string[]> {
    const out = await dnf(url, "repoquery", "--available", "--qf", qf);
    return out
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .sort();
  }
  return { dnf, available };
}
