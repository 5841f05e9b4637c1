// Tests of core/environments/s3-plan.ts: what an S3 environment switch copies in which phase, keeps and deletes.
import { describe, expect, it } from "vitest";
import {
  droppedMembers,
  emptyDoc,
  environmentDocKey,
  environmentTreePrefix,
  finalDoc,
  heldContent,
  interimDoc,
  needsSwitch,
  parseDoc,
  planMember,
  serializeDoc,
  type EnvironmentDoc,
} from "../../../core/environments/s3-plan.js";

const sha = (c: string) => c.repeat(64);
const entries = (files: Record<string, string>) => Object.entries(files).map(([path, c]) => ({ path, sha256: sha(c) }));
const state = (snapshot: string, files: Record<string, string>) => ({ snapshot, files: new Map(Object.entries(files).map(([p, c]) => [p, sha(c)])) });

/** State A of repo r: two packages and its index; B: one package kept, one new, the index rewritten. */
const A = { "Packages/a.rpm": "a", "Packages/b.rpm": "b", "repodata/1-primary.xml.gz": "1", "repodata/repomd.xml": "m" };
const B = { "Packages/a.rpm": "a", "Packages/c.rpm": "c", "repodata/2-primary.xml.gz": "2", "repodata/repomd.xml": "n" };

function docWith(current: Record<string, ReturnType<typeof state>>, previous: Record<string, ReturnType<typeof state>> = {}): EnvironmentDoc {
  return { current: new Map(Object.entries(current)), previous: new Map(Object.entries(previous)), unknown: new Map() };
}

describe("keys", () => {
  it.each([
    ["", "prod", "r", "published/prod/r/", "environments/prod.json"],
    ["mirror/x", "test", "rhel9", "mirror/x/published/test/rhel9/", "mirror/x/environments/test.json"],
  ])("prefix %j, %s/%s", (prefix, env, repo, tree, doc) => {
    expect(environmentTreePrefix(prefix, env, repo)).toBe(tree);
    expect(environmentDocKey(prefix, env)).toBe(doc);
  });
});

describe("planMember", () => {
  it("a first switch copies everything: data in phase 1, the index in phase 2, deletes nothing", () => {
    const p = planMember("r", { snapshot: "A", entries: entries(A) }, new Set(), emptyDoc());
    expect(p.data.map((f) => f.path)).toEqual(["Packages/a.rpm", "Packages/b.rpm", "repodata/1-primary.xml.gz"]);
    expect(p.replaced).toEqual([]);
    expect(p.indexes.map((f) => f.path)).toEqual(["repodata/repomd.xml"]);
    expect(p.stale).toEqual([]);
  });

  it("A -> B: unchanged keys are not copied; the previous state's keys stay; only keys of neither state go", () => {
    // The bucket holds A and, from the state before A, an old package z.
    const present = new Set([...Object.keys(A), "Packages/z.rpm"]);
    const doc = docWith({ r: state("A", A) }, { r: state("Z", { "Packages/z.rpm": "z", "repodata/repomd.xml": "o" }) });
    const p = planMember("r", { snapshot: "B", entries: entries(B) }, present, doc);
    expect(p.unchanged).toBe(1);
    expect(p.data.map((f) => f.path)).toEqual(["Packages/c.rpm", "repodata/2-primary.xml.gz"]);
    expect(p.indexes.map((f) => f.path)).toEqual(["repodata/repomd.xml"]);
    // b.rpm and 1-primary are A's: kept for clients mid-download until the next switch.
    expect(p.stale).toEqual(["Packages/z.rpm"]);
  });

  it("rollback B -> A copies A's rewritten index and nothing A still has; it deletes nothing of B", () => {
    const present = new Set([...Object.keys(A), ...Object.keys(B)]);
    const doc = docWith({ r: state("B", B) }, { r: state("A", A) });
    const p = planMember("r", { snapshot: "A", entries: entries(A) }, present, doc);
    expect(p.data).toEqual([]);
    expect(p.indexes.map((f) => f.path)).toEqual(["repodata/repomd.xml"]);
    expect(p.unchanged).toBe(3);
    expect(p.stale).toEqual([]);
  });

  it("a data file rewritten at its path is phase 2 (replaced); a key of unknown content is copied again", () => {
    const present = new Set(["dists/s/main/binary-amd64/Packages.xz", "dists/s/InRelease", "dists/s/Release", "pool/x.deb"]);
    const doc = docWith({
      r: state("A", { "dists/s/main/binary-amd64/Packages.xz": "p", "dists/s/InRelease": "i", "dists/s/Release": "r", "pool/x.deb": "x" }),
    });
    doc.unknown.set("r", new Set(["pool/x.deb"]));
    const p = planMember(
      "r",
      {
        snapshot: "B",
        entries: entries({ "dists/s/main/binary-amd64/Packages.xz": "q", "dists/s/InRelease": "j", "dists/s/Release": "s", "pool/x.deb": "x" }),
      },
      present,
      doc,
    );
    expect(p.replaced.map((f) => f.path)).toEqual(["dists/s/main/binary-amd64/Packages.xz", "pool/x.deb"]);
    // Release before InRelease (apt asks for InRelease first: it goes last).
    expect(p.indexes.map((f) => f.path)).toEqual(["dists/s/Release", "dists/s/InRelease"]);
  });

  it("a member that leaves loses its index keys at once (the top-level index first) and keeps its data one switch", () => {
    const present = new Set([...Object.keys(A), "repodata/repomd.xml.asc", "Packages/old.rpm"]);
    const p = planMember("r", null, present, docWith({ r: state("A", { ...A, "repodata/repomd.xml.asc": "s" }) }));
    expect(p.target).toBeNull();
    expect(p.indexDeletes).toEqual(["repodata/repomd.xml", "repodata/repomd.xml.asc"]);
    expect(p.stale).toEqual(["Packages/old.rpm"]);
  });
});

