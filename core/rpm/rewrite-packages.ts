// primary.xml, filelists.xml and other.xml of a curated mirror: upstream's document with only the kept packages.
import { rewriteXml, type RewriteLimits } from "./rewrite-xml.js";
import { attributesOf, decodeEntities, XmlRewriteError } from "./xml-tokens.js";

export type PackageListType = "primary" | "filelists" | "other";

/** Root element of each document; primary names a package by its <checksum>, the others by pkgid="". */
const ROOTS: Record<PackageListType, string> = { primary: "metadata", filelists: "filelists", other: "otherdata" };

export interface PackageRewriteOptions extends Partial<RewriteLimits> {
  type: PackageListType;
  label: string;
  /** Checksum values (lower-case hex) of the kept packages. */
  kept: ReadonlySet<string>;
}

/**
 * The document with each kept <package> once (its first occurrence, byte for byte) and packages="<kept count>".
 * Every kept package must be listed: a document that lacks one is inconsistent with primary and refused.
 */
export async function* rewritePackageList(input: AsyncIterable<Uint8Array | string>, opts: PackageRewriteOptions): AsyncGenerator<string> {
  const { type, label, kept, ...limits } = opts;
  // The kept pkgids not written yet. A pkgid read from the document is a slice of the decompressed chunk it came
  // from and keeps that whole chunk alive: storing them (a "written" set) held the entire document in memory (85 MB
  // for a 100,000-package primary). Deleting from a copy of `kept` stores none of them.
  const unwritten = new Set(kept);
  yield* rewriteXml(input, {
    ...limits,
    label,
    root: ROOTS[type],
    child: "package",
    ...(type === "primary" ? { childText: "checksum" } : {}),
    rootAttribute: () => ["packages", String(kept.size)],
    onChild: (el) => {
      const id = type === "primary" ? el.childText : attributesOf(el.startTag).get("pkgid");
      const pkgid = id === undefined ? "" : decodeEntities(id).trim().toLowerCase();
      if (pkgid === "") throw new XmlRewriteError(`${label}: a <package> without ${type === "primary" ? "a <checksum>" : "a pkgid"}; refusing the document`);
      // Not kept, or kept and already written (the first occurrence wins).
      if (!unwritten.delete(pkgid)) return undefined;
      return el.raw;
    },
  });
  if (unwritten.size > 0) {
    const missing = [...unwritten];
    throw new XmlRewriteError(
      `${label}: ${missing.length} kept package(s) are not listed (pkgid ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", ..." : ""}): upstream's ${type} does not match its primary; refusing the inconsistent metadata`,
    );
  }
}
