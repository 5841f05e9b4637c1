// The RPM publish gate with the sync's verified package list: compared with the tree as a parse would be, without
// parsing or asking the pool again; a list of another primary is ignored (the gate parses).
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRpmTree } from "../../../core/rpm/tree-check.js";
import { TreeProblems, type TreeUnderCheck } from "../../../core/mirror/tree-check.js";
import type { VerifiedListing } from "../../../core/mirror/types.js";
import { FilesystemBlobStore } from "../../../core/storage/pool.js";
import { putBuffer } from "../../../core/storage/put-buffer.js";
import { generateRpmRepo } from "../../fixtures/rpm-repo-generator.js";

let dir: string;
let blobs: FilesystemBlobStore;
const entries = new Map<string, string>();
const sizes = new Map<string, number>();
let verified: VerifiedListing;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chantal-gate-verified-"));
  await generateRpmRepo(join(dir, "upstream"), 5, 100);
  blobs = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
  for (const e of readdirSync(join(dir, "upstream"), { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = relative(join(dir, "upstream"), join(e.parentPath, e.name));
    const { sha256, size } = await putBuffer(blobs, readFileSync(join(e.parentPath, e.name)));
    entries.set(path, sha256);
    sizes.set(sha256, size);
  }
  const primarySha = entries.get("repodata/primary.xml.gz")!;
  const packages = [...entries]
    .filter(([p]) => p.endsWith(".rpm"))
    .map(([location, sha256]) => ({ location, sha256, size: sizes.get(sha256)!, nevra: location }));
  verified = { source: primarySha, packages };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function view(over: Partial<TreeUnderCheck> = {}): TreeUnderCheck {
  return {
    repoId: "r1",
    name: "latest",
    upstreamUrl: "http://127.0.0.1:1/repo/",
    entries,
    blobs,
    sizes,
    requireSignature: false,
    ...over,
  };
}

async function problemsOf(v: TreeUnderCheck): Promise<string[]> {
  const problems = new TreeProblems();
  await checkRpmTree(v, problems);
  return problems.list;
}

describe("checkRpmTree with the sync's verified list", () => {
  it("passes a tree that matches, and reports one that does not, as a parse would", async () => {
    expect(await problemsOf(view({ verified }))).toEqual([]);
    const [first, second] = verified.packages;
    // The tree lacks one package and holds another blob at the second's path.
    const wrong = new Map(entries);
    wrong.delete(first!.location);
    wrong.set(second!.location, entries.get("repodata/repomd.xml")!);
    const problems = await problemsOf(view({ entries: wrong, verified }));
    expect(problems).toEqual([
      expect.stringContaining(`the metadata lists ${first!.location}, which the tree lacks`),
      expect.stringContaining(`${second!.location} is blob ${entries.get("repodata/repomd.xml")}, the metadata says sha256 ${second!.sha256}`),
      expect.stringMatching(/is \d+ bytes, the metadata says 100/),
    ]);
    // Each names its package (the label is built only for a package with a problem).
    expect(problems[0]!.startsWith(`${first!.nevra}: `)).toBe(true);
    expect(problems[1]!.startsWith(`${second!.nevra}: `)).toBe(true);
  });

  it("does not ask the pool for blobs the sync verified; without the list (or with another primary's) the gate parses and asks", async () => {
    const lost = verified.packages[2]!;
    unlinkSync(blobs.pathOf(lost.sha256!));
    expect(await problemsOf(view({ verified }))).toEqual([]);
    expect(await problemsOf(view())).toEqual([expect.stringContaining(`${lost.location} is not in the pool`)]);
    expect(await problemsOf(view({ verified: { ...verified, source: "0".repeat(64) } }))).toEqual([
      expect.stringContaining(`${lost.location} is not in the pool`),
    ]);
  });
});
