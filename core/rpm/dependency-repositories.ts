// The packages of filter.dependency_repositories, read from what those repositories hold now (their repomd.xml and
// primary in the pool): they satisfy this repository's dependencies but are never added to it.
import { repositoryMetadataFiles } from "../db/package-sets.js";
import { findRepositoryRow } from "../db/repositories.js";
import { FilterError } from "../filter/plan.js";
import { readBlob } from "../storage/blob-store.js";
import type { FilterPackage } from "../filter/types.js";
import type { MetadataEntry } from "../mirror/commit.js";
import type { MetadataReadContext } from "../mirror/types.js";
import { filterPackageOf, type RpmDependencies } from "./dependencies.js";
import { filesProviding } from "./filelists.js";
import { MAX_REPOMD_BYTES, parseRepomd } from "./repomd.js";
import { compressionFromPath, decompressIterable } from "../compress/decompress.js";
import { locationOf, MAX_PRIMARY_BYTES, readPrimary } from "./sync-steps.js";

/** `wantedFiles`: file paths this repository's packages require that its own primary does not list (looked up in filelists). */
export async function dependencyRepositoryPackages(ctx: MetadataReadContext, wantedFiles: ReadonlySet<string>): Promise<FilterPackage[]> {
  const out: FilterPackage[] = [];
  for (const id of ctx.filter?.dependency_repositories ?? []) {
    const what = `repository ${ctx.repo.id}: filter.dependency_repositories names ${id}`;
    const repo = ctx.config.repositories.find((r) => r.id === id);
    if (!repo) throw new FilterError(`${what}, which is not configured`);
    if (repo.type !== ctx.repo.type)
      throw new FilterError(`${what}, a ${repo.type} repository: only ${ctx.repo.type} repositories can satisfy its dependencies`);
    const row = await findRepositoryRow(ctx.db, id);
    const files = row ? await repositoryMetadataFiles(ctx.db, row.id) : [];
    const repomdFile = files.find((f) => f.path === "repodata/repomd.xml");
    if (!repomdFile) throw new FilterError(`${what}, which has not been synced yet: sync ${id} first`);
    const repomd = parseRepomd(
      await readBlob(ctx.blobs, repomdFile.sha256, { maxBytes: MAX_REPOMD_BYTES, label: `${id}: repodata/repomd.xml`, signal: ctx.signal }),
    );
    const depCtx: MetadataReadContext = { ...ctx, repo };
    const fileOf = (type: string): { entry: MetadataEntry; openSize?: number } | undefined => {
      const d = repomd.data.find((x) => x.type === type);
      if (!d) return undefined;
      const path = locationOf(depCtx, d.location, d.locationBase);
      const entry = files.find((f) => f.path === path);
      return entry ? { entry, ...(d.openSize !== undefined ? { openSize: d.openSize } : {}) } : undefined;
    };
    const primary = fileOf("primary");
    if (!primary) throw new FilterError(`${what}, whose recorded metadata has no primary: sync ${id} again`);
    const deps = new Map<object, RpmDependencies>();
    const packages = await readPrimary(primary.entry, primary.openSize, depCtx, (p, d) => deps.set(p, d));
    const filelists = wantedFiles.size > 0 ? fileOf("filelists") : undefined;
    const extra = filelists
      ? await filesProviding(
          decompressIterable(ctx.blobs.openRead(filelists.entry.sha256, ctx.signal), compressionFromPath(filelists.entry.path), {
            maxOutputBytes: MAX_PRIMARY_BYTES,
            label: `${id}: ${filelists.entry.path}`,
          }),
          wantedFiles,
          `${id}: ${filelists.entry.path}`,
        )
      : new Map<string, string[]>();
    for (const p of packages) {
      const d = deps.get(p);
      const more = extra.get(p.checksumValue);
      if (d && more) d.files.push(...more);
      out.push(filterPackageOf(p, d));
    }
    ctx.log.debug({ repo: ctx.repo.id, dependencyRepository: id, packages: packages.length }, "dependency repository read");
  }
  return out;
}
