// The filter's decision on one repository's packages: selection by name, architecture and kind, then version retention.
// Pure: the caller gives the packages and the type's version order; the dependency closure comes after (closure.ts).
import { ChantalError } from "../errors.js";
import type { VersionParts } from "../version-parts.js";
import type { ActiveFilter } from "./effective.js";
import { compilePatterns } from "./match.js";
import { closeDependencies, type DependencyRules } from "./closure.js";
import type { FilterPackage, FilterPlan, KeptReason } from "./types.js";

export interface PlanOptions {
  compareVersions: (a: VersionParts, b: VersionParts) => number;
}

/** Selected by name (include, then exclude), architecture and kind (sources). */
function selector(filter: ActiveFilter): (p: FilterPackage) => boolean {
  const include = filter.include ? compilePatterns(filter.include) : () => true;
  const exclude = compilePatterns(filter.exclude);
  const arches = filter.architectures ? new Set(filter.architectures) : undefined;
  return (p) => {
    if (!include(p.name) || exclude(p.name)) return false;
    // A source package's arch is "src": `sources` decides it, not `architectures`.
    if (p.source) return filter.sources;
    return !arches || arches.has(p.arch);
  };
}

/** Indices of the newest `n` versions of each name and architecture among `indices` (ties: the same version, all kept). */
export function newestVersions(packages: readonly FilterPackage[], indices: readonly number[], n: number, opts: PlanOptions): number[] {
  if (n <= 0) return [...indices];
  const groups = new Map<string, number[]>();
  for (const i of indices) {
    const p = packages[i]!;
    const key = `${p.name}\u0000${p.arch}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  const out: number[] = [];
  for (const g of groups.values()) {
    g.sort((a, b) => opts.compareVersions(packages[b]!.version, packages[a]!.version));
    // The same version listed twice (two builds at two locations) counts once.
    let distinct = 0;
    for (let k = 0; k < g.length; k++) {
      if (k === 0 || opts.compareVersions(packages[g[k - 1]!]!.version, packages[g[k]!]!.version) !== 0) distinct++;
      if (distinct > n) break;
      out.push(g[k]!);
    }
  }
  return out.sort((a, b) => a - b);
}

/** Selection and retention; `kept` marks each survivor "selected" (the closure adds "dependency" ones). */
export function selectPackages(packages: readonly FilterPackage[], filter: ActiveFilter, opts: PlanOptions): FilterPlan {
  const select = selector(filter);
  const selected: number[] = [];
  packages.forEach((p, i) => {
    if (select(p)) selected.push(i);
  });
  const retained = newestVersions(packages, selected, filter.retain_versions, opts);
  const kept: (KeptReason | undefined)[] = new Array(packages.length).fill(undefined);
  for (const i of retained) kept[i] = "selected";
  return { kept, keptCount: retained.length, addedByDependencies: 0, unsatisfied: [] };
}

export class FilterError extends ChantalError {}

export interface FilterContext extends PlanOptions {
  /** Names the repository in errors. */
  repoId: string;
  /** Packages of filter.dependency_repositories: they satisfy dependencies but are never added to this repository. */
  satisfiers?: readonly FilterPackage[];
  /** The format's matching rules (closure.ts RPM_RULES or DPKG_RULES), for with_dependencies. */
  dependencyRules: DependencyRules;
}

/**
 * The whole decision: selection and retention, then (with_dependencies) the closure. A result that keeps nothing
 * fails unless allow_empty; the closure's unsatisfied dependencies are reported by the caller (they fail the run:
 * unsatisfiedMessage is its error text).
 */
export function planFilter(packages: readonly FilterPackage[], filter: ActiveFilter, ctx: FilterContext): FilterPlan {
  const selected = selectPackages(packages, filter, ctx);
  const plan = filter.with_dependencies
    ? closeDependencies(packages, selected, {
        compareVersions: ctx.compareVersions,
        rules: ctx.dependencyRules,
        ...(ctx.satisfiers ? { satisfiers: ctx.satisfiers } : {}),
        ...(filter.architectures ? { preferredArches: filter.architectures } : {}),
      })
    : selected;
  if (plan.keptCount === 0 && !filter.allow_empty) {
    throw new FilterError(
      `repository ${ctx.repoId}: the filter keeps none of the ${packages.length} upstream packages (check filter.include and filter.exclude, or set filter.allow_empty: true)`,
    );
  }
  return plan;
}

/** `name-[epoch:]version[-release].arch`: rpm's NEVRA, and readable for a Debian package too. */
export function packageLabel(p: FilterPackage): string {
  const epoch = p.version.epoch ? `${p.version.epoch}:` : "";
  const release = p.version.release ? `-${p.version.release}` : "";
  return `${p.name}-${epoch}${p.version.version}${release}.${p.arch}`;
}

const UNSATISFIED_LISTED = 20;

/** The error a sync fails with when the closure left dependencies unsatisfied: the first 20, and how many more. */
export function unsatisfiedMessage(
  plan: FilterPlan,
  packages: readonly FilterPackage[],
  repoId: string,
  label: (p: FilterPackage) => string = packageLabel,
): string {
  const n = plan.unsatisfied.length;
  const lines = plan.unsatisfied.slice(0, UNSATISFIED_LISTED).map((u) => `  ${label(packages[u.neededBy]!)} needs ${u.requirement.text}`);
  if (n > UNSATISFIED_LISTED) lines.push(`  ... and ${n - UNSATISFIED_LISTED} more`);
  return (
    `repository ${repoId}: ${n} ${n === 1 ? "dependency" : "dependencies"} of the kept packages ${n === 1 ? "is" : "are"} provided by no package of this repository ` +
    `(nor of filter.dependency_repositories):\n${lines.join("\n")}\n` +
    `add the repository that provides them to filter.dependency_repositories, or set filter.with_dependencies: false`
  );
}
