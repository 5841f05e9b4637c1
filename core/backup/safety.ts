// Which archive members may be read at all: checked before anything from the archive is written anywhere.

/** tar entry types that carry a regular file's bytes. */
const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

/**
 * Why a member must be refused, or null when it is safe: absolute paths, `..`, links, devices, FIFOs and
 * anything but plain files and directories are refused, so extraction can never leave its directory.
 */
export function memberProblem(path: string, type: string): string | null {
  if (path === "" || path.includes("\0")) return "has an empty or NUL-containing path";
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path) || path.startsWith("\\")) return "has an absolute path";
  const segments = path.split(/[/\\]+/);
  if (segments.includes("..")) return "has a '..' path segment";
  if (type === "SymbolicLink" || type === "Link") return "is a link";
  if (type === "CharacterDevice" || type === "BlockDevice") return "is a device";
  if (type === "FIFO") return "is a FIFO";
  if (type === "Directory") return null;
  if (!FILE_TYPES.has(type)) return `has the unsupported type ${type}`;
  return null;
}

/** Member names are compared without a leading ./ and trailing slashes. */
export function normalizeMemberPath(path: string): string {
  return path.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
}

export function isFileType(type: string): boolean {
  return FILE_TYPES.has(type);
}
