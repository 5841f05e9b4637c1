// What the package filter of a curated mirror works on and decides: format-neutral, filled by core/rpm and core/apt.
import type { VersionParts } from "../version-parts.js";

/** A version constraint's operator, as both formats reduce to (rpm LT/LE/EQ/GE/GT, dpkg << <= = >= >>). */
export type VersionOp = "<" | "<=" | "=" | ">=" | ">";

/** Something a package provides: its own name, a virtual name, a soname, a file path (rpm), with a version when declared. */
export interface Capability {
  name: string;
  op?: VersionOp;
  version?: VersionParts;
}

/** One dependency: satisfied when any alternative is (`a | b` in dpkg; rpm has one, except rich dependencies). */
export interface Requirement {
  alternatives: Capability[];
  /** A dependency the closure cannot reason about exactly (an rpm rich/boolean dependency): its names are pulled in conservatively. */
  approximate?: boolean;
  /** The dependency as upstream wrote it, for error messages. */
  text: string;
}

/** One package of the upstream metadata, as the filter sees it. */
export interface FilterPackage {
  name: string;
  arch: string;
  /** The package's version, in the repository type's order (compareVersions). */
  version: VersionParts;
  /** An rpm source package (src.rpm/nosrc.rpm). */
  source: boolean;
  /** Only needed with with_dependencies; the package's own name is implied. */
  provides?: Capability[];
  requires?: Requirement[];
  /** rpm: the file paths it ships (from primary and filelists), which satisfy file dependencies. */
  files?: string[];
}

/** Why a package is in the kept set. */
export type KeptReason = "selected" | "dependency";

/** A dependency that nothing in the repository (nor the dependency repositories) satisfies. */
export interface Unsatisfied {
  /** Index of the kept package that needs it. */
  neededBy: number;
  requirement: Requirement;
}

export interface FilterPlan {
  /** Per input package: why it is kept, or undefined when it is dropped. */
  kept: (KeptReason | undefined)[];
  keptCount: number;
  /** Packages added by the dependency closure (a subset of keptCount). */
  addedByDependencies: number;
  unsatisfied: Unsatisfied[];
}
