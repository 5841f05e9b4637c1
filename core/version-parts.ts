// A package version as the catalog stores it, shared by both formats' version orders and the filter.

/** An RPM EVR, or a Debian version split at its last '-' (epoch, upstream version, revision). */
export interface VersionParts {
  epoch: number;
  version: string;
  release: string;
}
