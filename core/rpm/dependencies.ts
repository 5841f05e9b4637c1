// rpm dependency data (primary's rpm:provides / rpm:requires / files, filelists' files) as the filter's model.
import type { Capability, FilterPackage, Requirement, VersionOp } from "../filter/types.js";
import type { VersionParts } from "../version-parts.js";
import type { PrimaryDeps, RpmEntry } from "./primary.js";
import { isRichDependency, parseRichDependency } from "./rich-deps.js";

/** rpm's comparison flags as createrepo writes them. */
const OPS: Record<string, VersionOp> = { LT: "<", LE: "<=", EQ: "=", GE: ">=", GT: ">" };

/** The dependency data of one package, already in the filter's model (what the worker sends). */
export interface RpmDependencies {
  provides: Capability[];
  requires: Requirement[];
  files: string[];
}

function versionOf(e: RpmEntry): VersionParts | undefined {
  if (e.ver === undefined) return undefined;
  const epoch = e.epoch !== undefined && /^\d{1,10}$/.test(e.epoch) ? Number(e.epoch) : 0;
  return { epoch, version: e.ver, release: e.rel ?? "" };
}

export function capabilityOf(e: RpmEntry): Capability {
  const op = e.flags !== undefined ? OPS[e.flags] : undefined;
  const version = versionOf(e);
  const cap: Capability = { name: e.name };
  if (op && version) {
    cap.op = op;
    cap.version = version;
  }
  return cap;
}

/** The requirement as rpm would print it: `name >= 1:2-3`. */
export function entryText(e: RpmEntry): string {
  const op = e.flags !== undefined ? OPS[e.flags] : undefined;
  const v = versionOf(e);
  if (!op || !v) return e.name;
  return `${e.name} ${op} ${v.epoch ? `${v.epoch}:` : ""}${v.version}${v.release ? `-${v.release}` : ""}`;
}

/** A requirement; a rich (boolean) dependency `(a or b)` is approximate (rich-deps.ts); a malformed one is refused. */
export function requirementOf(e: RpmEntry): Requirement {
  if (isRichDependency(e.name)) return parseRichDependency(e.name);
  return { alternatives: [capabilityOf(e)], text: entryText(e) };
}

/** rpmlib(...) requirements are satisfied by rpm itself, never by a package. */
function isRpmlib(e: RpmEntry): boolean {
  return e.name.startsWith("rpmlib(");
}

export function dependenciesOf(deps: PrimaryDeps): RpmDependencies {
  return {
    provides: deps.provides.map(capabilityOf),
    // `pre` requirements are kept: a scriptlet's dependency must be installable too.
    requires: deps.requires.filter((e) => !isRpmlib(e)).map(requirementOf),
    files: deps.files.filter((f) => f.length > 0),
  };
}

/** File paths some package requires that no package's primary <file> list provides: filelists must be read for them. */
export function unresolvedFileRequirements(all: readonly (RpmDependencies | undefined)[]): Set<string> {
  const provided = new Set<string>();
  for (const d of all) for (const f of d?.files ?? []) provided.add(f);
  const needed = new Set<string>();
  for (const d of all) {
    for (const r of d?.requires ?? []) {
      for (const a of r.alternatives) if (a.name.startsWith("/") && !provided.has(a.name)) needed.add(a.name);
    }
  }
  return needed;
}

export interface RpmIdentity {
  name: string;
  arch: string;
  epoch: number;
  version: string;
  release: string;
}

/** The filter's view of one package; `deps` only with with_dependencies. */
export function filterPackageOf(p: RpmIdentity, deps?: RpmDependencies): FilterPackage {
  const fp: FilterPackage = {
    name: p.name,
    arch: p.arch,
    version: { epoch: p.epoch, version: p.version, release: p.release },
    source: p.arch === "src" || p.arch === "nosrc",
  };
  if (deps) {
    fp.provides = deps.provides;
    fp.requires = deps.requires;
    fp.files = deps.files;
  }
  return fp;
}
