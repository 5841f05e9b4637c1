// The dependency closure of a filter (with_dependencies): what the kept packages need, added from the upstream set.
// Pure and linear: providers are indexed by name once, and the satisfied test reads only what the kept set offers.
import type { VersionParts } from "../version-parts.js";
import type { Capability, FilterPackage, FilterPlan, KeptReason, Requirement, Unsatisfied, VersionOp } from "./types.js";

/** How a format matches requirements against provides; the two formats differ (RPM_RULES, DPKG_RULES). */
export interface DependencyRules {
  /** rpm: `Provides: foo` satisfies `Requires: foo >= 2` (an existence test overlaps every range); dpkg: it does not. */
  unversionedProvideSatisfiesVersioned: boolean;
  /** rpm: a version without a release (`foo >= 1.0`) matches every release of it; dpkg compares the empty revision. */
  missingReleaseMatchesAny: boolean;
  /** dpkg: `foo:any` and `foo:native` name the package `foo`. */
  archQualifiers: boolean;
}

/** rpm's rule (lib/rpmds.c rpmdsCompareIndex): either side unversioned overlaps; release compared only when both have one. */
export const RPM_RULES: DependencyRules = { unversionedProvideSatisfiesVersioned: true, missingReleaseMatchesAny: true, archQualifiers: false };

/** dpkg's rule (dpkg 1.17.11, Debian policy 7.5): a non-versioned Provides never satisfies a versioned dependency. */
export const DPKG_RULES: DependencyRules = { unversionedProvideSatisfiesVersioned: false, missingReleaseMatchesAny: false, archQualifiers: true };

export interface ClosureOptions {
  compareVersions: (a: VersionParts, b: VersionParts) => number;
  rules: DependencyRules;
  /** Packages of other repositories: they satisfy requirements but are never added. */
  satisfiers?: readonly FilterPackage[];
  /** filter.architectures: after the requirer's own arch and noarch, a provider of these beats any other arch. */
  preferredArches?: readonly string[];
}

/** One entry of the provider index: the package (by index) and the capability it offers under that name. */
interface Offer {
  pkg: number;
  op?: VersionOp;
  version?: VersionParts;
  /** The version without its release, made once (rpm compares releases only when both sides have one). */
  bare?: VersionParts;
}

/** Providers by capability name, files included (as unversioned offers); and each package's offers, to index it as kept. */
interface ProviderIndex {
  byName: Map<string, Offer[]>;
  byPackage: [string, Offer][][];
}

function addOffer(byName: Map<string, Offer[]>, name: string, offer: Offer): void {
  const list = byName.get(name);
  if (list) list.push(offer);
  else byName.set(name, [offer]);
}

function offer(pkg: number, op: VersionOp | undefined, version: VersionParts | undefined): Offer {
  if (!op || !version) return { pkg };
  return { pkg, op, version, bare: version.release === "" ? version : { ...version, release: "" } };
}

/** Index own names (`name = version`), provides, and those shipped files that some package requires. */
function indexProviders(packages: readonly FilterPackage[], requiredFiles: ReadonlySet<string>): ProviderIndex {
  const byName = new Map<string, Offer[]>();
  const byPackage: [string, Offer][][] = [];
  packages.forEach((p, i) => {
    const own: [string, Offer][] = [];
    byPackage.push(own);
    // A source package provides nothing a binary package can install.
    if (p.source) return;
    own.push([p.name, offer(i, "=", p.version)]);
    for (const c of p.provides ?? []) own.push([c.name, offer(i, c.op, c.version)]);
    if (requiredFiles.size > 0) for (const f of p.files ?? []) if (requiredFiles.has(f)) own.push([f, { pkg: i }]);
    for (const [name, o] of own) addOffer(byName, name, o);
  });
  return { byName, byPackage };
}

/** The name a requirement looks up: dpkg's `:any`/`:native` qualifiers dropped. */
function lookupName(name: string, rules: DependencyRules): string {
  if (!rules.archQualifiers) return name;
  if (name.endsWith(":any")) return name.slice(0, -4);
  if (name.endsWith(":native")) return name.slice(0, -7);
  return name;
}

/** rpm's internal capabilities (rpmlib(PayloadIsZstd) ...) are provided by rpm itself, never by a package. */
function isBuiltin(name: string): boolean {
  return name.startsWith("rpmlib(");
}

/** Do two version constraints overlap (rpm's rpmverOverlap; dpkg's provides are `=` only, so the same test holds)? */
function rangesOverlap(req: Required<Capability>, offer: Required<Offer>, opts: ClosureOptions): boolean {
  let a = offer.version;
  let b = req.version;
  if (opts.rules.missingReleaseMatchesAny && (a.release === "" || b.release === "")) {
    a = offer.bare;
    if (b.release !== "") b = { ...b, release: "" };
  }
  const sense = Math.sign(opts.compareVersions(a, b));
  const less = (op: VersionOp) => op === "<" || op === "<=";
  const greater = (op: VersionOp) => op === ">" || op === ">=";
  const equal = (op: VersionOp) => op === "=" || op === "<=" || op === ">=";
  if (sense < 0) return greater(offer.op) || less(req.op);
  if (sense > 0) return less(offer.op) || greater(req.op);
  return (equal(offer.op) && equal(req.op)) || (less(offer.op) && less(req.op)) || (greater(offer.op) && greater(req.op));
}

