// The publish gate's APT check: the suite's signature, every index the Release lists that we publish, every package listed.
import type { AptSourceConfig } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import { checkListedFile, ListedPackages, readTreeFile, type TreeProblems, type TreeUnderCheck } from "../mirror/tree-check.js";
import { splitClearsigned, verifyClearsigned, verifyDetached } from "../openpgp/signature.js";
import { compressionOf, planIndexTargets, type IndexTarget } from "./indices.js";
import { MAX_INDEX_BYTES, readPackagesStanzas, parseSourcesIndex } from "./packages.js";
import { closeDependencies, DPKG_RULES } from "../filter/closure.js";
import type { FilterPackage } from "../filter/types.js";
import { addUnsatisfied } from "../mirror/tree-check.js";
import { parseProvides, requirementsOf } from "./depends.js";
import { dependencyRepositoryPackages } from "./dependency-repositories.js";
import { compareDebianParts } from "./version.js";
import { MAX_RELEASE_BYTES, parseRelease, type Release } from "./release.js";

const MAX_SIGNATURE_BYTES = 1024 * 1024;
const BY_HASH = /\/by-hash\/(SHA256|SHA512)\/([0-9a-f]+)$/;

/** The suite's Release text as a client reads it: InRelease's signed payload, else Release (with Release.gpg). */
async function signedReleaseText(tree: TreeUnderCheck, problems: TreeProblems, dist: string): Promise<string | undefined> {
  const inRelease = await readTreeFile(tree, `${dist}/InRelease`, MAX_RELEASE_BYTES);
  const release = await readTreeFile(tree, `${dist}/Release`, MAX_RELEASE_BYTES);
  const releaseGpg = await readTreeFile(tree, `${dist}/Release.gpg`, MAX_SIGNATURE_BYTES);
  if (!inRelease && !release) {
    problems.add(`the tree has neither ${dist}/InRelease nor ${dist}/Release`);
    return undefined;
  }
  if (tree.requireSignature && !inRelease && !releaseGpg)
    problems.add(`${dist} is not signed (no InRelease, no Release.gpg): the tree must be signed with the mirror's key`);
  let text: string | undefined;
  try {
    if (inRelease) {
      const label = `${dist}/InRelease`;
      text = tree.keyring ? await verifyClearsigned(inRelease, tree.keyring, label) : splitClearsigned(inRelease.toString("utf8"), label).payload;
    }
  } catch (err) {
    problems.add(errorMessage(err));
  }
  if (release && releaseGpg && tree.keyring) {
    try {
      await verifyDetached(release, releaseGpg, tree.keyring, `${dist}/Release`);
    } catch (err) {
      problems.add(errorMessage(err));
    }
  }
  return text ?? release?.toString("utf8");
}

/** The variant of an index the tree publishes and a client would parse (the first listed form the tree has). */
function publishedVariant(tree: TreeUnderCheck, dist: string, t: IndexTarget) {
  return t.variants.find((v) => tree.entries.has(`${dist}/${v.path}`) && !/\.(lzma|lz4)$/.test(v.path));
}

async function checkIndexPackages(
  tree: TreeUnderCheck,
  problems: TreeProblems,
  dist: string,
  t: IndexTarget,
  listed: ListedPackages,
  forClosure: FilterPackage[],
): Promise<void> {
  const variant = publishedVariant(tree, dist, t);
  if (!variant) {
    if (t.parse) problems.add(`the tree has no ${dist}/${t.base} (in any compression) that the Release lists`);
    return;
  }
  const path = `${dist}/${variant.path}`;
  const source = tree.blobs.openRead(tree.entries.get(path)!, tree.signal);
  const opts = { compression: compressionOf(variant.path), maxOutputBytes: MAX_INDEX_BYTES, label: path, ...(tree.signal ? { signal: tree.signal } : {}) };
  try {
    if (t.kind === "packages") {
      const extraFields = tree.closure ? ["provides", "depends", "pre-depends"] : [];
      for await (const { pkg: p, stanza } of readPackagesStanzas(source, { ...opts, extraFields })) {
        const label = `${p.name}_${p.fullVersion}_${p.arch}`;
        listed.add({ path: p.filename, sha256: p.sha256, size: p.size, label });
        if (!tree.closure) continue;
        const provides = stanza.fields.get("provides");
        const depends = stanza.fields.get("depends");
        const preDepends = stanza.fields.get("pre-depends");
        forClosure.push({
          name: p.name,
          arch: p.arch,
          version: { epoch: p.epoch, version: p.version, release: p.release },
          source: false,
          provides: provides ? parseProvides(provides, `${path}: ${label}`) : [],
          requires: requirementsOf({ ...(depends ? { depends } : {}), ...(preDepends ? { preDepends } : {}) }, `${path}: ${label}`),
        });
      }
    } else if (t.kind === "sources") {
      for await (const s of parseSourcesIndex(source, opts))
        for (const f of s.files) listed.add({ path: f.filename, sha256: f.sha256, size: f.size, label: `source ${s.name}_${s.fullVersion}` });
    }
  } catch (err) {
    if (tree.signal?.aborted) throw err;
    problems.add(`${path}: ${errorMessage(err)}`);
  } finally {
    source.destroy();
  }
}

export async function checkAptTree(tree: TreeUnderCheck, problems: TreeProblems, source: AptSourceConfig): Promise<void> {
  const dist = `dists/${source.distribution}`;
  const text = await signedReleaseText(tree, problems, dist);
  if (text === undefined) return;
  let release: Release;
  try {
    release = parseRelease(text, `${dist}/Release`);
  } catch (err) {
    problems.add(errorMessage(err));
    return;
  }
  let targets: IndexTarget[];
  try {
    targets = planIndexTargets(
      release,
      { components: source.components, architectures: source.architectures, includeSources: source.include_sources },
      `${dist}/Release`,
    );
  } catch (err) {
    problems.add(errorMessage(err));
    return;
  }
  // Every index file of the tree that the Release lists must match it (a client rejects a mismatch as a "Hash Sum mismatch").
  for (const [path, f] of release.files) {
    if (!tree.entries.has(`${dist}/${path}`)) continue;
    await checkListedFile(tree, problems, `${dist}/Release`, `${dist}/${path}`, { algo: "sha256", value: f.sha256, size: f.size });
  }
  for (const path of tree.entries.keys()) {
    if (!path.startsWith(`${dist}/`)) continue;
    const m = BY_HASH.exec(path);
    if (m) await checkListedFile(tree, problems, "its by-hash name", path, { algo: m[1] === "SHA256" ? "sha256" : "sha512", value: m[2]! });
  }
  const listed = new ListedPackages(tree, problems);
  const forClosure: FilterPackage[] = [];
  for (const t of targets) await checkIndexPackages(tree, problems, dist, t, listed, forClosure);
  await listed.flush();
  if (tree.closure) {
    const satisfiers = await dependencyRepositoryPackages(tree.closure);
    const all = { kept: forClosure.map(() => "selected" as const), keptCount: forClosure.length, addedByDependencies: 0, unsatisfied: [] };
    const plan = closeDependencies(forClosure, all, { compareVersions: compareDebianParts, rules: DPKG_RULES, satisfiers });
    addUnsatisfied(
      problems,
      forClosure,
      plan.unsatisfied,
      (p) => `${p.name} ${p.version.epoch ? `${p.version.epoch}:` : ""}${p.version.version}${p.version.release ? `-${p.version.release}` : ""} (${p.arch})`,
    );
  }
}