it("a repair to the state the member serves (a key lost) keeps the previous state, in the plan and in the document", () => {
  const present = new Set([...Object.keys(A), "Packages/c.rpm", "repodata/2-primary.xml.gz"]);
  const doc = docWith({ r: state("B", B) }, { r: state("A", A) });
  const p = planMember("r", { snapshot: "B", entries: entries(B) }, present, doc);
  expect(p.repair).toBe(true);
  expect(p.indexes).toEqual([]);
  expect(p.data).toEqual([]);
  expect(p.stale).toEqual([]);
  expect(p.replaced).toEqual([]);
  // Only the missing key is copied: the document vouches for the others.
  const lost = new Set([...present].filter((k) => k !== "Packages/c.rpm"));
  const q = planMember("r", { snapshot: "B", entries: entries(B) }, lost, doc);
  expect(q.data.map((f) => f.path)).toEqual(["Packages/c.rpm"]);
  const fin = finalDoc(doc, [q], []);
  expect(fin.previous.get("r")!.snapshot).toBe("A");
  expect(fin.current.get("r")!.snapshot).toBe("B");
});

describe("the state document", () => {
  it("round-trips, and an unreadable or foreign one reads as empty", () => {
    const doc = docWith({ r: state("B", B) }, { r: state("A", A) });
    doc.unknown.set("r", new Set(["Packages/c.rpm"]));
    const back = parseDoc(serializeDoc(doc));
    expect(back).toEqual(doc);
    for (const bad of ["{", "[]", '{"format":2}', "null"]) expect(parseDoc(Buffer.from(bad))).toEqual(emptyDoc());
    expect(parseDoc(undefined)).toEqual(emptyDoc());
  });

  it("heldContent: current before previous; unknown paths are not trusted", () => {
    const doc = docWith({ r: state("B", B) }, { r: state("A", A) });
    expect(heldContent(doc, "r", "repodata/repomd.xml")).toBe(sha("n"));
    expect(heldContent(doc, "r", "Packages/b.rpm")).toBe(sha("b"));
    doc.unknown.set("r", new Set(["Packages/b.rpm"]));
    expect(heldContent(doc, "r", "Packages/b.rpm")).toBeUndefined();
  });

  it("interim marks every path being written unknown; final moves current to previous, forgets dropped members", () => {
    const doc = docWith({ r: state("A", A), gone: state("G", { f: "g" }) }, { old: state("O", { f: "o" }) });
    const p = planMember("r", { snapshot: "B", entries: entries(B) }, new Set(Object.keys(A)), doc);
    const leave = planMember("gone", null, new Set(["f"]), doc);
    const interim = interimDoc(doc, [p, leave]);
    expect([...interim.unknown.get("r")!].sort()).toEqual(["Packages/c.rpm", "repodata/2-primary.xml.gz", "repodata/repomd.xml"]);
    expect(needsSwitch(interim, "r", "A")).toBe(true);
    const dropped = droppedMembers(doc, new Set(["r"]));
    expect(dropped).toEqual(["old"]);
    const fin = finalDoc(interim, [p, leave], dropped);
    expect(fin.current.get("r")!.snapshot).toBe("B");
    expect(fin.previous.get("r")!.snapshot).toBe("A");
    expect(fin.current.has("gone")).toBe(false);
    expect(fin.previous.get("gone")!.snapshot).toBe("G");
    expect(fin.previous.has("old")).toBe(false);
    expect(fin.unknown.size).toBe(0);
    expect(needsSwitch(fin, "r", "B")).toBe(false);
    // The member that left goes at the switch after.
    expect(droppedMembers(fin, new Set(["r"]))).toEqual(["gone"]);
  });
});