/** Does an offer satisfy one alternative of a requirement? */
function offerSatisfies(alt: Capability, o: Offer, opts: ClosureOptions): boolean {
  if (!alt.op || !alt.version) return true;
  if (!o.op || !o.version || !o.bare) return opts.rules.unversionedProvideSatisfiesVersioned;
  return rangesOverlap(alt as Required<Capability>, o as Required<Offer>, opts);
}

const ARCH_INDEPENDENT = new Set(["noarch", "all"]);

/**
 * Add, transitively, what the kept packages of `plan` need: for each requirement nothing kept (nor a satisfier)
 * satisfies, the best upstream provider. Requirements nothing provides are returned in `unsatisfied`, not thrown.
 */
export function closeDependencies(packages: readonly FilterPackage[], plan: FilterPlan, opts: ClosureOptions): FilterPlan {
  const kept: (KeptReason | undefined)[] = [...plan.kept];
  const { rules } = opts;
  const satisfiers = opts.satisfiers ?? [];

  // Only the files someone requires are indexed: a filelists has millions of paths.
  const requiredFiles = new Set<string>();
  for (const p of packages) for (const r of p.requires ?? []) for (const a of r.alternatives) if (a.name.charCodeAt(0) === 0x2f) requiredFiles.add(a.name);
  const upstream = indexProviders(packages, requiredFiles);
  // What the kept packages and the satisfiers offer, by name: the satisfied test reads only these (usually one or two).
  const available = indexProviders(satisfiers, requiredFiles).byName;
  const markAvailable = (i: number) => {
    for (const [name, o] of upstream.byPackage[i]!) addOffer(available, name, o);
  };
  kept.forEach((k, i) => {
    if (k !== undefined) markAvailable(i);
  });

  const isSatisfied = (alt: Capability): boolean => {
    const name = lookupName(alt.name, rules);
    if (isBuiltin(name)) return true;
    const list = available.get(name);
    if (list) for (const o of list) if (offerSatisfies(alt, o, opts)) return true;
    return false;
  };

  const preferred = new Set(opts.preferredArches ?? []);
  const archRank = (provider: string, requirer: string) => (provider === requirer ? 0 : ARCH_INDEPENDENT.has(provider) ? 1 : preferred.has(provider) ? 2 : 3);

  /**
   * The best provider of `alt` for a package of `arch`: same arch, then noarch/all, then filter.architectures, then any;
   * among those the real package of that name before a virtual provider; then the newest; then the first listed.
   */
  const bestProvider = (alt: Capability, arch: string): number | undefined => {
    const name = lookupName(alt.name, rules);
    let best: number | undefined;
    let bestRank: [number, number] = [4, 2];
    for (const o of upstream.byName.get(name) ?? []) {
      if (!offerSatisfies(alt, o, opts)) continue;
      const p = packages[o.pkg]!;
      const rank: [number, number] = [archRank(p.arch, arch), p.name === name ? 0 : 1];
      const better =
        best === undefined ||
        rank[0] < bestRank[0] ||
        (rank[0] === bestRank[0] && (rank[1] < bestRank[1] || (rank[1] === bestRank[1] && opts.compareVersions(p.version, packages[best]!.version) > 0)));
      if (better) {
        best = o.pkg;
        bestRank = rank;
      }
    }
    return best;
  };

  const unsatisfied: Unsatisfied[] = [];
  let added = 0;
  const queue: number[] = [];
  kept.forEach((k, i) => {
    if (k !== undefined) queue.push(i);
  });
  const add = (i: number) => {
    if (kept[i] !== undefined) return;
    kept[i] = "dependency";
    markAvailable(i);
    added++;
    queue.push(i);
  };

  const resolve = (req: Requirement, neededBy: number, arch: string) => {
    const alts = req.alternatives;
    if (req.approximate) {
      // A rich dependency: every name it mentions that has a provider comes in (if/unless cannot be decided here).
      for (const a of alts) {
        if (isSatisfied(a)) continue;
        const p = bestProvider(a, arch);
        if (p !== undefined) add(p);
      }
      return;
    }
    // An rpmlib() alternative is satisfied here: rpm provides it.
    for (const a of alts) if (isSatisfied(a)) return;
    for (const a of alts) {
      const p = bestProvider(a, arch);
      if (p !== undefined) {
        add(p);
        return;
      }
    }
    unsatisfied.push({ neededBy, requirement: req });
  };

  // Breadth first, in index order: the same input always gives the same closure.
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q]!;
    const p = packages[i]!;
    // A source package's requires are build requirements: a mirror of sources does not pull in a build root.
    if (p.source) continue;
    for (const req of p.requires ?? []) resolve(req, i, p.arch);
  }

  return { kept, keptCount: plan.keptCount + added, addedByDependencies: plan.addedByDependencies + added, unsatisfied };
}
