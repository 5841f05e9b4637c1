// The packages of filter.dependency_repositories for an apt repository, read from the Packages indices those repositories
// hold now (recorded in the pool, verified when they were synced): they satisfy dependencies but are never added.
import { repositoryMetadataFiles } from "../db/package-sets.js";
import { findRepositoryRow } from "../db/repositories.js";
import { FilterError } from "../filter/plan.js";
import type { FilterPackage } from "../filter/types.js";
import type { MetadataReadContext } from "../mirror/types.js";
import { parseProvides } from "./depends.js";
import { compressionOf } from "./indices.js";
import { MAX_INDEX_BYTES, readPackagesStanzas } from "./packages.js";

/** The variants a recorded index may have, in the order we read them (verbatim trees often lack the plain one). */
const VARIANTS = ["", ".xz", ".gz", ".zst", ".bz2"];

export async function dependencyRepositoryPackages(ctx: MetadataReadContext): Promise<FilterPackage[]> {
  const out: FilterPackage[] = [];
  for (const id of ctx.filter?.dependency_repositories ?? []) {
    const what = `repository ${ctx.repo.id}: filter.dependency_repositories names ${id}`;
    const repo = ctx.config.repositories.find((r) => r.id === id);
    if (!repo) throw new FilterError(`${what}, which is not configured`);
    if (repo.type !== "apt" || !repo.apt) throw new FilterError(`${what}, a ${repo.type} repository: only apt repositories can satisfy its dependencies`);
    const row = await findRepositoryRow(ctx.db, id);
    const files = new Map((row ? await repositoryMetadataFiles(ctx.db, row.id) : []).map((f) => [f.path, f]));
    const dist = `dists/${repo.apt.distribution}`;
    if (!files.has(`${dist}/InRelease`) && !files.has(`${dist}/Release`)) throw new FilterError(`${what}, which has not been synced yet: sync ${id} first`);
    const archs = [...new Set([...repo.apt.architectures, "all"])];
    let packages = 0;
    for (const comp of repo.apt.components) {
      for (const arch of archs) {
        const base = `${dist}/${comp}/binary-${arch}/Packages`;
        const file = VARIANTS.map((ext) => files.get(`${base}${ext}`)).find((f) => f !== undefined);
        if (!file) continue;
        const label = `${id}: ${file.path}`;
        const stream = ctx.blobs.openRead(file.sha256, ctx.signal);
        try {
          const opts = { compression: compressionOf(file.path), maxOutputBytes: MAX_INDEX_BYTES, label, signal: ctx.signal, extraFields: ["provides"] };
          for await (const { pkg, stanza } of readPackagesStanzas(stream, opts)) {
            const provides = stanza.fields.get("provides");
            out.push({
              name: pkg.name,
              arch: pkg.arch,
              version: { epoch: pkg.epoch, version: pkg.version, release: pkg.release },
              source: false,
              provides: provides ? parseProvides(provides, `${label}: package ${pkg.name}`) : [],
              requires: [],
            });
            packages++;
          }
        } finally {
          stream.destroy();
        }
      }
    }
    ctx.log.debug({ repo: ctx.repo.id, dependencyRepository: id, packages }, "dependency repository read");
  }
  return out;
}
