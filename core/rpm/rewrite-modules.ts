// modules.yaml of a curated mirror. dnf hides a package named in any module stream's artifacts unless that stream
// is enabled (modular filtering): a kept modular package must keep its stream, or it would leak as an ordinary one.
// So a stream document stays (verbatim) when any of its binary artifacts is kept, and goes when none is; defaults,
// obsoletes and translations stay for the modules that keep a stream.
import { parse } from "yaml";
import { ChantalError } from "../errors.js";
import { LimitExceededError } from "../compress/decompress.js";

export class ModulesError extends ChantalError {}

export interface ModulesResult {
  text: string;
  keptStreams: number;
  droppedStreams: number;
  /** name:stream:version:context of kept streams some of whose artifacts were dropped (profile installs may fail). */
  partial: string[];
}

/** One YAML document of the stream, from its `---` line to its `...` line (libmodulemd writes both). */
function splitDocuments(text: string): string[] {
  const docs: string[] = [];
  let current: string[] = [];
  const flush = () => {
    if (current.some((l) => l.trim() !== "" && !l.startsWith("#") && !/^(---|\.\.\.)(\s|$)/.test(l))) docs.push(current.join("\n"));
    current = [];
  };
  for (const line of text.split("\n")) {
    if (/^---(\s|$)/.test(line)) {
      flush();
      current.push(line);
    } else if (/^\.\.\.(\s|$)/.test(line)) {
      current.push(line);
      flush();
    } else current.push(line);
  }
  flush();
  return docs;
}

interface ModuleDoc {
  document?: unknown;
  data?: { name?: unknown; stream?: unknown; version?: unknown; context?: unknown; module?: unknown; artifacts?: { rpms?: unknown } };
}

const BINARY_ARCH = /\.(src|nosrc)$/;

export const MAX_MODULE_DOCUMENTS = 100_000;

/** `keptNevras`: name-epoch:version-release.arch of every kept package. */
export function rewriteModules(text: string, keptNevras: ReadonlySet<string>, label: string): ModulesResult {
  const docs = splitDocuments(text);
  if (docs.length > MAX_MODULE_DOCUMENTS) {
    throw new LimitExceededError(`${label}: more than ${MAX_MODULE_DOCUMENTS} documents; refusing it`, {
      limit: "maxModuleDocuments",
      max: MAX_MODULE_DOCUMENTS,
    });
  }
  const parsed = docs.map((d, i) => {
    try {
      // Aliases are few in modulemd; a limit stops a document built to expand without end.
      return parse(d, { maxAliasCount: 100, uniqueKeys: true }) as ModuleDoc | null;
    } catch (err) {
      throw new ModulesError(`${label}: document ${i + 1} is not valid YAML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  });
  const keptModules = new Set<string>();
  const keepDoc: boolean[] = parsed.map(() => false);
  const partial: string[] = [];
  let droppedStreams = 0;
  let keptStreams = 0;
  parsed.forEach((doc, i) => {
    if (doc?.document !== "modulemd") return;
    const rpms = Array.isArray(doc.data?.artifacts?.rpms) ? (doc.data.artifacts.rpms as unknown[]).filter((r): r is string => typeof r === "string") : [];
    const binaries = rpms.filter((r) => !BINARY_ARCH.test(r));
    const keptCount = binaries.filter((r) => keptNevras.has(r)).length;
    if (keptCount === 0) {
      droppedStreams++;
      return;
    }
    keepDoc[i] = true;
    keptStreams++;
    keptModules.add(String(doc.data?.name));
    if (keptCount < binaries.length) partial.push([doc.data?.name, doc.data?.stream, doc.data?.version, doc.data?.context].map(String).join(":"));
  });
  parsed.forEach((doc, i) => {
    const kind = doc?.document;
    if (kind === "modulemd-defaults" || kind === "modulemd-obsoletes" || kind === "modulemd-translations") {
      keepDoc[i] = keptModules.has(String(doc?.data?.module));
    }
  });
  const kept = docs.filter((_d, i) => keepDoc[i]).map((d) => (d.endsWith("\n") ? d : `${d}\n`));
  return { text: kept.join(""), keptStreams, droppedStreams, partial };
}
