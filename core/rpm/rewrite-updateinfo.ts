// updateinfo.xml of a curated mirror: each advisory's pkglist keeps only the kept packages; an advisory left with
// none is dropped. The rest of every advisory is copied as upstream wrote it.
import { rewriteXml } from "./rewrite-xml.js";
import { attributesOf, decodeEntities, XmlTokenizer, type XmlToken } from "./xml-tokens.js";

export interface KeptFiles {
  /** name-epoch:version-release.arch (epoch always written) of each kept package. */
  nevras: ReadonlySet<string>;
  /** The file names (last path component of the location) of the kept packages. */
  filenames: ReadonlySet<string>;
}

export function nevraKey(p: { name: string; epoch: number | string; version: string; release: string; arch: string }): string {
  return `${p.name}-${p.epoch || 0}:${p.version}-${p.release}.${p.arch}`;
}

function packageKept(start: string, filename: string | undefined, kept: KeptFiles): boolean {
  const a = attributesOf(start);
  const get = (k: string) => decodeEntities(a.get(k) ?? "");
  if (filename !== undefined) {
    const base = decodeEntities(filename).trim().split("/").pop() ?? "";
    if (base !== "" && kept.filenames.has(base)) return true;
  }
  return kept.nevras.has(nevraKey({ name: get("name"), epoch: get("epoch") || "0", version: get("version"), release: get("release"), arch: get("arch") }));
}

/** One <update> without its dropped <package> entries, or undefined when none is left. */
export function filterAdvisory(raw: string, kept: KeptFiles, label: string): string | undefined {
  const tokenizer = new XmlTokenizer(label);
  const tokens: XmlToken[] = [...tokenizer.feed(raw), ...tokenizer.end()];
  const out: string[] = [];
  let keptPackages = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.name !== "package" || (t.kind !== "start" && t.kind !== "empty")) {
      out.push(t.raw);
      continue;
    }
    // The package element: to its end tag, with its <filename>.
    let j = i;
    let filename: string | undefined;
    if (t.kind === "start") {
      let depth = 1;
      let inFilename = false;
      while (depth > 0 && ++j < tokens.length) {
        const u = tokens[j]!;
        if (u.kind === "start") {
          depth++;
          if (u.name === "filename" && depth === 2) {
            inFilename = true;
            filename = "";
          }
        } else if (u.kind === "end") {
          depth--;
          inFilename = false;
        } else if (inFilename && (u.kind === "text" || u.kind === "cdata")) filename += u.kind === "cdata" ? u.raw.slice(9, -3) : u.raw;
      }
    }
    if (packageKept(t.raw, filename, kept)) {
      keptPackages++;
      for (let k = i; k <= j; k++) out.push(tokens[k]!.raw);
    } else if (out.length > 0 && /^\s*$/.test(out[out.length - 1]!)) {
      // Its indentation goes with it.
      out.pop();
    }
    i = j;
  }
  return keptPackages > 0 ? out.join("") : undefined;
}

export async function* rewriteUpdateinfo(input: AsyncIterable<Uint8Array | string>, kept: KeptFiles, label: string): AsyncGenerator<string> {
  yield* rewriteXml(input, { label, root: "updates", child: "update", onChild: (el) => filterAdvisory(el.raw, kept, label) });
}
