// The publish gate's RPM check: repomd.xml and its signature, every data file it lists, every package primary lists.
import { compressionFromPath } from "../compress/decompress.js";
import { errorMessage } from "../errors.js";
import { safeLocation } from "../mirror/location.js";
import { checkListedFile, ListedPackages, readTreeFile, type TreeProblems, type TreeUnderCheck } from "../mirror/tree-check.js";
import { verifyDetached } from "../openpgp/signature.js";
import { parsePrimaryInWorker } from "./primary-thread.js";
import { closeDependencies, RPM_RULES } from "../filter/closure.js";
import { packageLabel } from "../filter/plan.js";
import type { FilterPackage } from "../filter/types.js";
import { addUnsatisfied } from "../mirror/tree-check.js";
import { decompressIterable } from "../compress/decompress.js";
import { filterPackageOf, unresolvedFileRequirements } from "./dependencies.js";
import { dependencyRepositoryPackages } from "./dependency-repositories.js";
import { compareEvr } from "./evr.js";
import { filesProviding } from "./filelists.js";
import { parseRepomd, type Repomd } from "./repomd.js";

const REPOMD = "repodata/repomd.xml";
const REPOMD_SIGNATURE = "repodata/repomd.xml.asc";
const MAX_REPOMD_BYTES = 16 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 1024 * 1024;
const MAX_PRIMARY_BYTES = 4 * 1024 * 1024 * 1024;
const MAX_PACKAGES = 1_000_000;

async function checkSignature(tree: TreeUnderCheck, problems: TreeProblems, repomd: Buffer): Promise<void> {
  const signature = await readTreeFile(tree, REPOMD_SIGNATURE, MAX_SIGNATURE_BYTES);
  if (!signature) {
    if (tree.requireSignature) problems.add(`${REPOMD_SIGNATURE} is missing: the tree must be signed with the mirror's key`);
    return;
  }
  if (!tree.keyring) return;
  try {
    await verifyDetached(repomd, signature, tree.keyring, REPOMD_SIGNATURE);
  } catch (err) {
    problems.add(errorMessage(err));
  }
}

export async function checkRpmTree(tree: TreeUnderCheck, problems: TreeProblems): Promise<void> {
  const repomdBytes = await readTreeFile(tree, REPOMD, MAX_REPOMD_BYTES);
  if (!repomdBytes) {
    problems.add(`the tree has no ${REPOMD}`);
    return;
  }
  let repomd: Repomd;
  try {
    repomd = parseRepomd(repomdBytes);
  } catch (err) {
    problems.add(`${REPOMD}: ${errorMessage(err)}`);
    return;
  }
  await checkSignature(tree, problems, repomdBytes);
  const locations = new Map<string, string>();
  for (const d of repomd.data) {
    const path = safeLocation(d.location, d.locationBase, { repoUrl: tree.upstreamUrl });
    locations.set(d.type, path);
    await checkListedFile(tree, problems, REPOMD, path, { algo: d.checksum.algo, value: d.checksum.value, size: d.size });
  }
  const primaryData = repomd.data.find((d) => d.type === "primary");
  const primaryPath = locations.get("primary");
  if (!primaryData || !primaryPath) {
    problems.add(`${REPOMD} lists no primary metadata`);
    return;
  }
  const primarySha = tree.entries.get(primaryPath);
  if (!primarySha || !(await tree.blobs.has(primarySha))) return; // reported above
  const listed = new ListedPackages(tree, problems);
  // The sync that committed this tree read this very primary: its verified list, compared with the tree, as a parse would be.
  if (tree.verified && !tree.closure && tree.verified.source === primarySha) {
    for (const p of tree.verified.packages) listed.add({ path: p.location, label: () => p.nevra, sha256: p.sha256 || undefined, size: p.size, inPool: true });
    await listed.flush();
    return;
  }
  const forClosure: { pkg: FilterPackage; pkgid: string }[] = [];
  const packages = parsePrimaryInWorker(tree.blobs.openRead(primarySha, tree.signal), {
    compression: compressionFromPath(primaryPath),
    label: primaryPath,
    maxOutputBytes: MAX_PRIMARY_BYTES,
    maxPackages: MAX_PACKAGES,
    ...(primaryData.openSize !== undefined ? { openSize: primaryData.openSize } : {}),
    repoUrl: tree.upstreamUrl,
    ...(tree.signal ? { signal: tree.signal } : {}),
    ...(tree.closure ? { withDependencies: true } : {}),
  });
  try {
    for await (const p of packages) {
      const nevra = `${p.name}-${p.epoch ? `${p.epoch}:` : ""}${p.version}-${p.release}.${p.arch}`;
      listed.add({
        path: p.location,
        label: nevra,
        ...(p.checksumAlgo === "sha256" ? { sha256: p.checksumValue } : {}),
        ...(p.size !== null ? { size: p.size } : {}),
      });
      if (tree.closure) forClosure.push({ pkg: filterPackageOf(p, p.deps), pkgid: p.checksumValue });
    }
    await listed.flush();
  } catch (err) {
    if (tree.signal?.aborted) throw err;
    problems.add(`${primaryPath}: ${errorMessage(err)}`);
    return;
  }
  if (tree.closure) await checkClosure(tree, problems, forClosure, locations.get("filelists"));
}

/** publish.gate: closure — the tree's packages (and filter.dependency_repositories) satisfy every dependency of every package. */
async function checkClosure(
  tree: TreeUnderCheck,
  problems: TreeProblems,
  listed: { pkg: FilterPackage; pkgid: string }[],
  filelistsPath: string | undefined,
): Promise<void> {
  const packages = listed.map((l) => l.pkg);
  const wanted = unresolvedFileRequirements(packages.map((p) => ({ provides: p.provides ?? [], requires: p.requires ?? [], files: p.files ?? [] })));
  const filelistsSha = filelistsPath ? tree.entries.get(filelistsPath) : undefined;
  if (wanted.size > 0 && filelistsPath && filelistsSha) {
    const label = `${filelistsPath} of the tree`;
    const files = await filesProviding(
      decompressIterable(tree.blobs.openRead(filelistsSha, tree.signal), compressionFromPath(filelistsPath), { maxOutputBytes: MAX_PRIMARY_BYTES, label }),
      wanted,
      label,
    );
    listed.forEach((l) => {
      const more = files.get(l.pkgid);
      if (more) l.pkg.files = [...(l.pkg.files ?? []), ...more];
    });
  }
  const satisfiers = await dependencyRepositoryPackages(tree.closure!, wanted);
  const plan = closeDependencies(
    packages,
    { kept: packages.map(() => "selected"), keptCount: packages.length, addedByDependencies: 0, unsatisfied: [] },
    {
      compareVersions: compareEvr,
      rules: RPM_RULES,
      satisfiers,
    },
  );
  addUnsatisfied(problems, packages, plan.unsatisfied, packageLabel);
}
